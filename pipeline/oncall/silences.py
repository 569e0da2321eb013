"""Silences: mute notifications for alerts whose labels match, between a start and an end.

The request shape is Alertmanager's API v2 silence (``matchers`` of ``name`` / ``value`` /
``isRegex`` / ``isEqual``, ``startsAt``, ``endsAt``, ``createdBy``, ``comment``), so an SRE can
reuse what they know. A silence mutes firing and escalated steps only: a resolved notice is always
sent, so nobody is left believing a silenced incident is still open. Expiring a silence sets its
end to now instead of deleting it, which keeps the history readable.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pipeline.errors import TocsinError
from pipeline.oncall import regex_guard
from pipeline.oncall.routing import LABELS

MAX_DURATION = timedelta(days=30)
MUTED_STATES = frozenset({"firing", "escalated"})


class SilenceError(TocsinError, ValueError):
    """A silence request is invalid; the message names the field."""


@dataclass(frozen=True)
class SilenceMatcher:
    name: str
    value: str
    is_regex: bool = False
    is_equal: bool = True

    def matches(self, labels: Mapping[str, str]) -> bool:
        actual = labels.get(self.name, "")
        hit = (
            re.fullmatch(self.value, actual) is not None if self.is_regex else actual == self.value
        )
        return hit == self.is_equal


@dataclass(frozen=True)
class Silence:
    id: str
    matchers: tuple[SilenceMatcher, ...]
    starts_at: datetime
    ends_at: datetime
    created_by: str
    comment: str

    def state(self, now: datetime) -> str:
        if now < self.starts_at:
            return "pending"
        return "active" if now < self.ends_at else "expired"

    def mutes(self, labels: Mapping[str, str], now: datetime) -> bool:
        return self.state(now) == "active" and all(m.matches(labels) for m in self.matchers)

    def expired(self, now: datetime) -> Silence:
        """This silence ended at ``now`` (or unchanged if it already ended)."""
        if self.ends_at <= now:
            return self
        start = min(self.starts_at, now)
        return Silence(self.id, self.matchers, start, now, self.created_by, self.comment)

    def to_dict(self, now: datetime | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "matchers": [
                {"name": m.name, "value": m.value, "isRegex": m.is_regex, "isEqual": m.is_equal}
                for m in self.matchers
            ],
            "startsAt": self.starts_at.isoformat(),
            "endsAt": self.ends_at.isoformat(),
            "createdBy": self.created_by,
            "comment": self.comment,
        }
        if now is not None:
            out["status"] = {"state": self.state(now)}
        return out


def _time(obj: Mapping[str, Any], name: str, default: datetime | None) -> datetime:
    raw = obj.get(name)
    if raw is None and default is not None:
        return default
    if not isinstance(raw, str):
        raise SilenceError(f"{name}: expected an RFC 3339 date-time string")
    try:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise SilenceError(f"{name}: {raw!r} is not an RFC 3339 date-time") from None
    if value.tzinfo is None:
        raise SilenceError(f"{name}: needs a time zone (e.g. Z)")
    return value


def _text(obj: Mapping[str, Any], name: str, limit: int) -> str:
    raw = obj.get(name)
    if not isinstance(raw, str) or not raw.strip():
        raise SilenceError(f"{name}: required, a non-empty string")
    if len(raw) > limit:
        raise SilenceError(f"{name}: longer than {limit} characters")
    return raw.strip()


def _matchers(raw_matchers: Any) -> tuple[SilenceMatcher, ...]:
    """Alertmanager v2 matchers, checked (names, types, regex safety, lengths)."""
    if not isinstance(raw_matchers, list) or not raw_matchers:
        raise SilenceError("matchers: required, a non-empty list")
    matchers: list[SilenceMatcher] = []
    for i, item in enumerate(raw_matchers):
        where = f"matchers[{i}]"
        if not isinstance(item, Mapping):
            raise SilenceError(f"{where}: expected an object")
        name, value = item.get("name"), item.get("value")
        if name not in LABELS:
            raise SilenceError(f"{where}.name: one of {', '.join(LABELS)}")
        if not isinstance(value, str):
            raise SilenceError(f"{where}.value: expected a string")
        is_regex, is_equal = item.get("isRegex", False), item.get("isEqual", True)
        if not isinstance(is_regex, bool) or not isinstance(is_equal, bool):
            raise SilenceError(f"{where}: isRegex and isEqual are true or false")
        if is_regex:
            try:
                regex_guard.check(value)
            except re.error as exc:
                raise SilenceError(f"{where}.value: bad regular expression ({exc})") from None
            except regex_guard.UnsafeRegex as exc:
                raise SilenceError(f"{where}.value: unsafe regular expression: {exc}") from None
        elif len(value) > 1000:
            raise SilenceError(f"{where}.value: longer than 1000 characters")
        matchers.append(SilenceMatcher(str(name), value, is_regex, is_equal))
    return tuple(matchers)


def parse_silence(obj: Any, *, silence_id: str, now: datetime) -> Silence:
    """Validate an API request body into a :class:`Silence` (``SilenceError`` names the field)."""
    if not isinstance(obj, Mapping):
        raise SilenceError("body: expected a JSON object")
    matchers = _matchers(obj.get("matchers"))
    if all(m.matches({}) for m in matchers):  # Alertmanager's rule against muting everything
        raise SilenceError("matchers: at least one must not match an empty label value")
    starts = _time(obj, "startsAt", now)
    ends = _time(obj, "endsAt", None)
    if ends <= starts or ends <= now:
        raise SilenceError("endsAt: must be after startsAt and in the future")
    if ends - starts > MAX_DURATION:
        raise SilenceError(f"endsAt: a silence lasts at most {MAX_DURATION.days} days")
    return Silence(
        silence_id,
        matchers,
        starts,
        ends,
        _text(obj, "createdBy", 200),
        _text(obj, "comment", 2000),
    )


def silence_from_dict(obj: Any) -> Silence:
    """Read back what :meth:`Silence.to_dict` stored; ``SilenceError`` names what is wrong.

    Checked, not trusted: the ``silences`` table is written from the ``alerts.silences`` topic,
    and whatever can produce to it could otherwise store a silence without an id, with an unsafe
    regex or a date that is not one, which every alert step then fails on (the dispatcher reads
    every silence for every step) and which the table's changelog keeps across restarts. The
    matchers are checked as a request's are; an expired silence still reads back.
    """
    if not isinstance(obj, Mapping):
        raise SilenceError("silence: expected an object")
    silence_id = obj.get("id")
    if not isinstance(silence_id, str) or not 0 < len(silence_id) <= 200:
        raise SilenceError("id: required, 1-200 characters")
    return Silence(
        silence_id,
        _matchers(obj.get("matchers")),
        _time(obj, "startsAt", None),
        _time(obj, "endsAt", None),
        _text(obj, "createdBy", 200),
        _text(obj, "comment", 2000),
    )


def readable_silences(values: Iterable[Any], on_error: Callable[[str], None]) -> list[Silence]:
    """The silences in ``values`` (the table's) that read back; ``on_error`` hears of the rest."""
    out: list[Silence] = []
    for value in values:
        if not value:
            continue
        try:
            out.append(silence_from_dict(value))
        except SilenceError as exc:
            on_error(str(exc))
    return out


def silenced_by(
    labels: Mapping[str, str], state: str, silences: Iterable[Silence], now: datetime
) -> Silence | None:
    """The first active silence muting an alert step with ``labels`` (never a resolved step)."""
    if state not in MUTED_STATES:
        return None
    return next((s for s in silences if s.mutes(labels, now)), None)
