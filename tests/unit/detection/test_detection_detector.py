"""Behaviour of the pure spike detector on seeded synthetic series (default settings throughout)."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from pipeline.detection import DetectorConfig, Reading, SeriesDetector
from pipeline.detection.quiet import pages, quiet_spec
from pipeline.detection.synthetic import SeriesSpec, Surge, generate

T0 = datetime(2024, 3, 4, tzinfo=UTC)
STEP = timedelta(minutes=5)
DAY = 288  # 5-minute buckets per day


def run(rows: list[tuple[datetime, int]], det: SeriesDetector | None = None) -> list[Reading]:
    det = det or SeriesDetector()
    return [det.update(t, x) for t, x in rows]


def fired(readings: list[Reading]) -> list[int]:
    return [i for i, r in enumerate(readings) if r.transition == "fired"]


def demo_spec(**kw: object) -> SeriesSpec:
    """The demo's situation: small counts with a strong daily rhythm."""
    base: dict[str, object] = {"name": "demo", "days": 2, "level": 4.0, "alpha": 0.2}
    base.update(kw)
    return SeriesSpec(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("alpha", [0.0, 0.2, 0.35])
def test_quiet_through_two_diurnal_days(seed: int, alpha: float) -> None:
    readings = run(generate(demo_spec(alpha=alpha), seed))
    assert fired(readings) == []
    assert not any(r.firing for r in readings)


@pytest.mark.parametrize("seed", range(8))
def test_fires_within_a_few_buckets_of_a_building_surge_on_day_two(seed: int) -> None:
    # Day two, 10:00 UTC: volume builds over 20 minutes to 15x normal, holds an hour, decays.
    start = DAY + 10 * 12
    surge = Surge(start=start, kind="build", multiplier=15.0, ramp=4, hold=12, decay=6)
    readings = run(generate(demo_spec(surges=(surge,)), seed))
    fires = fired(readings)
    assert len(fires) == 1, fires
    delay = fires[0] - start
    assert 0 < delay <= 4, delay  # two hot buckets are needed, so never at the first
    episode_start = readings[fires[0]].episode_start
    assert episode_start is not None
    assert episode_start >= T0 + start * STEP


@pytest.mark.parametrize("seed", range(6))
def test_one_fired_resolved_pair_per_surge(seed: int) -> None:
    surges = (
        Surge(start=DAY + 9 * 12, kind="sudden", multiplier=12.0, ramp=1, hold=18, decay=6),
        Surge(start=2 * DAY + 14 * 12, kind="build", multiplier=10.0, ramp=6, hold=24, decay=12),
    )
    readings = run(generate(demo_spec(days=3, surges=surges), seed))
    transitions = [(i, r.transition) for i, r in enumerate(readings) if r.transition]
    assert [t for _, t in transitions] == ["fired", "resolved", "fired", "resolved"], transitions
    for (i_fire, _), surge in zip(transitions[::2], surges, strict=True):
        assert surge.start <= i_fire <= surge.start + surge.ramp + 2


def test_blip_of_one_bucket_never_pages() -> None:
    spec = demo_spec(
        days=2,
        surges=(Surge(start=DAY + 13 * 12, kind="blip", multiplier=20, ramp=1, hold=0, decay=0),),
    )
    rows = generate(spec, 3)
    readings = run(rows)
    assert readings[DAY + 13 * 12].hot  # it is noticed ...
    assert fired(readings) == []  # ... but one bucket is not a crisis


def test_minimum_volume_zero_to_three_never_pages() -> None:
    rows = [(T0 + i * STEP, 0) for i in range(DAY)]
    rows += [(T0 + (DAY + i) * STEP, 1 if i == 0 else 3) for i in range(24)]
    readings = run(rows)
    assert min(r.p_value for r in readings[DAY:]) < 0.01  # statistically very unusual ...
    assert not any(r.hot for r in readings)
    assert fired(readings) == []  # ... but far too small to page


def test_warm_up_never_fires() -> None:
    rows = [(T0 + i * STEP, 2) for i in range(6)] + [(T0 + (6 + i) * STEP, 200) for i in range(6)]
    readings = run(rows)
    assert all(r.warming_up for r in readings)
    assert fired(readings) == []


def test_replayed_bucket_is_ignored_idempotently() -> None:
    rows = generate(demo_spec(days=1), 1)
    det = SeriesDetector()
    run(rows[:200], det)
    state_before = json.dumps(det.to_state())
    previous = det.update(*rows[199])  # a duplicate of the last bucket ...
    older = det.update(rows[150][0], 999)  # ... and an old one with a wild value
    assert json.dumps(det.to_state()) == state_before
    assert previous == older
    assert previous.start == rows[199][0]
    assert previous.transition is None


def test_replay_of_the_firing_bucket_has_no_transition() -> None:
    surge = Surge(start=DAY + 10 * 12, kind="sudden", multiplier=15, ramp=1, hold=12, decay=3)
    rows = generate(demo_spec(surges=(surge,)), 2)
    det = SeriesDetector()
    readings = run(rows, det)
    i = fired(readings)[0]
    det2 = SeriesDetector()
    run(rows[: i + 1], det2)
    again = det2.update(*rows[i])
    assert again == replace(readings[i], transition=None)


@pytest.mark.parametrize("split", [5, DAY - 1, DAY + 10 * 12 + 2, 2 * DAY - 3])
def test_state_round_trip_through_json_gives_identical_readings(split: int) -> None:
    surge = Surge(start=DAY + 10 * 12, kind="build", multiplier=15, ramp=4, hold=12, decay=6)
    rows = generate(demo_spec(surges=(surge,)), 4)
    straight = run(rows)
    det = SeriesDetector()
    run(rows[:split], det)
    blob = json.dumps(det.to_state())
    assert len(blob) < 4000  # compact enough for a changelog-backed table
    restored = SeriesDetector(state=json.loads(blob))
    assert run(rows[split:], restored) == straight[split:]


def test_state_written_before_the_level_variance_existed_still_loads() -> None:
    # Tables written by earlier workers have no "lq": they load with no extra width, and the
    # level's variance is rebuilt from the next buckets on.
    rows = generate(demo_spec(days=2), 8)
    det = SeriesDetector()
    run(rows[:DAY], det)
    state = det.to_state()
    assert state["lq"] > 0.0
    old = {k: v for k, v in state.items() if k != "lq"}
    restored = SeriesDetector(state=old)
    assert restored.to_state()["lq"] == 0.0
    later = run(rows[DAY:], restored)
    assert restored.to_state()["lq"] > 0.0
    assert all(0.0 <= r.score <= 1.0 for r in later)


def test_level_uncertainty_widens_the_tail_and_shrinks_with_history() -> None:
    # The same observation is less surprising when the level rests on less evidence.
    rows = generate(demo_spec(days=3, alpha=0.1), 9)
    young, old = SeriesDetector(), SeriesDetector()
    run(rows[: DAY // 2], young)
    run(rows[: 2 * DAY + DAY // 2], old)
    v_young = young.lvar / young.seen**2
    v_old = old.lvar / old.seen**2
    assert v_old < v_young / 2


def test_gaps_are_zeros() -> None:
    rows = generate(demo_spec(days=1), 5)
    with_gap = [r for i, r in enumerate(rows) if not 100 <= i < 110]
    zero_filled = [(t, 0 if 100 <= i < 110 else x) for i, (t, x) in enumerate(rows)]
    a = SeriesDetector()
    readings_gap = [a.update(t, x) for t, x in with_gap]
    full = run(zero_filled)
    assert readings_gap[-1] == full[-1]
    assert a.to_state() == _state_after(zero_filled)
    b = SeriesDetector()
    run(with_gap[:100], b)
    filled = b.update_all(*with_gap[100])
    assert [r.start for r in filled] == [rows[i][0] for i in range(100, 111)]
    assert [r.observed for r in filled[:-1]] == [0.0] * 10


def _state_after(rows: list[tuple[datetime, int]]) -> dict[str, object]:
    det = SeriesDetector()
    run(rows, det)
    return det.to_state()


def test_score_is_a_tail_probability_in_unit_interval_and_monotone_in_observed() -> None:
    rows = generate(demo_spec(days=1), 6)
    det = SeriesDetector()
    run(rows[:-1], det)
    state = det.to_state()
    scores = []
    for x in [0, 1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144]:
        r = SeriesDetector(state=state).update(rows[-1][0], x)
        assert 0.0 <= r.score <= 1.0
        assert r.score == pytest.approx(1.0 - r.p_value)
        scores.append(r.score)
    assert scores == sorted(scores)
    assert scores[0] == 0.0  # nothing is unusual about zero mentions on the upper tail
    assert scores[-1] > 0.999


def test_scores_are_calibrated_on_a_stationary_series() -> None:
    # After the baseline has matured, P(score >= 0.99) should be about 1 %, not 10 % or 0.01 %.
    spec = SeriesSpec(
        name="flat", days=10, level=20.0, alpha=0.1, daily_amplitude=0.0, weekend_factor=1.0
    )
    # Pooled over four seeds: one seed gives 1440 readings, a handful of hits, and a share that
    # moves 0.14-0.6 % with the seed (seed 3 alone fell under the floor before and after the
    # tail-aware noise model).
    readings = [r for seed in (7, 1, 2, 3) for r in run(generate(spec, seed))[5 * DAY :]]
    share = sum(r.score >= 0.99 for r in readings) / len(readings)
    assert 0.002 <= share <= 0.03, share


def test_noise_model_learns_the_tail_it_keeps_out_of_the_baseline() -> None:
    # Buckets beyond hot_p barely teach the noise model (so a surge cannot widen its own band),
    # yet that tail holds 10-15 % of the variance: learning only the rest put alpha ~5 % low here
    # (0.91-0.99 of the truth) and up to 15 % low on bursty quiet months, enough to page on runs
    # the true model finds ordinary. The first bucket of a tail run now counts with the residual
    # the model expects of a tail bucket.
    ratios = []
    for seed in range(4):
        spec = SeriesSpec(
            name="flat", days=14, level=30.0, alpha=0.25, daily_amplitude=0.0, weekend_factor=1.0
        )
        det = SeriesDetector()
        run(generate(spec, seed), det)
        alpha = det.to_state()["x"][-1]
        ratios.append(alpha / spec.alpha)
    mean = sum(ratios) / len(ratios)
    assert 0.98 <= mean <= 1.25, ratios


def test_expected_band_contains_expected_and_most_observations() -> None:
    readings = run(generate(demo_spec(days=3), 8))[DAY:]
    assert all(r.lower <= r.expected <= r.upper for r in readings)
    inside = sum(r.lower <= r.observed <= r.upper for r in readings) / len(readings)
    assert inside >= 0.97, inside


def test_surge_does_not_pollute_the_baseline() -> None:
    # Averaged over six seeds: the surge shifts the generator's random stream, so after it the
    # clean and polluted series are different draws, and one seed's ratio moves 0.9-1.4 with the
    # noise alone (seed 9 sat at 1.29 against the 1.3 bound).
    surge = Surge(start=DAY + 10 * 12, kind="sudden", multiplier=15, ramp=1, hold=24, decay=3)
    after = surge.start + surge.length + 12  # an hour after the surge ended
    next_day = after + DAY  # the seasonal profile did not learn the surge either
    hour_after, day_after = [], []
    for seed in range(9, 15):
        clean = run(generate(demo_spec(days=3), seed))
        polluted = run(generate(demo_spec(days=3, surges=(surge,)), seed))
        hour_after.append(polluted[after].expected / clean[after].expected)
        day_after.append(polluted[next_day].expected / clean[next_day].expected)
    assert sum(hour_after) / len(hour_after) < 1.6, hour_after
    assert sum(day_after) / len(day_after) < 1.3, day_after


def test_severity_levels() -> None:
    surge = Surge(start=DAY + 12 * 12, kind="sudden", multiplier=30, ramp=1, hold=6, decay=1)
    readings = run(generate(demo_spec(surges=(surge,)), 10))
    severities = {r.severity for r in readings}
    assert severities <= {"info", "warning", "critical"}
    assert "critical" in severities
    assert all(r.severity == "info" for r in readings if not r.hot)


def test_naive_datetimes_are_utc() -> None:
    a, b = SeriesDetector(), SeriesDetector()
    ra = a.update(datetime(2024, 3, 4, 10, 0), 3)
    rb = b.update(datetime(2024, 3, 4, 10, 0, tzinfo=UTC), 3)
    assert ra == rb
    assert ra.start.tzinfo is not None


def test_invalid_input_and_config_are_refused() -> None:
    with pytest.raises(ValueError, match="observed"):
        SeriesDetector().update(T0, -1)
    with pytest.raises(ValueError, match="resolve_p"):
        DetectorConfig(resolve_p=1e-5)
    state = SeriesDetector().to_state()
    with pytest.raises(ValueError, match="buckets"):
        SeriesDetector(DetectorConfig(bucket_seconds=60), state=state)
    with pytest.raises(ValueError, match="version"):
        SeriesDetector(state={**state, "v": 99})


def test_reach_weighting_counts_big_audiences_more() -> None:
    cfg = DetectorConfig(reach_weight=0.5)
    rows = generate(demo_spec(days=1), 11)
    plain, weighted = SeriesDetector(cfg), SeriesDetector(cfg)
    for t, x in rows[:-1]:
        plain.update(t, x, reach=100.0 * x)
        weighted.update(t, x, reach=100.0 * x)
    t, _ = rows[-1]
    usual = plain.update(t, 10, reach=1000.0)
    famous = weighted.update(t, 10, reach=1000.0 * 100)
    assert usual.volume == pytest.approx(10.0, rel=0.05)
    assert famous.volume == pytest.approx(100.0, rel=0.05)  # 100x reach, weight 0.5 -> 10x
    assert famous.score > usual.score
    # With the default (reach weighting off) reach changes nothing.
    d1, d2 = SeriesDetector(), SeriesDetector()
    assert d1.update(t, 10, reach=5.0) == d2.update(t, 10, reach=5e6)


def quiet_first_morning() -> list[tuple[datetime, int]]:
    """A quiet series that paged at bucket 281 of its first day before the first-day rule.

    Month 8 of ``python -m pipeline.detection.quiet 150 6262``: level 46, strong rhythm, history
    starting on a Saturday 08:00, so its first morning (Sunday 06:00-07:30) rises ~5x with no
    daily profile yet.
    """
    from pipeline.detection.quiet import quiet_spec

    spec = quiet_spec(
        level=45.96622722947316,
        alpha=0.16733740603426442,
        daily_amplitude=0.9921538452944467,
        weekend_factor=0.7830140553168715,
        zero_inflation=0.0,
        start_hours=5 * 24 + 8,
        days=1,
    )
    return generate(spec, 666904097)


def test_first_day_morning_rise_does_not_page_but_would_without_the_rule() -> None:
    rows = quiet_first_morning()
    assert fired(run(rows)) == []
    off = DetectorConfig(first_day_min_ratio=DetectorConfig().min_ratio)
    assert fired(run(rows, SeriesDetector(off))) != []  # the rule is what keeps it quiet


@pytest.mark.parametrize("seed", range(4))
def test_a_hundredfold_surge_on_the_first_day_still_pages_at_once(seed: int) -> None:
    # Three hours of history (just past warm-up), then 100x normal: fires on the second bucket.
    start = 36
    surge = Surge(start=start, kind="sudden", multiplier=100.0, ramp=1, hold=12, decay=4)
    spec = demo_spec(days=1, level=2.0, daily_amplitude=0.0, surges=(surge,))
    readings = run(generate(spec, seed))
    assert fired(readings) == [start + 1]
    assert readings[start + 1].severity == "critical"


def test_one_minute_buckets_three_calm_hours_then_a_surge_pages_on_day_one() -> None:
    # The integration tests' situation: 180 one-minute buckets at ~0.25/min, then 40/min.
    det = SeriesDetector(DetectorConfig(bucket_seconds=60))
    rows = [(T0 + timedelta(minutes=i), 1 if i % 4 == 0 else 0) for i in range(180)]
    rows += [(T0 + timedelta(minutes=180 + i), 40) for i in range(3)]
    assert fired(run(rows, det)) == [181]


def test_first_day_min_ratio_below_min_ratio_is_refused() -> None:
    with pytest.raises(ValueError, match="first_day_min_ratio"):
        DetectorConfig(first_day_min_ratio=1.0)


def test_busy_day_two_morning_does_not_page_but_would_without_the_settled_profile() -> None:
    # A quiet month drawn by `python -m pipeline.detection.quiet 150 8484` (month 7) that paged
    # at 07:30 on its second morning: 45 a bucket, the full demo rhythm, starting Friday 07:00.
    spec = quiet_spec(
        level=45.16,
        alpha=0.2495,
        daily_amplitude=0.967,
        weekend_factor=0.692,
        zero_inflation=0.0,
        start_hours=4 * 24 + 7,
        days=3,
    )
    assert pages(spec, 566303867) == []
    assert pages(spec, 566303867, DetectorConfig(daily_spread=0.0)) != []
