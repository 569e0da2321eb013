"""Cue lexicon matching: folded text, word boundaries, prefixes, phrases; prototype cosines."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from models.cues import cue_features, cue_pattern
from models.prototypes import prototype_features, topic_prototypes
from models.taxonomy import DEFAULT_TAXONOMY, load_taxonomy


def _count(text: str, *cues: str) -> int:
    return round(float(np.expm1(cue_features([text], [cues])[0, 0])))


def test_matching_folds_case_and_accents_and_respects_word_boundaries() -> None:
    assert _count("Déremboursé par la SÉCU", "derembours*", "secu") == 2
    assert _count("remboursement", "derembours*") == 0  # a prefix still starts at a word start
    assert _count("the FDA's letter", "fda") == 1
    assert _count("fdaxyz", "fda") == 0  # no trailing '*': the word must end there
    assert _count("hasn't", "la has") == 0


def test_phrases_span_whitespace_and_starred_words_inside_phrases() -> None:
    assert _count("des effets\n secondaires lourds", "effet* secondaire*") == 1
    # typographic apostrophe is matched by a plain one
    assert _count("FAUX : l\u2019ANSM n\u2019a pas retiré le lot", "n'a pas retire*") == 1
    # the longest cue wins, so one phrase is one match, not two
    assert _count("rappel de lot aujourd'hui", "rappel*", "rappel de lot") == 1


def test_counts_are_log_damped_one_column_per_topic() -> None:
    x = cue_features(["fda fda", "nothing here", ""], [("fda",), ("nothing",)])
    np.testing.assert_allclose(x, [[np.log1p(2), 0], [0, np.log1p(1)], [0, 0]])


def test_bad_cue_is_refused() -> None:
    with pytest.raises(ValueError, match="only at its end"):
        cue_pattern(("ra*sh",))
    with pytest.raises(ValueError, match="must not be empty"):
        cue_pattern(())


def test_bundled_lexicon_fires_on_the_taxonomy_examples_of_its_own_topic() -> None:
    tax = load_taxonomy(DEFAULT_TAXONOMY)
    lexicon = tax.cue_lexicon
    for topic in tax.topics:
        if topic.id == tax.fallback:
            continue
        x = cue_features(topic.examples, [lexicon[topic.id]])
        assert (x[:, 0] > 0).mean() >= 0.5, topic.id


def test_prototypes_are_unit_mean_directions_and_features_are_cosines() -> None:
    tax = load_taxonomy(DEFAULT_TAXONOMY)
    seen: list[str] = []

    def encode(texts: Sequence[str]) -> np.ndarray:
        seen.extend(texts)  # every topic gets its own direction, scaled: prototypes renormalise
        return np.tile(np.eye(4)[len(seen) % 4], (len(texts), 1)) * 3.0

    ids, protos = topic_prototypes(encode, tax)
    assert ids == tax.ids and protos.shape == (len(ids), 4)
    np.testing.assert_allclose(np.linalg.norm(protos, axis=1), 1.0)
    assert tax.topics[0].description in seen and tax.topics[0].examples[0] in seen
    emb = np.array([[2.0, 0, 0, 0], [0, 0, 0, 5.0]])
    np.testing.assert_allclose(prototype_features(emb, np.eye(4)[:2]), [[1, 0], [0, 0]])
