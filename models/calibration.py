"""Calibration of the head's topic probabilities, and how calibration is measured.

Measuring: :func:`reliability` bins one topic's scores into ``ECE_BINS`` equal-width bins over
[0, 1] (bin ``b`` holds ``b/15 <= p < (b+1)/15``; a score of exactly 1 goes to the last bin) and
gives per bin the number of mentions, the mean score and the observed share of mentions that
carry the topic; the expected calibration error is the mean absolute gap between the two,
weighted by the bins' sizes. Equal-width rather than equal-mass bins because most mentions
score near 0 for any one topic: equal-mass bins would spend most of the table below 0.05 and
say little about the scores near the thresholds, where a reader decides.

Calibrating: the head's logits are first Platt-scaled (models/optim.py ``platt``) on out-of-fold
logits of the training split. A sigmoid cannot bend: where the out-of-fold reliability curve is
not logistic in shape, an **isotonic** map fitted on the same out-of-fold Platt scores
(pool-adjacent-violators, interpolated linearly between block centres so the ranking of
mentions survives) follows it. :func:`choose_calibrator` decides per topic, on the training
split only, by cross-fitting: the map is fitted on four folds' out-of-fold scores and measured
on the fifth; isotonic is kept only when its cross-fitted ECE and Brier score are both lower
than Platt's alone. A map is stored as its values on ``CALIB_GRID`` (equally spaced inputs in
[0, 1]), so serving applies any topic's map with one ``np.interp``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[np.float64]

#: Equal-width bins over [0, 1] for ECE and reliability tables.
ECE_BINS = 15
#: Inputs (Platt probabilities) at which a topic's calibration map is stored.
CALIB_GRID = np.linspace(0.0, 1.0, 401)
#: Calibrated scores are kept this far from 0 and 1: an isotonic block with no positive among a
#: few hundred training mentions says "rare", not "impossible".
PROB_FLOOR = 1e-3


def _bin_index(p: Array, bins: int) -> npt.NDArray[np.int64]:
    return np.minimum((np.clip(p, 0.0, 1.0) * bins).astype(np.int64), bins - 1)


def reliability(y: npt.ArrayLike, p: npt.ArrayLike, bins: int = ECE_BINS) -> dict[str, Any]:
    """ECE and the reliability table of one topic: ``y`` 0/1 gold, ``p`` predicted probability.

    Returns ``{"ece", "n", "positives", "mean_score", "bins": [{"lo", "hi", "n", "mean_score",
    "observed"}, ...]}``, empty bins left out of the table (they weigh nothing in the ECE).
    """
    ya = np.asarray(y, dtype=np.float64)
    pa = np.asarray(p, dtype=np.float64)
    if ya.shape != pa.shape or ya.ndim != 1:
        raise ValueError("y and p must be 1-D arrays of the same length")
    n = len(ya)
    idx = _bin_index(pa, bins)
    table = []
    ece = 0.0
    for b in range(bins):
        mask = idx == b
        k = int(mask.sum())
        if not k:
            continue
        mean_p = float(pa[mask].mean())
        obs = float(ya[mask].mean())
        ece += k / n * abs(obs - mean_p)
        table.append(
            {
                "lo": round(b / bins, 4),
                "hi": round((b + 1) / bins, 4),
                "n": k,
                "mean_score": round(mean_p, 4),
                "observed": round(obs, 4),
            }
        )
    return {
        "ece": round(ece, 4),
        "n": n,
        "positives": int(ya.sum()),
        "mean_score": round(float(pa.mean()), 4) if n else 0.0,
        "bins": table,
    }


def expected_calibration_error(y: npt.ArrayLike, p: npt.ArrayLike, bins: int = ECE_BINS) -> float:
    """Unrounded ECE over ``bins`` equal-width bins (see :func:`reliability`)."""
    ya = np.asarray(y, dtype=np.float64)
    pa = np.asarray(p, dtype=np.float64)
    if not len(ya):
        return 0.0
    idx = _bin_index(pa, bins)
    sum_p = np.bincount(idx, weights=pa, minlength=bins)
    sum_y = np.bincount(idx, weights=ya, minlength=bins)
    return float(np.abs(sum_y - sum_p).sum() / len(ya))


def pav(x: Array, y: Array) -> tuple[Array, Array]:
    """Isotonic (non-decreasing) regression of ``y`` on ``x`` by pool-adjacent-violators.

    Returns the blocks as ``(centres, values)``: each block's mean ``x`` and mean ``y``, both
    strictly increasing in ``values`` (ties in ``x`` are pooled first, so equal scores always
    get one value).
    """
    order = np.argsort(x, kind="stable")
    xs, ys = np.asarray(x, np.float64)[order], np.asarray(y, np.float64)[order]
    # pool equal x first
    uniq, start = np.unique(xs, return_index=True)
    counts = np.diff(np.r_[start, len(xs)]).astype(np.float64)
    sums = np.add.reduceat(ys, start) if len(xs) else np.zeros(0)
    xsum = uniq * counts
    # stack of blocks: (sum_y, sum_x, count)
    sy: list[float] = []
    sx: list[float] = []
    cn: list[float] = []
    for s, xv, c in zip(sums, xsum, counts, strict=True):
        sy.append(float(s))
        sx.append(float(xv))
        cn.append(float(c))
        while len(sy) > 1 and sy[-2] / cn[-2] >= sy[-1] / cn[-1]:
            s2, x2, c2 = sy.pop(), sx.pop(), cn.pop()
            sy[-1] += s2
            sx[-1] += x2
            cn[-1] += c2
    c_arr = np.array(cn)
    return np.array(sx) / c_arr, np.array(sy) / c_arr


def isotonic_map(p: Array, y: Array, grid: Array = CALIB_GRID) -> Array:
    """An isotonic calibration map fitted on scores ``p`` and labels ``y``, as values on ``grid``:
    linear between block centres, flat beyond the first and last, kept in [PROB_FLOOR, 1-PROB_FLOOR]."""
    centres, values = pav(p, y)
    return np.clip(np.interp(grid, centres, values), PROB_FLOOR, 1.0 - PROB_FLOOR)


def apply_map(p: npt.ArrayLike, values: Array) -> Array:
    """Scores ``p`` through a map stored as ``values`` on equally spaced inputs over [0, 1]
    (``CALIB_GRID`` when built by this version; the length says which grid)."""
    grid = CALIB_GRID if len(values) == len(CALIB_GRID) else np.linspace(0.0, 1.0, len(values))
    return np.asarray(np.interp(np.asarray(p, np.float64), grid, values))


def identity_map(grid: Array = CALIB_GRID) -> Array:
    """The map that leaves Platt's probabilities as they are."""
    return grid.copy()


