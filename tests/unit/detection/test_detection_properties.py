"""Hypothesis properties of the detector: calibration, strong surges, determinism, state."""

from __future__ import annotations

import json
from datetime import datetime

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from pipeline.detection import DetectorConfig, Reading, SeriesDetector
from pipeline.detection.quiet import QUIET_BOUNDS, quiet_spec
from pipeline.detection.synthetic import SeriesSpec, Surge, generate

DAY = 288
SLOW = settings(
    max_examples=6,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
    # Shrinking a month-long series takes minutes per step; a failing example is reported as is.
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
)


def run(rows: list[tuple[datetime, int]], cfg: DetectorConfig | None = None) -> list[Reading]:
    det = SeriesDetector(cfg)
    return [det.update(t, x) for t, x in rows]


def fired_at(readings: list[Reading]) -> list[datetime]:
    return [r.start for r in readings if r.transition == "fired"]


QUIET = settings(
    # Each example is a month of 8,640 buckets (~1 s); 40 months cover the space's corners
    # reasonably. derandomize: the same 40 months in every CI run, chosen by Hypothesis from
    # the whole documented space. ``python -m pipeline.detection.quiet 300 SEED`` measures the
    # rate on many more months (see the detector docstring for the figures).
    max_examples=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
)


@st.composite
def quiet_specs(draw: st.DrawFn) -> SeriesSpec:
    """A surge-free month from the documented space (``pipeline.detection.quiet.QUIET_BOUNDS``):
    0.5-60 mentions per bucket, burstiness alpha 0-0.3, any mix of daily and weekly rhythm,
    zero inflation for sparse topics, any starting weekday and hour."""
    b = QUIET_BOUNDS
    return quiet_spec(
        level=draw(st.floats(*b.level)),
        alpha=draw(st.floats(*b.alpha)),
        daily_amplitude=draw(st.floats(*b.daily_amplitude)),
        weekend_factor=draw(st.floats(*b.weekend_factor)),
        zero_inflation=draw(st.floats(*b.zero_inflation)),
        start_hours=draw(st.integers(0, 7 * 24 - 1)),
    )


@QUIET
@given(spec=quiet_specs(), seed=st.integers(0, 2**31))
def test_a_surge_free_month_is_calibrated(spec: SeriesSpec, seed: int) -> None:
    """The score is a tail probability: on a surge-free month, p < 1 % on about 1 % of the
    buckets. Within a factor of three: on the sparsest months (0.5 a bucket, zero-inflated) the
    counts are so discrete that the share reaches 2.3 %; real series are in docs/detection.md."""
    readings = run(generate(spec, seed))[DAY:]
    share = sum(r.p_value < 0.01 for r in readings) / len(readings)
    assert share <= 0.03, share


@st.composite
def surge_specs(draw: st.DrawFn) -> SeriesSpec:
    day = draw(st.integers(2, 3))
    hour = draw(st.integers(9, 18))
    return SeriesSpec(
        name="surgy",
        days=4,
        level=draw(st.floats(2.0, 30.0)),
        alpha=draw(st.floats(0.0, 0.3)),
        daily_amplitude=draw(st.floats(0.0, 1.0)),
        surges=(
            Surge(
                start=day * DAY + hour * 12,
                kind=draw(st.sampled_from(["sudden", "build"])),
                multiplier=draw(st.floats(20.0, 40.0)),
                ramp=draw(st.integers(1, 4)),
                hold=draw(st.integers(6, 24)),
                decay=draw(st.integers(1, 12)),
            ),
        ),
    )


@settings(SLOW, max_examples=20)
@given(spec=surge_specs(), seed=st.integers(0, 2**31))
def test_a_twentyfold_surge_pages_during_its_rise_or_hold(spec: SeriesSpec, seed: int) -> None:
    surge = spec.surges[0]
    pages = [i for i, r in enumerate(run(generate(spec, seed))) if r.transition == "fired"]
    end = surge.start + surge.ramp + surge.hold
    assert any(surge.start <= i <= end for i in pages), (pages, surge)


@settings(max_examples=25, deadline=None, derandomize=True)
@given(
    level=st.floats(0.2, 40.0),
    alpha=st.floats(0.0, 0.6),
    seed=st.integers(0, 2**31),
    split=st.integers(0, 2 * DAY),
    surge_at=st.integers(DAY, 2 * DAY - 30),
)
def test_deterministic_and_state_restores_exactly(
    level: float, alpha: float, seed: int, split: int, surge_at: int
) -> None:
    spec = SeriesSpec(
        name="any",
        days=2,
        level=level,
        alpha=alpha,
        surges=(Surge(start=surge_at, multiplier=12.0, ramp=3, hold=10, decay=4),),
    )
    rows = generate(spec, seed)
    first, second = run(rows), run(rows)
    assert first == second
    det = SeriesDetector()
    for t, x in rows[:split]:
        det.update(t, x)
    state = det.to_state()
    restored = SeriesDetector(state=json.loads(json.dumps(state)))
    assert restored.to_state() == state
    assert [restored.update(t, x) for t, x in rows[split:]] == first[split:]


@settings(max_examples=40, deadline=None, derandomize=True)
@given(
    seed=st.integers(0, 2**31),
    upto=st.integers(1, DAY),
    low=st.integers(0, 300),
    extra=st.integers(0, 300),
)
def test_score_is_in_unit_interval_and_monotone_in_observed(
    seed: int, upto: int, low: int, extra: int
) -> None:
    rows = generate(SeriesSpec(name="m", days=1, level=5.0, alpha=0.2), seed)
    det = SeriesDetector()
    for t, x in rows[: upto - 1]:
        det.update(t, x)
    state = det.to_state()
    t = rows[upto - 1][0]
    a = SeriesDetector(state=state).update(t, low)
    b = SeriesDetector(state=state).update(t, low + extra)
    assert 0.0 <= a.score <= b.score <= 1.0
