"""A detector's verdict on one bucket, and its compact form in the detector's state."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

SEVERITIES = ("info", "warning", "critical")


def epoch_datetime(epoch: float) -> datetime:
    """Unix seconds as an aware UTC datetime."""
    return datetime.fromtimestamp(epoch, UTC)


@dataclass(frozen=True)
class Reading:
    """The detector's verdict on one bucket (and the alert state after it)."""

    start: datetime
    """Start of the bucket (timezone-aware, UTC)."""
    observed: float
    """Mentions counted in the bucket (so far, for an early page)."""
    expected: float
    """Expected volume of the whole bucket from the baseline."""
    lower: float
    """Lower edge of the expected band."""
    upper: float
    """Upper edge of the expected band."""
    score: float
    """``1 - p``: a calibrated tail probability, 0.999 means a 1-in-1000 bucket."""
    severity: str
    """``info`` (not unusual enough to act on), ``warning`` (pages) or ``critical``."""
    firing: bool
    """Alert state after this bucket."""
    transition: str | None
    """``"fired"`` where an alert starts (a page goes out), ``"resolved"`` where it ends."""
    episode_start: datetime | None
    """Start of the bucket where the current (or just-resolved) episode paged; stable across
    replays, so it belongs in the alert's dedup key."""
    warming_up: bool
    """True while the series is too young to page."""
    p_value: float = 1.0
    """The tail probability itself (``1 - score``, kept for its precision)."""
    volume: float = 0.0
    """What was scored (the count)."""
    hot: bool = False
    """This bucket alone passed the paging test."""
    fired_at: datetime | None = None
    """Event time at which the page went out: the tipping mention's time for an early page, the
    bucket's end for a page at close."""
    early: bool = False
    """The page went out while the bucket was still filling."""

    @property
    def surprise(self) -> float:
        """``-log10(p_value)``: 3 means a 1-in-1000 bucket."""
        return -math.log10(max(self.p_value, 1e-300))


def reading_to_list(r: Reading) -> list[Any]:
    return [
        r.start.timestamp(),
        r.observed,
        r.expected,
        r.lower,
        r.upper,
        r.score,
        SEVERITIES.index(r.severity),
        r.firing,
        r.transition,
        None if r.episode_start is None else r.episode_start.timestamp(),
        r.warming_up,
        r.p_value,
        r.volume,
        r.hot,
        None if r.fired_at is None else r.fired_at.timestamp(),
        r.early,
    ]


def reading_from_list(v: list[Any]) -> Reading:
    return Reading(
        start=epoch_datetime(float(v[0])),
        observed=float(v[1]),
        expected=float(v[2]),
        lower=float(v[3]),
        upper=float(v[4]),
        score=float(v[5]),
        severity=SEVERITIES[int(v[6])],
        firing=bool(v[7]),
        transition=v[8],
        episode_start=None if v[9] is None else epoch_datetime(float(v[9])),
        warming_up=bool(v[10]),
        p_value=float(v[11]),
        volume=float(v[12]),
        hot=bool(v[13]),
        fired_at=None if v[14] is None else epoch_datetime(float(v[14])),
        early=bool(v[15]),
    )
