"""bench.artime (ARTime re-implemented) and bench.artime_cv's page designs."""

from __future__ import annotations

import numpy as np
import pytest

from bench.artime import DVFA, HAAR8, ARTime, run_series
from bench.artime_cv import candidates, combine


def test_haar_is_orthonormal_with_wavelets_jl_layout_and_signs() -> None:
    assert np.allclose(HAAR8 @ HAAR8.T, np.eye(8))
    y = HAAR8 @ np.ones(8)
    assert y[0] == pytest.approx(np.sqrt(8.0))  # scaling coefficient first
    assert np.allclose(y[1:], 0.0)
    step = HAAR8 @ np.array([0, 1, 0, 0, 0, 0, 0, 0], dtype=float)
    # finest details last, each the later sample minus the earlier over sqrt(2)
    assert step[4] == pytest.approx(1 / np.sqrt(2))
    assert np.allclose(step[5:], 0.0)
    late = HAAR8 @ np.array([0, 0, 0, 0, 1, 1, 1, 1], dtype=float)
    assert late[1] == pytest.approx(np.sqrt(2.0))  # coarsest detail: second half minus first


def test_dvfa_resonates_with_a_known_vector_and_flags_a_new_one() -> None:
    art = DVFA(4)
    art.rho_lb, art.rho_ub = 0.6, 0.8
    a = np.array([0.1, 0.2, 0.1, 0.2])
    assert art.train(a) == 1  # the first sample only sets up the all-ones category
    assert art.train(a) == -1  # nothing resonates with it yet: a new cluster
    assert art.train(a) != -1  # now its own category matches
    assert art.train(np.array([0.9, 1.0, 0.9, 1.0])) == -1
    assert len(art.a) == 4 and art.a[2] == pytest.approx(1.0)


def test_artime_scores_only_block_ends_and_flags_a_spike_after_probation() -> None:
    rng = np.random.default_rng(3)
    values = list(50 + rng.poisson(5, 6000).astype(float))
    values[2104] = 2000.0  # inside the 7-row block of rows 2101-2107 (1-based)
    scores = run_series(values)
    fired = [i for i, s in enumerate(scores) if s > 0]
    assert all((i + 1) % 7 == 0 for i in fired)  # 6000 rows: 750 probationary, blocks of 7
    assert all(i >= 750 for i in fired)
    assert 2106 in fired
    assert scores[2106] >= 0.317486


def test_scales() -> None:
    with pytest.raises(ValueError, match="scale"):
        ARTime(0.0, 1.0, 100, scale="future")
    values = [10.0] * 800 + [1000.0] * 10
    det = ARTime(0.0, 1000.0, len(values), scale="probation")
    for v in values:
        det.process(v)
    assert (det.dmin, det.dmax) == (10.0, 10.0)  # frozen after the probationary rows
    det = ARTime(0.0, 1000.0, len(values), scale="running")
    for v in values:
        det.process(v)
    assert det.dmax == 1000.0


def test_designs_combine_pages() -> None:
    pages = np.zeros(40)
    art = np.zeros(40)
    pages[[5, 30]] = 1
    art[[9, 20]] = 0.9
    assert np.flatnonzero(combine("product", pages, art, 0.5, 7)).tolist() == [5, 30]
    assert np.flatnonzero(combine("alone", pages, art, 0.5, 7)).tolist() == [9, 20]
    assert np.flatnonzero(combine("alone", pages, art, 0.95, 7)).tolist() == []
    # confirm: the product's 5 is confirmed by ARTime at 9 (within 7); 30 has no ARTime near it
    assert np.flatnonzero(combine("confirm", pages, art, 0.5, 7)).tolist() == [9]
    assert np.flatnonzero(combine("confirm", pages, art, 0.5, 3)).tolist() == []
    # either: one page per 7 buckets
    assert np.flatnonzero(combine("either", pages, art, 0.5, 7)).tolist() == [5, 20, 30]


def test_candidates_keep_the_default_first() -> None:
    cands = candidates([0.3, 0.5], [7], [3e-4, 1e-4])
    assert cands[0] == {"design": "product", "alert_p": 3e-4}
    assert {c["design"] for c in cands} == {"product", "confirm", "either", "alone"}
    assert len(cands) == 2 + 2 * 2 * 2 + 2
