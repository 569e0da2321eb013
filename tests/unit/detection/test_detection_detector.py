"""The surge detector: paging rules, robustness, calibration, state, early firing and settings."""

from __future__ import annotations

import json
import math
import random
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from pipeline.detection import DetectorConfig, Reading, SeriesDetector
from pipeline.detection.config import (
    SENSITIVITY_LEVELS,
    DetectorConfigError,
    load_detection_settings,
)
from pipeline.detection.detector import densest
from pipeline.detection.synthetic import SeriesSpec, Surge, generate

DAY = 288
T0 = datetime(2024, 3, 4, tzinfo=UTC)  # a Monday


def run(rows: Sequence[tuple[datetime, float]], cfg: DetectorConfig | None = None) -> list[Reading]:
    det = SeriesDetector(cfg)
    return [det.update(t, x) for t, x in rows]


def fired(readings: list[Reading]) -> list[int]:
    return [i for i, r in enumerate(readings) if r.transition == "fired"]


def flat(values: list[float], start: datetime = T0) -> list[tuple[datetime, float]]:
    return [(start + timedelta(minutes=5 * i), v) for i, v in enumerate(values)]


def poisson(rng: random.Random, mean: float) -> int:
    # Knuth for small means, a normal approximation for large ones (enough for a test series).
    if mean > 50:
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit, k, p = math.exp(-mean), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def noisy(days: int, level: float, seed: int = 1) -> list[tuple[datetime, float]]:
    rng = random.Random(seed)
    return flat([float(poisson(rng, level)) for _ in range(days * DAY)])


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_quiet_synthetic_days_do_not_page(seed: int) -> None:
    spec = SeriesSpec(name="q", days=6, level=8.0, alpha=0.2)
    assert fired(run(generate(spec, seed))) == []


@pytest.mark.parametrize("seed", [11, 12])
def test_a_sudden_twentyfold_surge_on_day_three_pages_at_once(seed: int) -> None:
    start = 2 * DAY + 150
    spec = SeriesSpec(
        name="s",
        days=4,
        level=5.0,
        alpha=0.1,
        surges=(Surge(start=start, kind="sudden", multiplier=20, ramp=1, hold=10),),
    )
    pages = fired(run(generate(spec, seed)))
    assert pages and start <= pages[0] <= start + 2, pages


def test_one_page_and_one_resolve_per_surge() -> None:
    values = [10.0] * (3 * DAY) + [200.0] * 6 + [10.0] * 60
    readings = run(flat(values))
    assert [r.transition for r in readings if r.transition] == ["fired", "resolved"]


def test_minimum_volume_zero_to_three_never_pages() -> None:
    values = [0.0] * (2 * DAY) + [3.0] * 3 + [0.0] * 20
    assert fired(run(flat(values))) == []


def test_warm_up_never_fires() -> None:
    values = [2.0] * 60 + [500.0] * 5  # five hours of history: still warming up
    assert fired(run(flat(values))) == []


def test_replayed_bucket_is_ignored_idempotently() -> None:
    det = SeriesDetector()
    rows = noisy(2, 5.0)
    for t, x in rows:
        det.update(t, x)
    before = json.dumps(det.to_state())
    again = det.update(rows[-5][0], 999.0)
    assert again.transition is None
    assert json.dumps(det.to_state()) == before


def test_replay_of_the_firing_bucket_has_no_transition() -> None:
    det = SeriesDetector()
    values = [10.0] * (2 * DAY) + [300.0]
    rows = flat(values)
    readings = [det.update(t, x) for t, x in rows]
    assert readings[-1].transition == "fired"
    assert det.update(*rows[-1]).transition is None


