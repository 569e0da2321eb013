"""ECE and reliability tables on inputs whose answer is known by hand; the isotonic calibrator
and the per-topic choice between it and Platt on synthetic scores with a known true curve."""

from __future__ import annotations

import numpy as np
import pytest

from models.calibration import (
    CALIB_GRID,
    PROB_FLOOR,
    apply_map,
    choose_calibrator,
    expected_calibration_error,
    identity_map,
    isotonic_map,
    pav,
    reliability,
)
from models.optim import kfold, platt


def test_ece_of_hand_computed_bins() -> None:
    # bin [0, 1/15): scores 0.0 and 0.05, one positive -> |0.5 - 0.025| = 0.475, weight 2/5
    # bin [0.8, 0.8667): scores 0.8, 0.8, 0.8, all positive -> |1 - 0.8| = 0.2, weight 3/5
    y = [0, 1, 1, 1, 1]
    p = [0.0, 0.05, 0.8, 0.8, 0.8]
    rep = reliability(y, p)
    assert rep["ece"] == pytest.approx(0.4 * 0.475 + 0.6 * 0.2, abs=1e-4)
    assert expected_calibration_error(y, p) == pytest.approx(0.4 * 0.475 + 0.6 * 0.2)
    assert [(b["lo"], b["n"], b["observed"]) for b in rep["bins"]] == [(0.0, 2, 0.5), (0.8, 3, 1.0)]
    assert rep["positives"] == 4 and rep["n"] == 5


def test_perfectly_calibrated_bins_have_zero_ece_and_a_score_of_one_lands_in_the_last_bin() -> None:
    # each bin's observed rate equals its (single) score: 0.2 with 1 of 5, 1.0 with 2 of 2
    y = [1, 0, 0, 0, 0, 1, 1]
    p = [0.2] * 5 + [1.0, 1.0]
    rep = reliability(y, p)
    assert rep["ece"] == 0.0
    assert rep["bins"][-1]["hi"] == 1.0 and rep["bins"][-1]["n"] == 2


def test_overconfidence_shows_as_the_gap() -> None:
    # every score 0.9, half the mentions positive: ECE 0.4 whatever the binning
    y = np.r_[np.ones(50), np.zeros(50)]
    assert expected_calibration_error(y, np.full(100, 0.9)) == pytest.approx(0.4)
    assert expected_calibration_error(y, np.full(100, 0.9), bins=4) == pytest.approx(0.4)


def test_reliability_rejects_mismatched_inputs() -> None:
    with pytest.raises(ValueError):
        reliability([0, 1], [0.5])


def test_pav_pools_violators_into_increasing_blocks() -> None:
    x = np.array([0.1, 0.2, 0.3, 0.4, 0.5, 0.6])
    y = np.array([0.0, 1.0, 0.0, 0.0, 1.0, 1.0])
    centres, values = pav(x, y)
    # (0.1:0) then 0.2..0.4 pooled to 1/3, then 0.5..0.6 at 1
    np.testing.assert_allclose(values, [0.0, 1 / 3, 1.0])
    np.testing.assert_allclose(centres, [0.1, 0.3, 0.55])


def test_pav_gives_equal_scores_one_value() -> None:
    centres, values = pav(np.array([0.5, 0.5, 0.5, 0.9]), np.array([1.0, 0.0, 0.0, 1.0]))
    np.testing.assert_allclose(centres, [0.5, 0.9])
    np.testing.assert_allclose(values, [1 / 3, 1.0])


def test_isotonic_map_is_monotone_kept_off_0_and_1_and_applied_by_interpolation() -> None:
    rng = np.random.default_rng(0)
    p = rng.random(2000)
    y = (rng.random(2000) < p**2).astype(float)  # true curve p -> p^2
    values = isotonic_map(p, y)
    assert values.shape == CALIB_GRID.shape
    assert np.all(np.diff(values) >= 0)
    assert values.min() >= PROB_FLOOR and values.max() <= 1 - PROB_FLOOR
    mid = apply_map(np.array([0.5, 0.9]), values)
    np.testing.assert_allclose(mid, [0.25, 0.81], atol=0.08)
    np.testing.assert_allclose(apply_map(np.array([0.3, 0.7]), identity_map()), [0.3, 0.7])


def test_a_map_stored_on_another_grid_length_still_applies() -> None:
    np.testing.assert_allclose(apply_map(np.array([0.25]), np.array([0.0, 0.5, 1.0])), [0.25])


def _logits(kind: str, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    z = rng.normal(0, 2.5, n)
    if kind == "logistic":  # the truth is a sigmoid of the logit: Platt is already right
        true = 1 / (1 + np.exp(-(1.3 * z - 0.5)))
    else:  # a step a sigmoid cannot follow: 5 % below 0, 60 % between 0 and 2, 97 % above
        true = np.where(z < 0, 0.05, np.where(z < 2, 0.6, 0.97))
    return z, (rng.random(n) < true).astype(float)


def test_choice_keeps_platt_when_the_curve_is_logistic() -> None:
    z, y = _logits("logistic", 3000, 1)
    choice = choose_calibrator(z, y, platt(z, y), kfold(len(z), 5, 0), platt)
    assert choice.method == "platt"
    np.testing.assert_array_equal(choice.values, identity_map())
    # the isotonic map's cross-fitted ECE can be as low (binning hides its steps); the Brier
    # score is what tells the sigmoid is the better fit
    assert choice.crossfit_brier_platt < choice.crossfit_brier_isotonic


def test_choice_takes_isotonic_when_a_sigmoid_cannot_follow_and_it_calibrates_unseen_data() -> None:
    z, y = _logits("step", 4000, 2)
    a, c = platt(z, y)
    choice = choose_calibrator(z, y, (a, c), kfold(len(z), 5, 0), platt)
    assert choice.method == "isotonic"
    assert choice.crossfit_ece_isotonic < choice.crossfit_ece_platt
    assert choice.crossfit_brier_isotonic < choice.crossfit_brier_platt
    z2, y2 = _logits("step", 4000, 3)
    p_platt = 1 / (1 + np.exp(-(z2 * a + c)))
    fresh_platt = expected_calibration_error(y2, p_platt)
    fresh_iso = expected_calibration_error(y2, apply_map(p_platt, choice.values))
    assert fresh_iso < fresh_platt - 0.02
