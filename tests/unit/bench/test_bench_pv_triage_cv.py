"""bench/pv_triage_cv.py: the choice rule and the leave-one-writer-out table on synthetic
writers (rules that miss every reaction, an embedding that shows it). About 2 s."""

from __future__ import annotations

from typing import Any

import numpy as np

from bench.pv_triage_cv import Folds, choose, render, table
from pipeline.pv.triage import CaseAssessment


def _folds() -> Folds:
    rng = np.random.default_rng(3)
    rows: list[dict[str, Any]] = []
    rules, emb = [], []
    for writer in ("a", "b", "c"):
        for i in range(24):
            reaction = i % 2 == 0
            labels = {
                "reporter": True,
                "patient": True,
                "product": True,
                "reaction": reaction,
                "valid": reaction,
                "serious": False,
                "seriousness": [],
            }
            rows.append({"text": f"{writer}{i}", "labels": labels, "_writer": writer})
            # the rules find everything but the reaction
            rules.append(CaseAssessment(True, True, "Zoloft", (), ()))
            emb.append([3.0 if reaction else -3.0, *rng.normal(size=3)])
    return Folds(rows, rules, np.array(emb))


def test_the_choice_rule_takes_heads_that_recover_what_the_rules_miss() -> None:
    folds = _folds()
    assert folds.score("a", ("b", "c"), None)["valid_r"] == 0.0
    chosen = choose(folds, folds.writers)
    assert chosen is not None
    # the patient head cannot change anything (the rules find every patient): of the tied
    # settings the rule takes the highest threshold
    assert chosen.patient == 0.9
    rows = table(folds, chosen)
    assert [r["writer"] for r in rows] == ["a", "b", "c"]
    assert all(r["chosen"]["valid_r"] == 1.0 and r["chosen"]["valid_p"] == 1.0 for r in rows)
    assert all(r["nested"]["valid_r"] == 1.0 for r in rows)
    assert "nested setting" in render(rows, chosen)
