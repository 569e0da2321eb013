"""Pharmacovigilance cases: a triaged adverse-event mention becomes a case with a regulatory clock.

Pure functions over plain dicts (the ``cases`` table's values) and an injected clock, so the
stream (``agents/track_cases.py``) and the tests run the same code.

**Day zero** is when the mention reached Tocsin (the time the broker stamped on its raw record):
from then on the company "has" the report. The reporting clock runs in **calendar days**, counted
on the calendar of the safety department's time zone (``TOCSIN_PV_TIMEZONE``, default UTC):
day zero is the local date of arrival, the report is due by the end of day zero + 15 (serious)
or + 90 (non-serious) in that zone (EU GVP module VI; 21 CFR 314.80 for serious unexpected US
cases). Weekends and holidays do not pause it.

**Status**: a valid case (all four minimum criteria) opens as ``new``; an incomplete one is kept
as ``possible`` with its missing criteria and no due date (the clock starts when the criteria
are known). People then move it: ``in_review``, ``sent_to_safety`` (handled), ``closed_invalid``
(handled, not a case). Each change and each follow-up note is an event on the ``pv.cases``
topic; the table holds the latest state.

A case's id is derived from its mention id, so the same mention re-read after a restart never
opens a second case.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from pipeline.pv.triage import CaseAssessment

SERIOUS_DAYS = 15
NON_SERIOUS_DAYS = 90
#: A case is "near due" this long before its deadline while nobody has handled it.
NEAR_DUE = timedelta(days=3)

STATUSES = ("possible", "new", "in_review", "sent_to_safety", "closed_invalid")
#: Statuses in which the clock is no longer anyone's worry.
HANDLED = ("sent_to_safety", "closed_invalid")
#: Which status a person may move a case to from each status.
MOVES: Mapping[str, tuple[str, ...]] = {
    "possible": ("new", "in_review", "closed_invalid"),
    "new": ("in_review", "sent_to_safety", "closed_invalid"),
    "in_review": ("sent_to_safety", "closed_invalid"),
    "sent_to_safety": (),
    "closed_invalid": ("in_review",),
}


class CaseError(ValueError):
    """A case event that cannot apply (unknown case, a move the status does not allow)."""


def case_id(mention_id: str) -> str:
    """The case of one mention, the same on every re-read."""
    return "case-" + hashlib.sha256(mention_id.encode()).hexdigest()[:16]


def day_zero(received_at: datetime, tz: ZoneInfo) -> date:
    """The local date (in ``tz``) on which the report reached the company."""
    if received_at.tzinfo is None:
        raise ValueError("received_at must be timezone-aware")
    return received_at.astimezone(tz).date()


def due_date(zero: date, serious: bool) -> date:
    """Day zero plus 15 (serious) or 90 calendar days: weekends count."""
    return zero + timedelta(days=SERIOUS_DAYS if serious else NON_SERIOUS_DAYS)


def deadline(due: date, tz: ZoneInfo) -> datetime:
    """The first instant after the due date in ``tz`` (end of that local day), in UTC."""
    return datetime.combine(due + timedelta(days=1), time(0), tzinfo=tz).astimezone(UTC)


@dataclass(frozen=True)
class Clock:
    """Day zero, due date and deadline of one case (``due`` None for a possible case)."""

    day_zero: date
    due: date | None
    deadline: datetime | None


def clock_for(received_at: datetime, valid: bool, serious: bool, tz: ZoneInfo) -> Clock:
    zero = day_zero(received_at, tz)
    if not valid:
        return Clock(zero, None, None)
    due = due_date(zero, serious)
    return Clock(zero, due, deadline(due, tz))


def open_case(
    *,
    mention: Mapping[str, Any],
    assessment: CaseAssessment,
    received_at: datetime,
    tz: ZoneInfo,
) -> dict[str, Any]:
    """The case a triaged mention opens: ``new`` if valid, else ``possible`` with what is missing.

    ``mention`` carries the fields the safety team needs (id, url, platform, text, lang, brand,
    author pseudonym, created_at); the case keeps them as given.
    """
    valid = assessment.valid
    clock = clock_for(received_at, valid, assessment.serious, tz)
    return {
        "case_id": case_id(str(mention["id"])),
        "status": "new" if valid else "possible",
        "valid": valid,
        "criteria": assessment.criteria,
        "missing": [name for name, ok in assessment.criteria.items() if not ok],
        "product": assessment.product,
        "reactions": list(assessment.reactions),
        "serious": assessment.serious,
        "seriousness": list(assessment.seriousness),
        "patient": dict(assessment.patient_details),
        "received_at": received_at.astimezone(UTC).isoformat(),
        "day_zero": clock.day_zero.isoformat(),
        "due": None if clock.due is None else clock.due.isoformat(),
        "deadline": None if clock.deadline is None else clock.deadline.isoformat(),
        "timezone": tz.key,
        "mention": dict(mention),
        "notes": [],
        "history": [{"at": received_at.astimezone(UTC).isoformat(), "status": "opened"}],
    }


def _aware(value: Any, name: str) -> None:
    if value is None:
        return
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError:
        raise CaseError(f"{name}: not an ISO date-time") from None
    if parsed.tzinfo is None:
        raise CaseError(f"{name}: needs a time zone")


def checked_case(case: Any, case_id: Any) -> dict[str, Any]:
    """An ``open`` event's case, checked before it is stored; :class:`CaseError` otherwise.

    The case table is read whole by the near-due clock: one stored case whose deadline is not a
    date stopped the ``tocsin_pv_cases_near_due`` gauge for every case, and an ``open`` without
    a case crashed the agent. Only the triage writes ``open`` events, but anything that can
    produce to ``pv.cases`` could send one.
    """
    if not isinstance(case, Mapping):
        raise CaseError("an open event without a case")
    if case_id is not None and case.get("case_id") != case_id:
        raise CaseError("the case's id differs from the event's")
    if case.get("status") not in STATUSES:
        raise CaseError(f"status: one of {', '.join(STATUSES)}")
    for name in ("received_at", "deadline"):
        _aware(case.get(name), name)
    if case.get("due") is not None:
        try:
            date.fromisoformat(str(case["due"]))
        except ValueError:
            raise CaseError("due: not an ISO date") from None
    for name in ("notes", "history"):
        if not isinstance(case.get(name, []), list):
            raise CaseError(f"{name}: expected a list")
    return dict(case)


def apply_event(case: Mapping[str, Any] | None, event: Mapping[str, Any]) -> dict[str, Any]:
    """The case after ``event`` (``open`` carries a whole case; ``move``, ``note`` change one).

    An ``open`` for a case that exists leaves it as it is (a re-read mention). Raises
    :class:`CaseError` for an event that cannot apply.
    """
    kind = event.get("kind")
    if kind == "open":
        return dict(case) if case else checked_case(event.get("case"), event.get("case_id"))
    if not case:
        raise CaseError(f"no case {event.get('case_id')!r}")
    at, by = str(event["at"]), str(event["by"])
    out = dict(case)
    if kind == "move":
        to = str(event["to"])
        if to not in MOVES.get(str(case["status"]), ()):
            raise CaseError(f"a {case['status']} case cannot move to {to!r}")
        out["status"] = to
        out["history"] = [*case.get("history", []), {"at": at, "by": by, "status": to}]
        return out
    if kind == "note":
        text = str(event.get("text", "")).strip()
        if not text:
            raise CaseError("an empty note")
        out["notes"] = [*case.get("notes", []), {"at": at, "by": by, "text": text[:4000]}]
        return out
    raise CaseError(f"unknown case event {kind!r}")


def near_due(cases: Iterable[Mapping[str, Any]], now: datetime) -> list[Mapping[str, Any]]:
    """Unhandled valid cases whose deadline is within :data:`NEAR_DUE` of ``now`` (or past)."""
    out = []
    for case in cases:
        if case.get("status") in HANDLED or not case.get("deadline"):
            continue
        if datetime.fromisoformat(str(case["deadline"])) - now <= NEAR_DUE:
            out.append(case)
    return out
