"""Quiet months: the space of surge-free series the detector promises not to page on.

Why a module: the promise ("a stationary seasonal series with no surge never pages at default
settings over a month") is only meaningful with the space stated. The Hypothesis property in
``tests/unit/test_detection_properties.py`` draws from :data:`QUIET_BOUNDS`, and
``python -m pipeline.detection.quiet MONTHS SEED`` measures the false-alarm rate on many more
months than a unit test can afford, printing every page with its context (a benchmark script,
not a test).

Bounds (per 5-minute bucket, weekday mean): level 0.5-60 mentions; negative-binomial burstiness
alpha 0-0.3 (variance ``mu + alpha mu**2``); daily rhythm 0-1 times the demo profile (at 1, night
is ~1/17 of the afternoon); weekends at 0.5-1 times weekdays; zero inflation 0-0.3 for levels
below 5; any start weekday and hour; 30 days.
"""

from __future__ import annotations

import random
import sys
import time
from dataclasses import dataclass
from datetime import timedelta

from pipeline.detection.config import DetectorConfig
from pipeline.detection.detector import SeriesDetector
from pipeline.detection.synthetic import SeriesSpec, generate


@dataclass(frozen=True)
class QuietBounds:
    """The documented space of quiet series (see the module docstring)."""

    days: int = 30
    level: tuple[float, float] = (0.5, 60.0)
    alpha: tuple[float, float] = (0.0, 0.3)
    daily_amplitude: tuple[float, float] = (0.0, 1.0)
    weekend_factor: tuple[float, float] = (0.5, 1.0)
    zero_inflation: tuple[float, float] = (0.0, 0.3)
    zero_inflation_below_level: float = 5.0


QUIET_BOUNDS = QuietBounds()


def quiet_spec(
    level: float,
    alpha: float,
    daily_amplitude: float,
    weekend_factor: float,
    zero_inflation: float,
    start_hours: int,
    days: int = QUIET_BOUNDS.days,
) -> SeriesSpec:
    """A surge-free series; ``zero_inflation`` applies only to levels below the bound."""
    base = SeriesSpec(name="quiet")
    zi = zero_inflation if level < QUIET_BOUNDS.zero_inflation_below_level else 0.0
    return SeriesSpec(
        name="quiet",
        days=days,
        start=base.start + timedelta(hours=start_hours),
        level=level,
        alpha=alpha,
        daily_amplitude=daily_amplitude,
        weekend_factor=weekend_factor,
        zero_inflation=zi,
    )


def random_quiet_spec(rng: random.Random) -> SeriesSpec:
    """A uniform draw from :data:`QUIET_BOUNDS`."""
    b = QUIET_BOUNDS
    return quiet_spec(
        level=rng.uniform(*b.level),
        alpha=rng.uniform(*b.alpha),
        daily_amplitude=rng.uniform(*b.daily_amplitude),
        weekend_factor=rng.uniform(*b.weekend_factor),
        zero_inflation=rng.uniform(*b.zero_inflation),
        start_hours=rng.randrange(7 * 24),
    )


def pages(spec: SeriesSpec, seed: int, config: DetectorConfig | None = None) -> list[int]:
    """Bucket indices where the detector fired on the series."""
    det = SeriesDetector(config)
    return [
        i for i, (t, x) in enumerate(generate(spec, seed)) if det.update(t, x).transition == "fired"
    ]


def main(argv: list[str] | None = None) -> None:
    """``python -m pipeline.detection.quiet [MONTHS] [SEED]``: false alarms on quiet months."""
    args = sys.argv[1:] if argv is None else argv
    months = int(args[0]) if args else 100
    rng = random.Random(int(args[1]) if len(args) > 1 else 1)
    began = time.perf_counter()
    paged_months = fired = 0
    for k in range(months):
        spec, seed = random_quiet_spec(rng), rng.randrange(2**31)
        hits = pages(spec, seed)
        if hits:
            paged_months += 1
            fired += len(hits)
            print(
                f"month {k}: pages at buckets {hits} (level {spec.level:.2f}, alpha "
                f"{spec.alpha:.3f}, daily {spec.daily_amplitude:.2f}, weekend "
                f"{spec.weekend_factor:.2f}, zeros {spec.zero_inflation:.2f}, seed {seed})"
            )
    weeks = months * QUIET_BOUNDS.days / 7.0
    print(
        f"{months} quiet months: {paged_months} paged ({paged_months / months:.2%}), "
        f"{fired} pages in {weeks:.1f} series-weeks ({fired / weeks:.4f}/week); "
        f"{time.perf_counter() - began:.0f} s"
    )


if __name__ == "__main__":
    main()
