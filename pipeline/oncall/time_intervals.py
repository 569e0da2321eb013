"""Alertmanager's time intervals: "business hours", "nights", "weekends" as data.

A named interval (top-level ``time_intervals`` in the routing file) is a list of
:class:`TimeInterval`; it contains a moment when any of them does. One :class:`TimeInterval`
contains a moment when every field it sets does (a field left out matches always), all read on the
wall clock of its ``location`` (an IANA zone, default UTC), so "09:00" stays 09:00 across a DST
change. The field syntax is Alertmanager's, checked as strictly:

* ``times``: ``[{start_time: "09:00", end_time: "17:00"}]``, start included, end excluded, ``24:00``
  allowed as an end. A range must not cross midnight: write ``22:00-06:00`` as two ranges,
  ``22:00-24:00`` and ``00:00-06:00``, exactly as Alertmanager requires;
* ``weekdays``: ``monday`` or ``monday:friday`` (inclusive, must not run backwards: write a weekend
  as ``[saturday, sunday]``);
* ``days_of_month``: ``1``..``31`` or from the end ``-1``..``-31`` (``-1`` is the last day), ranges
  like ``"1:7"`` or ``"-3:-1"``; a range is clamped to the month, as in Alertmanager;
* ``months``: ``january``..``december`` or ``1``..``12``, ranges like ``"june:august"``;
* ``years``: ``"2026"`` or ``"2026:2027"``.

Parsing raises :class:`ValueError` with a short reason; ``pipeline.oncall.routing`` adds the file, line
and field. :meth:`TimeInterval.contains` is pure: the caller passes the moment (an aware datetime).
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
MONTHS = tuple(name.lower() for name in calendar.month_name[1:])
_CLOCK = re.compile(r"(?:([01]\d|2[0-3]):([0-5]\d)|24:00)")

UTC_ZONE = ZoneInfo("UTC")
Range = tuple[int, int]  # both ends included, except for minutes of the day (end excluded)


def parse_clock(text: str) -> int:
    """Minutes since midnight in ``HH:MM`` (``00:00``..``23:59``, or ``24:00``)."""
    match = _CLOCK.fullmatch(text)
    if match is None:
        raise ValueError(f"{text!r} is not a time of day HH:MM between 00:00 and 24:00")
    return 24 * 60 if match[1] is None else int(match[1]) * 60 + int(match[2])


def parse_times(start: str, end: str) -> Range:
    """One ``times`` entry as minutes of the day, start included, end excluded."""
    begin, stop = parse_clock(start), parse_clock(end)
    if begin >= stop:
        raise ValueError(
            f"start_time {start} must be before end_time {end}; a range over midnight is two "
            f"ranges ({start}-24:00 and 00:00-{end})"
        )
    return begin, stop


def _ends(text: str) -> tuple[str, str]:
    first, sep, second = text.partition(":")
    return (first, second) if sep else (first, first)


def _named(text: str, names: Sequence[str], what: str) -> int:
    """1-based index of a name (case-insensitive) or, for months, of a number."""
    low = text.strip().lower()
    if low in names:
        return names.index(low) + 1
    if what == "month" and low.isdigit() and 1 <= int(low) <= 12:
        return int(low)
    raise ValueError(f"{text!r} is not a {what} ({names[0]}..{names[-1]})")


def parse_weekdays(text: str) -> Range:
    """``monday`` or ``monday:friday`` as 1 (Monday)..7 (Sunday), never backwards."""
    first, last = (_named(part, WEEKDAYS, "weekday") for part in _ends(text))
    if first > last:
        raise ValueError(f"{text!r} runs backwards; list the days or split the range")
    return first, last


def parse_months(text: str) -> Range:
    """``january``, ``3`` or ``june:august`` as 1..12, never backwards."""
    first, last = (_named(part, MONTHS, "month") for part in _ends(text))
    if first > last:
        raise ValueError(f"{text!r} runs backwards; split the range")
    return first, last


def _integer(text: str, what: str) -> int:
    try:
        return int(text.strip())
    except ValueError:
        raise ValueError(f"{text!r} is not a {what}") from None


def parse_days_of_month(text: str) -> Range:
    """``5``, ``"1:7"``, ``-1`` (last day) or ``"-7:-1"``: days 1..31 or -31..-1."""
    first, last = (_integer(part, "day of the month") for part in _ends(text))
    for day in (first, last):
        if day == 0 or not -31 <= day <= 31:
            raise ValueError(f"{text!r}: days of the month are 1..31 or -31..-1")
    if (first > 0) == (last > 0) and first > last:
        raise ValueError(f"{text!r} runs backwards")
    return first, last


def parse_years(text: str) -> Range:
    """``"2026"`` or ``"2026:2027"``."""
    first, last = (_integer(part, "year") for part in _ends(text))
    if first <= 0 or last <= 0:
        raise ValueError(f"{text!r}: years are positive")
    if first > last:
        raise ValueError(f"{text!r} runs backwards")
    return first, last


def parse_location(name: str) -> ZoneInfo:
    """An IANA time zone such as ``Europe/Paris``."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{name!r} is not an IANA time zone such as Europe/Paris") from None


def _within(value: int, ranges: tuple[Range, ...]) -> bool:
    return any(first <= value <= last for first, last in ranges)


@dataclass(frozen=True)
class TimeInterval:
    """One entry of a named interval; an empty tuple means "any" for that field."""

    times: tuple[Range, ...] = ()
    weekdays: tuple[Range, ...] = ()
    days_of_month: tuple[Range, ...] = ()
    months: tuple[Range, ...] = ()
    years: tuple[Range, ...] = ()
    location: ZoneInfo = UTC_ZONE

    def contains(self, moment: datetime) -> bool:
        """Whether ``moment`` (timezone-aware) falls inside, read in :attr:`location`."""
        if moment.tzinfo is None:
            raise ValueError("contains() needs a timezone-aware datetime")
        local = moment.astimezone(self.location)
        if self.times:
            minute = local.hour * 60 + local.minute
            if not any(start <= minute < end for start, end in self.times):
                return False
        if self.weekdays and not _within(local.isoweekday(), self.weekdays):
            return False
        if self.days_of_month and not self._day_matches(local):
            return False
        if self.months and not _within(local.month, self.months):
            return False
        return not self.years or _within(local.year, self.years)

    def _day_matches(self, local: datetime) -> bool:
        """Alertmanager's rule: negative days count from the month's end, ranges clamped to it."""
        size = calendar.monthrange(local.year, local.month)[1]
        for first, last in self.days_of_month:
            begin = size + first + 1 if first < 0 else first
            end = size + last + 1 if last < 0 else last
            if begin > size:
                continue
            begin, end = max(begin, 1), min(end, size)
            if begin <= local.day <= end:
                return True
        return False


@dataclass(frozen=True)
class NamedInterval:
    """A top-level ``time_intervals`` entry: inside when any of its intervals contains the time."""

    name: str
    intervals: tuple[TimeInterval, ...]

    def contains(self, moment: datetime) -> bool:
        return any(interval.contains(moment) for interval in self.intervals)
