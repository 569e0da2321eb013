"""The scorer of ``tocsin pv triage`` output: its arithmetic on a hand-checked example."""

from __future__ import annotations

from typing import Any

from bench.pv_score_output import prf, score


def _row(gold: dict[str, bool], case: dict[str, bool]) -> dict[str, Any]:
    crit = ("reporter", "patient", "product", "reaction")
    return {
        "input_labels": gold,
        "case": {
            "criteria": {k: case[k] for k in crit},
            "valid": case["valid"],
            "serious": case["serious"],
        },
    }


def test_prf_counts_hits_misses_and_false_alarms() -> None:
    assert prf([(True, True), (True, False), (False, True), (False, False)]) == (0.5, 0.5, 0.5)
    assert prf([(False, False)]) == (0.0, 0.0, 0.0)


def test_score_reads_criteria_valid_and_serious_from_the_case() -> None:
    every = dict.fromkeys(("reporter", "patient", "product", "reaction", "valid", "serious"), True)
    missed = {**every, "reaction": False, "valid": False, "serious": False}
    figures = score([_row(every, every), _row(every, missed)])
    assert figures["reporter"] == {"precision": 1.0, "recall": 1.0, "f1": 1.0}
    assert figures["reaction"]["recall"] == 0.5 and figures["valid"]["recall"] == 0.5
    assert figures["serious"]["precision"] == 1.0
