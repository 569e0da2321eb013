"""The arithmetic of the benchmark, kept pure so it is unit-tested apart from any broker or clock.

Why these definitions:

- **percentiles** interpolate linearly between order statistics (numpy's default), so p99 of a
  small sample is an honest in-between value rather than simply the maximum;
- **lag slope** is an ordinary least-squares line through (time, lag): the committed-offset lag
  saw-tooths with each commit (every few seconds), so first-versus-last differences would mostly
  measure where in a tooth the phase happened to end;
- **counter rates** come from the first and last sample inside a window, because Prometheus
  counters only ever grow and the samples between add nothing to a mean rate;
- **recovery** is the first moment lag is back to its pre-burst level *and stays there* for a few
  samples, because a single low reading between two commits is not a drained pipeline.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100) with linear interpolation between closest ranks."""
    if not values:
        raise ValueError("percentile of an empty sample")
    if not 0.0 <= q <= 100.0:
        raise ValueError(f"percentile {q} outside 0..100")
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100.0
    low = math.floor(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def latency_summary(values: Sequence[float]) -> dict[str, Any]:
    """n, p50, p95, p99, max and mean of ``values`` (seconds), rounded to milliseconds."""
    if not values:
        return {"n": 0}
    return {
        "n": len(values),
        "p50_s": round(percentile(values, 50), 3),
        "p95_s": round(percentile(values, 95), 3),
        "p99_s": round(percentile(values, 99), 3),
        "max_s": round(max(values), 3),
        "mean_s": round(sum(values) / len(values), 3),
    }


def lag_slope(times: Sequence[float], lags: Sequence[float]) -> float:
    """Least-squares slope of lag over time, in messages per second (0 when lag is flat)."""
    if len(times) != len(lags):
        raise ValueError("times and lags differ in length")
    if len(times) < 2:
        raise ValueError("a slope needs at least two samples")
    mean_t = sum(times) / len(times)
    mean_l = sum(lags) / len(lags)
    var_t = sum((t - mean_t) ** 2 for t in times)
    if var_t == 0:
        raise ValueError("all samples at the same time")
    cov = sum((t - mean_t) * (lag - mean_l) for t, lag in zip(times, lags, strict=True))
    return cov / var_t


def counter_rate(samples: Sequence[tuple[float, float]], start: float, end: float) -> float | None:
    """Mean rate of a monotonic counter between ``start`` and ``end`` from (time, value) samples."""
    inside = [(t, v) for t, v in samples if start <= t <= end]
    if len(inside) < 2 or inside[-1][0] <= inside[0][0]:
        return None
    (t0, v0), (t1, v1) = inside[0], inside[-1]
    return (v1 - v0) / (t1 - t0)


def recovery_time(
    times: Sequence[float],
    lags: Sequence[float],
    after: float,
    settle: int = 2,
    threshold: float = 0.0,
) -> float | None:
    """Seconds from ``after`` until lag is at most ``threshold`` for ``settle`` samples in a row.

    ``threshold`` is the lag the base rate itself keeps in flight: with input still arriving,
    committed-offset lag is never exactly zero (each stage commits every few seconds), so
    "recovered" means back to the level it had before the burst. None if never.
    """
    run_start: float | None = None
    run = 0
    for t, lag in zip(times, lags, strict=True):
        if t < after:
            continue
        if lag <= threshold:
            run_start = t if run == 0 else run_start
            run += 1
            if run >= settle and run_start is not None:
                return max(0.0, run_start - after)
        else:
            run, run_start = 0, None
    return None


def smooth_rate(
    samples: Sequence[tuple[float, float]], window_s: float
) -> list[tuple[float, float]]:
    """Per-sample rate of a counter over the trailing ``window_s`` seconds, for plotting."""
    out: list[tuple[float, float]] = []
    j = 0
    for t, v in samples:
        while j < len(samples) and samples[j][0] < t - window_s:
            j += 1
        t0, v0 = samples[j]
        if t > t0:
            out.append((t, (v - v0) / (t - t0)))
    return out
