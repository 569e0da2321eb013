"""The CV study's scoring: ``other`` counts in macro-F1, and thresholds never see the held fold."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from models.cv_study import FOLDS, crossfit, group_folds, macro_f1
from models.optim import kfold


def test_macro_f1_scores_other_as_a_label() -> None:
    gold = np.array([[True, False], [False, False], [False, True]])
    pred = np.array([[True, False], [True, False], [False, True]])
    macro, per_label = macro_f1(pred, gold)
    # topic 0: tp 1 fp 1 -> 2/3; topic 1: 1.0; other: gold row 1, never predicted -> 0
    assert per_label == [2 / 3, 1.0, 0.0]
    assert macro == (2 / 3 + 1.0 + 0.0) / 3


def test_macro_f1_skips_labels_absent_from_gold() -> None:
    gold = np.array([[True, False], [True, False]])
    pred = np.array([[True, False], [True, True]])
    macro, _ = macro_f1(pred, gold)
    assert macro == 1.0  # topic 1 and other have no gold rows


def test_crossfit_thresholds_do_not_use_the_held_fold_labels() -> None:
    rng = np.random.default_rng(0)
    n = 200
    y = (rng.random((n, 9)) < 0.3).astype(float)
    probs = np.clip(y * 0.5 + rng.random((n, 9)) * 0.5, 0, 1)
    parts = kfold(n, FOLDS, 2)
    held = parts[0]
    flipped = y.copy()
    flipped[held] = 1.0 - flipped[held]
    # the held fold's predictions come from thresholds fitted on the other folds only
    assert (crossfit(probs, y, parts)[held] == crossfit(probs, flipped, parts)[held]).all()
    assert not (crossfit(probs, y, parts) == crossfit(probs, flipped, parts)).all()


def test_group_folds_keep_a_group_together_and_skip_the_test_split(tmp_path: Path) -> None:
    brands = tmp_path / "brands.yaml"
    brands.write_text(
        "brands:\n  - name: Acme\n    cashtag: ACM\n"
        "    products:\n      - name: Zorvex\n        generic: zorvexamab\n",
        encoding="utf-8",
    )

    def row(text: str, split: str = "train", stance: str = "critical") -> str:
        obj = {"text": text, "topics": ["pricing"], "stance": stance, "split": split}
        return json.dumps(obj)

    lines = [row(f"Zorvex price hike number {i}") for i in range(6)]  # one group (EN/FR twins)
    lines += [row(f"Acme other thing {i}", stance="neutral") for i in range(40)]
    lines += [row("Zorvex test line", split="test")]
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text("\n".join(lines) + "\n", encoding="utf-8")
    parts = group_folds(corpus, brands)
    assert sum(len(p) for p in parts) == 46  # the test line is not in any fold
    assert sum(set(range(6)) <= set(p.tolist()) for p in parts) == 1
