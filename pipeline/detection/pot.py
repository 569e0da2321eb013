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
  moments (Hosking and Wallis 1987), shrunk toward a prior shape while there are few of them.

The tail probability of a value ``s`` is ``rate * GPD_sf(s - u)`` above ``u`` and an exponential
continuation below it (only its order matters there). This is the SPOT idea of Siffer et al.
(KDD 2017), with the threshold tracked instead of re-estimated from a stored window, so the state
stays a handful of floats and a bounded list.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

TAIL_FLOOR = 1e-12
"""Smallest tail probability reported: below it the fitted tail says nothing a page needs, and a
bounded fitted tail (shape < 0) must not call a value impossible."""


class TailModel:
    """Online threshold and GPD tail of one statistic; state is ``u, n, excesses``."""

    __slots__ = (
        "_fit",
        "excesses",
        "memory",
        "n",
        "prior_scale",
        "prior_shape",
        "prior_weight",
        "rate",
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
    ) -> None:
        self.rate = rate
        self.step = step
        self.memory = memory
        self.prior_scale = prior_scale
        self.prior_shape = prior_shape
        self.prior_weight = prior_weight
        self.u = initial_threshold
        self.n = 0
        self.excesses: list[float] = []
        self._fit: tuple[float, float] | None = None

    # ------------------------------------------------------------------ scoring

    def tail(self, s: float) -> float:
        """``P(S >= s)`` under the current model (1.0 for anything at or below typical)."""
        scale, shape = self.fit()
        x = s - self.u
        if x <= 0.0:
            return min(1.0, self.rate * math.exp(-x / scale))
        if abs(shape) < 1e-6:
            return max(TAIL_FLOOR, self.rate * math.exp(-x / scale))
        base = 1.0 + shape * x / scale
        if base <= TAIL_FLOOR:  # at or beyond the end point of a bounded (shape < 0) tail
            return TAIL_FLOOR
        return max(TAIL_FLOOR, self.rate * math.exp(-math.log(base) / shape))

    def fit(self) -> tuple[float, float]:
        """GPD ``(scale, shape)`` of the stored excesses, shrunk toward the prior."""
        if self._fit is None:
            self._fit = _shrunk_fit(
                self.excesses, self.prior_scale, self.prior_shape, self.prior_weight
            )
        return self._fit

    # ------------------------------------------------------------------ learning

    def learn(self, s: float, weight: float = 1.0) -> None:
        """Move the threshold toward its quantile and keep ``s``'s excess if it has one."""
        if not math.isfinite(s) or weight <= 0.0:
            return
        self.n += 1
        if s > self.u:
            self.excesses.append(s - self.u)
            if len(self.excesses) > self.memory:
                del self.excesses[0]
            self._fit = None
            self.u += weight * self.step * (1.0 - self.rate)
        else:
            self.u -= weight * self.step * self.rate

    # ------------------------------------------------------------------ state

    def dump(self) -> list[Any]:
        return [self.u, self.n, self.excesses[:]]

    def load(self, state: Sequence[Any]) -> None:
        self.u = float(state[0])
        self.n = int(state[1])
        self.excesses = [float(x) for x in state[2]]
        self._fit = None


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
