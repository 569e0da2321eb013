"""Peaks over threshold: a tail probability calibrated on a series' own extremes.

Why: real mention series are heavy-tailed, and how heavy differs per brand (a big brand's news
bursts are routine, a quiet product's are not). A Gaussian or negative-binomial tail with one
global shape pages on one series' ordinary bursts and misses another's real surge. Extreme-value
theory says the excesses of a statistic over a high threshold follow a generalised Pareto
distribution (Pickands-Balkema-de Haan), so the detector tracks, per series and per statistic,

* ``u``: the ``1 - rate`` quantile of the statistic, followed online by stochastic approximation
  (it moves up by ``step * (1 - rate)`` on an exceedance and down by ``step * rate`` otherwise, so
  it settles where a share ``rate`` of the values exceed it);
* the last ``memory`` excesses over ``u``, to which a GPD is fitted by probability-weighted
  moments (Hosking and Wallis 1987), shrunk toward a prior shape while there are few of them;
  or, with a fixed ``shape``, only the scale (from the mean excess) is fitted per series.

The tail probability of a value ``s`` is ``rate * GPD_sf(s - u)`` above ``u`` and an exponential
continuation below it (only its order matters there). This is the SPOT idea of Siffer et al.
(KDD 2017), with the threshold tracked instead of re-estimated from a stored window, so the state
stays a handful of floats and a bounded list.

Declustering (``run > 0``): real extremes come in runs (a news burst lasts several buckets, and a
statistic summed over k buckets stays high for k buckets after one spike), so the excesses of one
run are not independent draws. With runs declustering (Coles 2001, section 5.3; Ferro and Segers
2003) exceedances separated by at most ``run`` values below ``u`` form one cluster, only the
cluster's largest excess is kept, and the extremal index ``theta`` (clusters per exceedance) is
tracked. The tail probability is then ``rate * theta * GPD_sf(s - u)`` with the GPD fitted to
cluster maxima: the chance that a value starts an episode reaching ``s``, which is what a page
is about, and a run of extreme values counts once in the fit.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

TAIL_FLOOR = 1e-12
"""Smallest tail probability reported: below it the fitted tail says nothing a page needs, and a
bounded fitted tail (shape < 0) must not call a value impossible."""


THETA_PRIOR_WEIGHT = 5.0
"""Exceedances' worth of weight on an extremal index of 1 (no clustering) before runs are seen."""


class TailModel:
    """Online threshold and GPD tail of one statistic.

    State: ``u, n, excesses`` and, when declustering, the open cluster's largest excess, the
    values below ``u`` since its last exceedance, and the counts of exceedances and clusters.
    """

    __slots__ = (
        "_fit",
        "clusters",
        "exceedances",
        "excesses",
        "gap",
        "memory",
        "n",
        "open_max",
        "prior_scale",
        "prior_shape",
        "prior_weight",
        "rate",
        "run",
        "shape",
        "step",
        "u",
    )

    def __init__(
        self,
        *,
        rate: float,
        step: float,
        memory: int,
        initial_threshold: float,
        prior_scale: float,
        prior_shape: float,
        prior_weight: float,
        run: int = 0,
        shape: float | None = None,
    ) -> None:
        self.rate = rate
        self.run = run
        self.shape = shape
        self.step = step
        self.memory = memory
        self.prior_scale = prior_scale
        self.prior_shape = prior_shape
        self.prior_weight = prior_weight
        self.u = initial_threshold
        self.n = 0
        self.excesses: list[float] = []
        self._fit: tuple[float, float] | None = None
        self.open_max: float | None = None
        self.gap = 0
        self.exceedances = 0
        self.clusters = 0

    # ------------------------------------------------------------------ scoring

    def tail(self, s: float) -> float:
        """``P(S >= s)`` under the current model (1.0 for anything at or below typical)."""
        scale, shape = self.fit()
        rate = self.rate * self.theta()
        x = s - self.u
        if x <= 0.0:
            return min(1.0, rate * math.exp(-x / scale))
        if abs(shape) < 1e-6:
            return max(TAIL_FLOOR, rate * math.exp(-x / scale))
        base = 1.0 + shape * x / scale
        if base <= TAIL_FLOOR:  # at or beyond the end point of a bounded (shape < 0) tail
            return TAIL_FLOOR
        return max(TAIL_FLOOR, rate * math.exp(-math.log(base) / shape))

    def theta(self) -> float:
        """Extremal index: clusters per exceedance (1 without declustering), shrunk toward 1."""
        if self.run <= 0:
            return 1.0
        return (self.clusters + THETA_PRIOR_WEIGHT) / (self.exceedances + THETA_PRIOR_WEIGHT)

    def fit(self) -> tuple[float, float]:
        """GPD ``(scale, shape)`` of the stored excesses, shrunk toward the prior."""
        if self._fit is None:
            if self.shape is None:
                self._fit = _shrunk_fit(
                    self.excesses, self.prior_scale, self.prior_shape, self.prior_weight
                )
            else:
                self._fit = _fixed_shape_fit(
                    self.excesses, self.shape, self.prior_scale, self.prior_weight
                )
        return self._fit

    # ------------------------------------------------------------------ learning

    def learn(self, s: float, weight: float = 1.0) -> None:
        """Move the threshold toward its quantile and keep ``s``'s excess if it has one."""
        if not math.isfinite(s) or weight <= 0.0:
            return
        self.n += 1
        if s > self.u:
            excess = s - self.u
            if self.run <= 0:
                self._keep(excess)
            else:
                self.exceedances += 1
                if self.open_max is None:
                    self.clusters += 1
                    self.open_max = excess
                else:
                    self.open_max = max(self.open_max, excess)
                self.gap = 0
            self.u += weight * self.step * (1.0 - self.rate)
        else:
            self.u -= weight * self.step * self.rate
            if self.open_max is not None:
                self.gap += 1
                if self.gap > self.run:  # the run has ended: its largest excess joins the fit
                    self._keep(self.open_max)
                    self.open_max = None
                    self.gap = 0

    def _keep(self, excess: float) -> None:
        self.excesses.append(excess)
        if len(self.excesses) > self.memory:
            del self.excesses[0]
        self._fit = None

    # ------------------------------------------------------------------ state

    def dump(self) -> list[Any]:
        if self.run <= 0:
            return [self.u, self.n, self.excesses[:]]
        return [
            self.u,
            self.n,
            self.excesses[:],
            self.open_max,
            self.gap,
            self.exceedances,
            self.clusters,
        ]

    def load(self, state: Sequence[Any]) -> None:
        """Restore :meth:`dump`; a state without the cluster fields starts with no open run."""
        self.u = float(state[0])
        self.n = int(state[1])
        self.excesses = [float(x) for x in state[2]]
        self._fit = None
        if len(state) >= 7:
            self.open_max = None if state[3] is None else float(state[3])
            self.gap, self.exceedances, self.clusters = (int(v) for v in state[4:7])
        else:
            self.open_max, self.gap, self.exceedances, self.clusters = None, 0, 0, 0


