"""bench.nab_cv's leave-one-series-out choice: each fold picks on its four training series only."""

from __future__ import annotations

import pytest

from bench.nab_cv import loso

NAMES = ["A", "B", "C"]
# Candidate 0 is best on A and B, candidate 1 on C alone: a fold that could see its held-out
# series would pick 1 for C.
SCORES = {0: {"A": 90.0, "B": 80.0, "C": 10.0}, 1: {"A": 50.0, "B": 40.0, "C": 99.0}}


def norm(c: int, names: list[str], prof: str) -> float:
    assert prof == "standard"
    return sum(SCORES[c][n] for n in names) / len(names)


def test_each_fold_chooses_on_the_other_series_and_reports_the_held_out_score(
    capsys: pytest.CaptureFixture[str],
) -> None:
    loso([{"x": 0}, {"x": 1}], NAMES, "standard", norm)
    out = capsys.readouterr().out
    # Fold A trains on B, C: 45.0 against 69.5, so candidate 1; fold B likewise; fold C on A, B
    # picks candidate 0 and scores 10 on C.
    assert 'fold A: chose {"x": 1} train=69.5 held-out=50.0' in out
    assert 'fold B: chose {"x": 1} train=74.5 held-out=40.0' in out
    assert 'fold C: chose {"x": 0} train=85.0 held-out=10.0' in out
    assert "mean held-out fold score: 33.3" in out
    assert 'chosen most often: {"x": 1}' in out
