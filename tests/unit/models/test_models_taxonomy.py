"""Taxonomy file validation: errors name the file, the line and the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from models.taxonomy import (
    DEFAULT_TAXONOMY,
    TaxonomyError,
    check_labels,
    load_taxonomy,
    parse_taxonomy,
)

GOOD = """\
version: 1
fallback: other
topics:
  - id: pricing
    description: cost of a drug
    examples: ["too expensive"]
  - id: adverse_event
    description: side effects
    threshold_beta: 2.0
    examples: ["I feel sick"]
  - id: other
    description: the rest
    examples: ["hello"]
"""


def _error(text: str, tmp_path: Path) -> str:
    path = tmp_path / "tax.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(TaxonomyError) as info:
        load_taxonomy(path)
    return str(info.value)


def test_bundled_taxonomy_has_the_ten_topics() -> None:
    tax = load_taxonomy(DEFAULT_TAXONOMY)
    assert tax.ids == (
        "pricing",
        "scandal",
        "advocacy",
        "boycott",
        "adverse_event",
        "misinformation",
        "clinical_trial",
        "regulatory",
        "conference",
        "other",
    )
    assert tax.fallback == "other" and "other" not in tax.trained
    # a miss of a side-effect report costs most: recall-leaning beta and a recall floor above
    # the 0.90 held-out target (models/data/README.md, "Adverse-event threshold rule")
    assert tax.betas == {"adverse_event": 1.5}
    assert tax.min_recalls == {"adverse_event": 0.93}
    assert all(t.description and t.examples for t in tax.topics)


def test_good_file_parses() -> None:
    tax = parse_taxonomy(GOOD)
    assert tax.trained == ("pricing", "adverse_event")


def test_missing_field_names_file_line_and_field(tmp_path: Path) -> None:
    msg = _error(GOOD.replace("    description: side effects\n", ""), tmp_path)
    # the topic mapping starting at "- id: adverse_event" is on line 7
    assert msg.startswith(f"{tmp_path / 'tax.yaml'}:7: field 'topics[1].description'")
    assert "Field required" in msg


def test_bad_value_points_at_its_own_line(tmp_path: Path) -> None:
    msg = _error(GOOD.replace("threshold_beta: 2.0", "threshold_beta: -1"), tmp_path)
    assert ":9: field 'topics[1].threshold_beta'" in msg


def test_bad_id_and_empty_examples(tmp_path: Path) -> None:
    text = GOOD.replace("id: pricing", "id: Pricing!").replace('["hello"]', "[]")
    msg = _error(text, tmp_path)
    lines = msg.splitlines()
    assert len(lines) == 2
    assert ":4: field 'topics[0].id'" in lines[0]
    assert ":13: field 'topics[2].examples'" in lines[1]


def test_unknown_key_is_refused(tmp_path: Path) -> None:
    msg = _error(GOOD.replace('    examples: ["too expensive"]', "    exemples: [x]"), tmp_path)
    assert "field 'topics[0].exemples'" in msg and ":6:" in msg


def test_duplicate_topic_and_unknown_fallback(tmp_path: Path) -> None:
    text = GOOD.replace("id: adverse_event", "id: pricing").replace(
        "fallback: other", "fallback: misc"
    )
    msg = _error(text, tmp_path)
    assert ":7: field 'topics[1].id': duplicate topic 'pricing'" in msg
    assert ":2: field 'fallback': 'misc' is not one of the topic ids" in msg


def test_invalid_yaml_and_wrong_shape(tmp_path: Path) -> None:
    assert ":3: not valid YAML" in _error("version: 1\ntopics:\n\t- id: x\n", tmp_path)
    assert "field '(top level)'" in _error("- just\n- a list\n", tmp_path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(TaxonomyError, match="cannot read taxonomy"):
        load_taxonomy(tmp_path / "absent.yaml")


def test_corpus_labels_must_be_known() -> None:
    tax = parse_taxonomy(GOOD)
    check_labels(tax, ["pricing", "other"], "corpus.jsonl")
    with pytest.raises(TaxonomyError, match=r"corpus.jsonl: topics \['pricng'\]"):
        check_labels(tax, ["pricng"], "corpus.jsonl")


def test_recall_floor_out_of_range_names_its_field(tmp_path: Path) -> None:
    text = GOOD.replace("threshold_beta: 2.0", "threshold_beta: 2.0\n    min_recall: 1.5")
    message = _error(text, tmp_path)
    assert "tax.yaml" in message and "min_recall" in message and ":10" in message


CUES = '    cues:\n      en: ["side effect*", "rash"]\n      fr: ["effet* secondaire*"]\n'


def test_cues_are_optional_and_merged_per_topic() -> None:
    assert parse_taxonomy(GOOD).cue_lexicon == {}
    tax = parse_taxonomy(
        GOOD.replace("    threshold_beta: 2.0\n", "    threshold_beta: 2.0\n" + CUES)
    )
    assert tax.cue_lexicon == {"adverse_event": ("side effect*", "rash", "effet* secondaire*")}


def test_bundled_taxonomy_has_cues_for_every_topic() -> None:
    tax = load_taxonomy(DEFAULT_TAXONOMY)
    assert set(tax.cue_lexicon) == set(tax.ids)
    assert all(t.cues and set(t.cues) == {"en", "fr"} for t in tax.topics)


def test_bad_cue_names_file_line_and_field(tmp_path: Path) -> None:
    bad = CUES.replace('"rash"', '"ra*sh"').replace('fr: ["effet* secondaire*"]', "FR: [x]")
    msg = _error(
        GOOD.replace("    threshold_beta: 2.0\n", "    threshold_beta: 2.0\n" + bad), tmp_path
    )
    lines = msg.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith(f"{tmp_path / 'tax.yaml'}:11: field 'topics[1].cues.en[1]'")
    assert "'ra*sh'" in lines[0] and "'*' (prefix) only at its end" in lines[0]
    assert ":12: field 'topics[1].cues.FR" in lines[1]


def test_duplicate_and_empty_cue_lists_are_refused(tmp_path: Path) -> None:
    # "Rash" and "rash" are the same cue once folded; an empty list is a mistake, not "no cues"
    bad = CUES.replace('"rash"', '"rash", "Rash"').replace('["effet* secondaire*"]', "[]")
    msg = _error(
        GOOD.replace("    threshold_beta: 2.0\n", "    threshold_beta: 2.0\n" + bad), tmp_path
    )
    assert ":11: field 'topics[1].cues.en[2]': duplicate cue 'Rash' (first at en[1])" in msg
    assert ":12: field 'topics[1].cues.fr': empty cue list" in msg
