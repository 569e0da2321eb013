"""Time to page of a strong surge, in event time, through the mention-level backtest path.

    python -m bench.early_firing [--surges 100] [--seed 1] [--lateness 120]

Each trial: two days of Poisson mentions at a random base rate (1-20 a bucket), then a surge at
10-30x that rate starting at a random moment inside a bucket (at least 20 mentions in its first
five minutes), run through :class:`pipeline.detection.mentions.SeriesCounter` exactly as the
stream counts (production lateness). Prints the delay from the surge's first mention to the page
(p50 / p95 / max), how many surges paged early (before their bucket closed), and, on the same
histories, how many one-minute blips (20-60 mentions within 60 s) and quiet controls paged.
A benchmark script (figures), not a test.
"""

from __future__ import annotations

import argparse
import random
import statistics
from datetime import UTC, datetime

from pipeline.detection import SeriesDetector
from pipeline.detection.mentions import SeriesCounter

T0 = datetime(2026, 11, 16, tzinfo=UTC).timestamp()  # a Monday
BUCKET = 300.0
HISTORY = 2 * 86400.0


def poisson_times(rng: random.Random, rate_per_s: float, start: float, end: float) -> list[float]:
    out: list[float] = []
    t = start
    while True:
        t += rng.expovariate(rate_per_s)
        if t >= end:
            return out
        out.append(t)


def history(rng: random.Random, base: float) -> list[float]:
    return poisson_times(rng, base / BUCKET, T0, T0 + HISTORY)


def first_page(counter: SeriesCounter, times: list[float], after: float) -> float | None:
    """Event time of the first page at or after ``after`` (None: no page)."""
    for ts in times:
        outcome = counter.add(ts)
        if ts >= after and outcome.paged:
            return ts
    for r in counter.flush():
        if r.transition == "fired" and r.fired_at is not None and r.fired_at.timestamp() >= after:
            return r.fired_at.timestamp()
    return None


def trial(rng: random.Random, lateness: float) -> dict[str, float | bool | None]:
    base = rng.uniform(1.0, 20.0)
    onset = T0 + HISTORY + rng.uniform(0, 6 * 3600)
    multiplier = rng.uniform(10.0, 30.0)
    rate = max(multiplier * base, 20.0) / BUCKET  # at least 20 mentions in its first 5 minutes
    background = history(rng, base)
    end = onset + 1800
    tail = poisson_times(rng, base / BUCKET, T0 + HISTORY, end)
    surge = poisson_times(rng, rate, onset, onset + 900)
    times = sorted(background + tail + surge)
    first = surge[0]
    paged = first_page(SeriesCounter(SeriesDetector(), lateness), times, first)
    bucket_end = first - (first - T0) % BUCKET + BUCKET
    # The same history with a blip (all within one minute) instead of the surge, and with nothing.
    blip = [onset + rng.uniform(0, 60) for _ in range(rng.randint(20, 60))]
    blip_paged = first_page(
        SeriesCounter(SeriesDetector(), lateness), sorted(background + tail + blip), onset
    )
    quiet_paged = first_page(
        SeriesCounter(SeriesDetector(), lateness), sorted(background + tail), onset
    )
    return {
        "delay": None if paged is None else paged - first,
        "early": paged is not None and paged < bucket_end,
        "blip": blip_paged is not None,
        "quiet": quiet_paged is not None,
        "base": base,
        "multiplier": multiplier,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--surges", type=int, default=100)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--lateness", type=float, default=120.0)
    args = ap.parse_args(argv)
    rng = random.Random(args.seed)
    results = [trial(rng, args.lateness) for _ in range(args.surges)]
    delays = sorted(float(r["delay"]) for r in results if r["delay"] is not None)  # type: ignore[arg-type]
    missed = sum(r["delay"] is None for r in results)
    n = len(results)
    print(f"{n} surges (base 1-20 a bucket, 10-30x, >= 20 in 5 min), lateness {args.lateness:g} s")
    if delays:
        p95 = delays[min(len(delays) - 1, round(0.95 * (len(delays) - 1)))]
        print(
            f"time to page (event time, s): p50 {statistics.median(delays):.0f}  "
            f"p95 {p95:.0f}  max {delays[-1]:.0f}  within 90 s: "
            f"{sum(d <= 90 for d in delays)}/{n}"
        )
    print(f"paged early (bucket still filling): {sum(bool(r['early']) for r in results)}/{n}")
    print(f"never paged: {missed}/{n}")
    print(f"one-minute blips that paged: {sum(bool(r['blip']) for r in results)}/{n}")
    print(
        f"quiet controls that paged in the same 30 min: {sum(bool(r['quiet']) for r in results)}/{n}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