@pytest.mark.parametrize("split", [DAY // 2, DAY + 7, 2 * DAY + 40])
def test_state_round_trip_through_json_gives_identical_readings(split: int) -> None:
    rows = noisy(3, 6.0, seed=5) + flat([200.0] * 3 + [6.0] * 30, T0 + timedelta(days=3))
    straight = run(rows)
    det = SeriesDetector()
    for t, x in rows[:split]:
        det.update(t, x)
    restored = SeriesDetector(state=json.loads(json.dumps(det.to_state())))
    rest = [restored.update(t, x) for t, x in rows[split:]]
    assert rest == straight[split:]


def test_state_of_another_version_or_bucket_width_is_refused() -> None:
    state = SeriesDetector().to_state()
    with pytest.raises(ValueError, match="version"):
        SeriesDetector(state={**state, "v": 1})
    with pytest.raises(ValueError, match="buckets"):
        SeriesDetector(DetectorConfig(bucket_seconds=60), state)


def test_gaps_are_zeros() -> None:
    det = SeriesDetector()
    det.update(T0, 4.0)
    out = det.update_all(T0 + timedelta(minutes=25), 4.0)
    assert [r.observed for r in out] == [0.0, 0.0, 0.0, 0.0, 4.0]
    assert next(r.start for r in out) == T0 + timedelta(minutes=5)


def test_score_is_in_unit_interval_and_monotone_in_observed() -> None:
    det = SeriesDetector()
    for t, x in noisy(3, 8.0):
        det.update(t, x)
    state = det.to_state()
    t = T0 + timedelta(days=3)
    scores = [SeriesDetector(state=state).update(t, x).score for x in range(0, 200, 5)]
    assert all(0.0 <= s <= 1.0 for s in scores)
    assert scores == sorted(scores)


def test_scores_are_calibrated_on_a_stationary_series() -> None:
    """p < alpha on about alpha of the buckets of a surge-free series (the POT tail's promise)."""
    readings = run(noisy(28, 20.0, seed=3))[2 * DAY :]
    for alpha in (0.05, 0.01):
        share = sum(r.p_value < alpha for r in readings) / len(readings)
        assert 0.3 * alpha <= share <= 2.0 * alpha, (alpha, share)


def test_expected_band_contains_expected_and_most_observations() -> None:
    readings = run(noisy(5, 30.0))[DAY:]
    assert all(r.lower <= r.expected <= r.upper for r in readings)
    inside = sum(r.lower <= r.observed <= r.upper for r in readings) / len(readings)
    assert inside > 0.95


def test_a_surge_does_not_pollute_the_baseline() -> None:
    values = [20.0] * (3 * DAY) + [400.0] * 24 + [20.0] * 24
    readings = run(flat(values))
    assert readings[-1].expected == pytest.approx(20.0, rel=0.25)


def test_a_lasting_level_shift_is_absorbed_within_two_days() -> None:
    rng = random.Random(2)
    values = [float(poisson(rng, 10)) for _ in range(3 * DAY)]
    values += [float(poisson(rng, 30)) for _ in range(2 * DAY)]
    readings = run(flat(values))
    assert readings[-1].expected == pytest.approx(30.0, rel=0.2)
    assert not readings[-1].firing


def test_severity_levels() -> None:
    values = [10.0] * (3 * DAY)
    warning = run(flat([*values, 100.0]))[-1]
    critical = run(flat([*values, 2000.0]))[-1]
    assert (warning.transition, warning.severity) == ("fired", "warning")
    assert (critical.transition, critical.severity) == ("fired", "critical")


def test_naive_datetimes_are_utc() -> None:
    det = SeriesDetector()
    naive = det.update(datetime(2024, 3, 4, 12, 0), 3.0)
    assert naive.start == datetime(2024, 3, 4, 12, 0, tzinfo=UTC)


def test_invalid_input_and_config_are_refused() -> None:
    det = SeriesDetector()
    for bad in (-1.0, math.nan, math.inf):
        with pytest.raises(ValueError):
            det.update(T0, bad)
    with pytest.raises(DetectorConfigError):
        DetectorConfig(alert_p=0.0)
    with pytest.raises(DetectorConfigError):
        DetectorConfig(early_window_seconds=30.0)
    with pytest.raises(DetectorConfigError):
        DetectorConfig.for_sensitivity("paranoid")


def test_higher_sensitivity_pages_at_least_as_often() -> None:
    rows = []
    for i, (t, x) in enumerate(noisy(10, 6.0, seed=9)):
        burst = 12 if i % 500 == 499 else 1  # a one-bucket 12-fold burst every ~42 hours
        rows.append((t, x * burst))
    counts = [
        len(fired(run(rows, DetectorConfig.for_sensitivity(level))))
        for level in ("low", "standard", "high")
    ]
    assert counts == sorted(counts) and counts[-1] > 0, counts
    assert list(SENSITIVITY_LEVELS) == ["low", "standard", "high"]


# -- early firing on the filling bucket ----------------------------------------------------------


def trained(level: float = 2.0, days: int = 3) -> SeriesDetector:
    det = SeriesDetector()
    for t, x in noisy(days, level, seed=4):
        det.update(t, x)
    return det


def test_densest_counts_the_most_arrivals_within_a_width() -> None:
    assert densest([0.0, 1.0, 2.0, 50.0, 100.0, 101.0], 60.0) == 4
    assert densest([], 60.0) == 0


def test_a_strong_surge_pages_early_and_its_close_confirms_without_a_second_page() -> None:
    det = trained()
    start = T0 + timedelta(days=3)
    epoch = start.timestamp()
    arrivals: list[float] = []
    page = None
    for i in range(60):  # 12 a minute from 30 s into the bucket
        now = epoch + 30 + 5 * i
        arrivals.append(now)
        page = det.judge_filling(start, float(i + 1), arrivals, now)
        if page is not None:
            break
    assert page is not None and page.early and page.transition == "fired"
    assert page.fired_at is not None and page.fired_at - start <= timedelta(seconds=120)
    assert page.episode_start == start
    closed = det.update(start, 60.0)
    assert closed.transition is None and closed.firing


def test_buckets_closing_after_an_early_page_that_predate_it_do_not_resolve_it() -> None:
    det = trained()
    start = T0 + timedelta(days=3, hours=1)  # the hour before it is still open (long lateness)
    epoch = start.timestamp()
    arrivals = [epoch + 30 + 5 * i for i in range(40)]
    page = None
    for k in range(len(arrivals)):
        page = det.judge_filling(start, k + 1.0, arrivals[: k + 1], arrivals[k])
        if page is not None:
            break
    assert page is not None and page.transition == "fired"
    hour_before = [start - timedelta(minutes=5 * (12 - i)) for i in range(12)]
    late_closes = [det.update(t, 1.0) for t in hour_before]  # calm, older than the episode
    assert [r.transition for r in late_closes] == [None] * 12
    assert all(r.firing for r in late_closes)
    assert det.update(start, 40.0).transition is None  # the episode's own bucket confirms
    after = [det.update(start + timedelta(minutes=5 * (i + 1)), 1.0) for i in range(3)]
    assert [r.transition for r in after] == [None, None, "resolved"]


def test_a_blip_of_one_minute_does_not_page_early() -> None:
    det = trained()
    start = T0 + timedelta(days=3)
    epoch = start.timestamp()
    arrivals = [epoch + 10 + i for i in range(50)]  # fifty mentions within one minute
    for k in range(len(arrivals)):
        assert det.judge_filling(start, k + 1.0, arrivals[: k + 1], arrivals[k]) is None
    # ... and the background after it (one mention 40 s later) does not turn it into a page.
    arrivals.append(epoch + 100)
    assert det.judge_filling(start, 51.0, arrivals, epoch + 100) is None


def test_no_early_page_while_warming_up_or_on_a_closed_bucket() -> None:
    young = SeriesDetector()
    young.update(T0, 1.0)
    now = T0.timestamp() + 600
    arrivals = [now - 80 + 2 * i for i in range(40)]
    assert young.judge_filling(T0 + timedelta(minutes=10), 40.0, arrivals, now) is None
    det = trained()
    last = T0 + timedelta(days=3) - timedelta(minutes=5)
    assert det.judge_filling(last, 40.0, arrivals, now) is None


def test_score_filling_is_a_floor_on_the_closed_score() -> None:
    det = trained(level=5.0)
    start = T0 + timedelta(days=3)
    partial = det.score_filling(start, 20.0)
    closed = det.update(start, 30.0).score
    assert 0.0 <= partial <= closed


# -- settings file ------------------------------------------------------------------------------


def test_detection_settings_file_overrides_per_brand_and_topic(tmp_path: Path) -> None:
    path = tmp_path / "detection.yaml"
    path.write_text(
        "sensitivity: low\n"
        "settings: {min_observed: 5}\n"
        "overrides:\n"
        "  - {brand: valmoreau, topic: adverse_event, sensitivity: high}\n"
        "  - {topic: 'pri*', settings: {min_ratio: 2.0}}\n",
        encoding="utf-8",
    )
    settings = load_detection_settings(path)
    base = settings.config_for(300, "other", "scandal")
    assert (base.alert_p, base.min_observed) == (SENSITIVITY_LEVELS["low"], 5.0)
    ae = settings.config_for(300, "valmoreau", "adverse_event")
    assert ae.alert_p == SENSITIVITY_LEVELS["high"]
    assert settings.config_for(300, "x", "pricing").min_ratio == 2.0


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("sensitivity: paranoid\n", "unknown sensitivity"),
        ("settings: {min_obsreved: 5}\n", "unknown setting"),
        ("overrides:\n  - {brand: a, colour: red}\n", r"overrides\[0\]: unknown key"),
        ("settings: {alert_p: 2}\n", "alert_p"),
        ("- a\n", "mapping"),
    ],
)
def test_bad_detection_settings_name_the_file_and_entry(
    tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "detection.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DetectorConfigError, match=message) as info:
        load_detection_settings(path)
    assert str(path) in str(info.value)
