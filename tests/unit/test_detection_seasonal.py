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