def _pwm_fit(xs: Sequence[float]) -> tuple[float, float] | None:
    """Hosking-Wallis probability-weighted moments: GPD ``(scale, shape)``, or None if degenerate."""
    n = len(xs)
    if n < 3:
        return None
    ordered = sorted(xs)
    a0 = sum(ordered) / n
    # a1 = E[X (1 - F(X))], estimated from the ascending order statistics
    a1 = sum(x * (n - 1 - i) for i, x in enumerate(ordered)) / (n * (n - 1))
    denom = a0 - 2.0 * a1
    if a0 <= 0.0 or denom <= 0.0:
        return None
    k = a0 / denom - 2.0  # Hosking's k = -shape
    scale = 2.0 * a0 * a1 / denom
    return scale, -k


def _shrunk_fit(
    xs: Sequence[float], prior_scale: float, prior_shape: float, prior_weight: float
) -> tuple[float, float]:
    fitted = _pwm_fit(xs)
    if fitted is None:
        return prior_scale, prior_shape
    n = len(xs)
    w = n / (n + prior_weight)
    scale = math.exp(w * math.log(max(fitted[0], 1e-6)) + (1.0 - w) * math.log(prior_scale))
    shape = w * fitted[1] + (1.0 - w) * prior_shape
    # A shape below -0.5 or above 1 is not a tail a count series has: keep it in range, so a
    # few odd excesses cannot make the tail bounded (no page possible) or infinitely heavy.
    return max(scale, 1e-3), min(max(shape, -0.3), 0.8)


def _fixed_shape_fit(
    xs: Sequence[float], shape: float, prior_scale: float, prior_weight: float
) -> tuple[float, float]:
    """GPD with a given shape and the scale its mean excess implies (``E[X] = scale / (1 -
    shape)``), shrunk toward the prior scale while there are few excesses.

    Why: the shape fitted from 50 excesses of one series swings by about 0.15 either way, and a
    negative one makes the tail bounded, so an ordinary big burst lands on the floor probability
    while the next, as big, does not. One shape for every series (chosen by cross-validation
    across series) and a per-series scale keeps a series' own tail with a far steadier estimate.
    """
    if not xs:
        return prior_scale, shape
    n = len(xs)
    fitted = max(sum(xs) / n * (1.0 - shape), 1e-6)
    w = n / (n + prior_weight)
    scale = math.exp(w * math.log(fitted) + (1.0 - w) * math.log(prior_scale))
    return max(scale, 1e-3), shape
