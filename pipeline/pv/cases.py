"""Pharmacovigilance cases: a triaged adverse-event mention becomes a case with a regulatory clock.

Pure functions over plain dicts (the ``cases`` table's values) and an injected clock, so the
stream (``agents/track_cases.py``) and the tests run the same code.

**Day zero** is when the mention reached Tocsin (the time the broker stamped on its raw record):
from then on the company "has" the report. The reporting clock runs in **calendar days**, counted
on the calendar of the safety department's time zone (``TOCSIN_PV_TIMEZONE``, default UTC) or of
the region's own zone: day zero is the local date of arrival, the report is due by the end of day
zero + N in that zone. N comes from each region the product is sold in
(:mod:`pipeline.pv.regions`: EU 15 days serious / 90 non-serious; US 15 days for serious
unexpected cases, periodic reports otherwise); the case keeps one clock per region and is due
at the earliest. Weekends and holidays do not pause it.

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

from pipeline.pv.regions import EU, Markets, RegionRule
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
    """Day zero plus 15 (serious) or 90 calendar days (the EU rule): weekends count."""
    return zero + timedelta(days=SERIOUS_DAYS if serious else NON_SERIOUS_DAYS)


def deadline(due: date, tz: ZoneInfo) -> datetime:
    """The first instant after the due date in ``tz`` (end of that local day), in UTC."""
    return datetime.combine(due + timedelta(days=1), time(0), tzinfo=tz).astimezone(UTC)


@dataclass(frozen=True)
class Clock:
    """Day zero, due date and deadline of one case in one region (``due`` None for a possible
    case, or for one that goes in the region's periodic report)."""

    day_zero: date
    due: date | None
    deadline: datetime | None
    region: str = EU.id
    basis: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "region": self.region,
            "basis": self.basis,
            "day_zero": self.day_zero.isoformat(),
            "due": None if self.due is None else self.due.isoformat(),
            "deadline": None if self.deadline is None else self.deadline.isoformat(),
        }


def clock_for(
    received_at: datetime,
    valid: bool,
    serious: bool,
    tz: ZoneInfo,
    *,
    rule: RegionRule = EU,
    expected: bool = False,
) -> Clock:
    """The clock of one region: day zero on the region's calendar (``rule.timezone``, else
    ``tz``), due after the rule's days for this case (None: periodic report, or not valid)."""
    zone = ZoneInfo(rule.timezone) if rule.timezone else tz
    zero = day_zero(received_at, zone)
    basis = rule.basis(serious=serious, expected=expected)
    days = rule.days(serious=serious, expected=expected)
    if not valid or days is None:
        return Clock(zero, None, None, rule.id, basis if valid else "not valid yet: no clock")
    due = zero + timedelta(days=days)
    return Clock(zero, due, deadline(due, zone), rule.id, basis)


def earliest(clocks: Iterable[Clock]) -> Clock | None:
    """The clock that runs out first, None when no region gives one."""
    timed = [c for c in clocks if c.deadline is not None]
    return min(timed, key=lambda c: c.deadline or datetime.max.replace(tzinfo=UTC), default=None)


def clock_fields(
    *,
    received_at: datetime,
    valid: bool,
    serious: bool,
    product: str | None,
    reactions: Iterable[str],
    brand: str | None,
    tz: ZoneInfo,
    markets: Markets | None = None,
) -> dict[str, Any]:
    """A case's clock fields: day zero, the earliest due date and deadline, every region's clock.

    ``markets`` says which regions' clocks run (the EU rule alone when None).
    """
    markets = markets or Markets()
    expected = markets.expected(product, reactions)
    clocks = [
        clock_for(received_at, valid, serious, tz, rule=rule, expected=expected)
        for rule in markets.rules_for(product, brand)
    ]
    first = earliest(clocks)
    return {
        "day_zero": day_zero(received_at, tz).isoformat(),
        "due": None if first is None or first.due is None else first.due.isoformat(),
        "deadline": None if first is None or first.deadline is None else first.deadline.isoformat(),
        "timezone": tz.key,
        "clocks": [c.to_dict() for c in clocks],
        "due_region": None if first is None else first.region,
    }


def confirmed(
    case: Mapping[str, Any], at: datetime, tz: ZoneInfo, markets: Markets | None = None
) -> dict[str, Any]:
    """What changes when a person confirms a possible case as valid at ``at``: the missing
    criteria are now known, so day zero is ``at`` and the clocks start (sent with the move)."""
    mention: Mapping[str, Any] = case.get("mention") or {}
    return {
        "valid": True,
        "missing": [],
        "confirmed_at": at.astimezone(UTC).isoformat(),
        **clock_fields(
            received_at=at,
            valid=True,
            serious=bool(case.get("serious")),
            product=case.get("product"),
            reactions=case.get("reactions", []),
            brand=mention.get("brand"),
            tz=tz,
            markets=markets,
        ),
    }


#: Fields a confirming move may set on a possible case (nothing else of the case changes).
CONFIRMED_FIELDS = frozenset(
    (
        "valid",
        "missing",
        "confirmed_at",
        "day_zero",
        "due",
        "deadline",
        "timezone",
        "clocks",
        "due_region",
    )
)


def open_case(
    *,
    mention: Mapping[str, Any],
    assessment: CaseAssessment,
    received_at: datetime,
    tz: ZoneInfo,
    markets: Markets | None = None,
) -> dict[str, Any]:
    """The case a triaged mention opens: ``new`` if valid, else ``possible`` with what is missing.

    ``mention`` carries the fields the safety team needs (id, url, platform, text, lang, brand,
    author pseudonym, created_at); the case keeps them as given. ``markets`` says which regions'
    clocks run (the EU rule alone when None); ``due`` and ``deadline`` are the earliest of them.
    """
    valid = assessment.valid
    clock = clock_fields(
        received_at=received_at,
        valid=valid,
        serious=assessment.serious,
        product=assessment.product,
        reactions=assessment.reactions,
        brand=mention.get("brand"),
        tz=tz,
        markets=markets,
    )
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
        **clock,
        "mention": dict(mention),
        "notes": [],
        "history": [{"at": received_at.astimezone(UTC).isoformat(), "status": "opened"}],
    }


def apply_event(case: Mapping[str, Any] | None, event: Mapping[str, Any]) -> dict[str, Any]:
    """The case after ``event`` (``open`` carries a whole case; ``move``, ``note`` change one).

    An ``open`` for a case that exists leaves it as it is (a re-read mention). A ``move`` of a
    possible case to ``new`` or ``in_review`` may carry the clock of its confirmation
    (:func:`confirmed`) under ``case``. Raises
    :class:`CaseError` for an event that cannot apply.
    """
    kind = event.get("kind")
    if kind == "open":
        return dict(case) if case else dict(event["case"])
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
        if case["status"] == "possible" and to != "closed_invalid" and event.get("case"):
            # confirmed valid: the clock the move carries (see :func:`confirmed`) starts now
            out.update({k: v for k, v in event["case"].items() if k in CONFIRMED_FIELDS})
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
