"""The seasonal profile: shrinkage that fades with history, and day factors blended near midnight."""

from __future__ import annotations

import math

import pytest

from pipeline.detection.seasonal import SeasonalProfile

DAY = 86400.0
WEEK = 7 * DAY


def weekly(blend: float) -> SeasonalProfile:
    return SeasonalProfile(
        slots=7,
        period_seconds=int(WEEK),
        bucket_seconds=300,
        memory_periods=8.0,
        prior_periods=1.0,
        clip=20.0,
        blend=blend,
    )


def teach(profile: SeasonalProfile, weeks: int, value_of_day: list[float]) -> None:
    """Feed ``weeks`` weeks of 5-minute buckets whose value depends only on the day."""
    for i in range(int(weeks * WEEK / 300)):
        t_mid = i * 300 + 150.0
        day = int((t_mid % WEEK) // DAY)
        profile.learn(t_mid, value_of_day[day], 1.0)


def test_blended_profile_is_flat_within_a_day_and_changes_around_midnight() -> None:
    days = [1.0, 1.0, 0.5, 0.5, 1.0, 1.0, 1.0]  # epoch day 0 is a Thursday: 2, 3 = Sat, Sun
    p = weekly(blend=4 / 24)
    teach(p, 6, days)
    sunday, monday = 3 * DAY, 4 * DAY
    flat = [p.factor_at(sunday + h * 3600) for h in (2.5, 8, 12, 16, 21.5)]
    assert max(flat) - min(flat) < 1e-9
    assert p.factor_at(monday + 2.5 * 3600) == pytest.approx(p.factor_at(monday + 12 * 3600))
    midnight = p.factor_at(monday)
    assert flat[0] < midnight < p.factor_at(monday + 12 * 3600)
    # Noon-to-noon interpolation (blend 1) is still more than a third of the way back to the
    # weekend at Monday 03:00: that is the error the blend removes.
    q = weekly(blend=1.0)
    teach(q, 6, days)
    assert q.factor_at(monday + 3 * 3600) < 0.9 * q.factor_at(monday + 12 * 3600)
    assert p.factor_at(monday + 3 * 3600) == pytest.approx(p.factor_at(monday + 12 * 3600))


@pytest.mark.parametrize("weeks", [1, 3, 6])
def test_shrinkage_toward_flat_fades_with_history(weeks: int) -> None:
    p = weekly(blend=4 / 24)
    teach(p, weeks, [1.0, 1.0, 0.5, 0.5, 1.0, 1.0, 1.0])
    ratio = p.factor_at(3 * DAY + 12 * 3600) / p.factor_at(5 * DAY + 12 * 3600)
    d = p.n[3] / (WEEK / 7 / 300)  # decayed weeks of history in Sunday's slot
    applied = d * d / (d * d + 1.0)
    # (Not exact: within 2 h of Monday the Sunday slot also learns some Monday buckets.)
    assert math.log(ratio) == pytest.approx(math.log(0.5) * applied, rel=0.06)
    if weeks >= 3:
        assert ratio < 0.5**0.8  # at least 80 % of the true weekend dip after three weeks


def daily(spread: float) -> SeasonalProfile:
    return SeasonalProfile(
        slots=24,
        period_seconds=int(DAY),
        bucket_seconds=300,
        memory_periods=21.0,
        prior_periods=2.0,
        clip=20.0,
        noise_alpha=0.3,
        spread=spread,
    )


def one_day(profile: SeasonalProfile, scale: float) -> None:
    """One day of buckets, night at ``scale`` / 10 and day at ``scale``, each compared with a
    baseline that sits at the hour's own level: the worst case of a young baseline."""
    for i in range(288):
        t_mid = i * 300 + 150.0
        value = scale if 8 <= t_mid // 3600 < 20 else scale / 10
        profile.learn(t_mid, value, value)


def settled_day(spread: float, scale: float) -> SeasonalProfile:
    """A daily profile taught :func:`one_day` against its own level, then settled."""
    p = daily(spread)
    one_day(p, scale)
    p.settle()
    return p


def log_day_over_night(p: SeasonalProfile) -> float:
    return math.log(p.factor_at(14 * 3600.0) / p.factor_at(3 * 3600.0))


def test_settle_compares_first_day_slots_with_the_days_mean_not_the_young_baseline() -> None:
    young = daily(spread=0.5)
    one_day(young, 40.0)
    assert log_day_over_night(settled_day(0.5, 40.0)) > math.log(2.0) + log_day_over_night(young)


@pytest.mark.parametrize(("scale", "applied"), [(40.0, 0.8), (0.5, 0.45)])
def test_a_precisely_known_slot_is_applied_beyond_its_age(scale: float, applied: float) -> None:
    """Busy series: one day shows the rhythm (se of a log factor ~0.17); sparse: it stays shrunk."""
    busy_ratio = log_day_over_night(settled_day(0.5, scale))
    aged_ratio = log_day_over_night(settled_day(0.0, scale))
    true_ratio = math.log(10.0)
    assert aged_ratio == pytest.approx(true_ratio * 0.2, rel=0.1)  # 1 day: 1 / (1 + 2**2)
    if scale > 1:
        assert busy_ratio > applied * true_ratio
    else:
        assert busy_ratio < applied * true_ratio


def test_configure_is_part_of_the_state_contract() -> None:
    """A profile restored from a dump and configured the same way gives the same factors."""
    p = settled_day(0.5, 20.0)
    q = daily(spread=0.5)
    q.configure(unit=1, settled=True)
    q.load(p.dump())
    assert q.factors() == p.factors()
    q.configure(unit=10, settled=True)  # counts in tens: noisier per count, shrunk more
    assert q.factors() != p.factors()