PlattFit = Callable[[Array, Array], tuple[float, float]]


def _sigmoid(z: Array) -> Array:
    return np.asarray(0.5 * (1.0 + np.tanh(0.5 * z)))


@dataclass(frozen=True)
class CalibratorChoice:
    """What :func:`choose_calibrator` decided for one topic, with the cross-fitted evidence."""

    method: str  # "platt" or "isotonic"
    values: Array  # the map on CALIB_GRID, applied after Platt (identity for Platt alone)
    crossfit_ece_platt: float
    crossfit_ece_isotonic: float
    crossfit_brier_platt: float
    crossfit_brier_isotonic: float


def choose_calibrator(
    logits: Array,
    y: Array,
    platt: tuple[float, float],
    parts: Sequence[npt.NDArray[np.int64]],
    fit_platt: PlattFit,
    bins: int = ECE_BINS,
) -> CalibratorChoice:
    """Platt alone or Platt + isotonic for one topic, chosen on out-of-fold ``logits``.

    Both candidates are cross-fitted over ``parts``: Platt (``fit_platt``) and the isotonic map
    on its output are fitted on the other folds and scored on the held one, so neither is
    measured on the scores it was fitted on. Isotonic is kept only when it lowers both the
    cross-fitted ECE and the Brier score: ECE alone favours a flat, step-shaped map even where
    the truth is a sigmoid (binning hides the steps), and the Brier score, a proper scoring rule,
    does not. The kept map is then refitted on all the scores that ``platt`` (fitted on all of
    ``logits``) gives.
    """
    za = np.asarray(logits, np.float64)
    ya = np.asarray(y, np.float64)
    n = len(za)
    p_platt = np.empty(n)
    p_iso = np.empty(n)
    for held in parts:
        train = np.setdiff1d(np.arange(n), held)
        a, c = fit_platt(za[train], ya[train])
        p_train = _sigmoid(za[train] * a + c)
        p_platt[held] = _sigmoid(za[held] * a + c)
        p_iso[held] = apply_map(p_platt[held], isotonic_map(p_train, ya[train]))
    ece = (
        expected_calibration_error(ya, p_platt, bins),
        expected_calibration_error(ya, p_iso, bins),
    )
    brier = (float(np.mean((p_platt - ya) ** 2)), float(np.mean((p_iso - ya) ** 2)))
    if ece[1] < ece[0] and brier[1] < brier[0]:
        full = _sigmoid(za * platt[0] + platt[1])
        return CalibratorChoice("isotonic", isotonic_map(full, ya), *ece, *brier)
    return CalibratorChoice("platt", identity_map(), *ece, *brier)
