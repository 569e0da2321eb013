"""What the safety pages show, from the ``cases`` table's values and an injected ``now``.

The queue puts valid cases first (a possible case has no clock yet), then by deadline, soonest
first (overdue ones on top), cases without a clock after those with one. The clock is said in
words with a state a page colours *and* labels ("Overdue by 2 d 4 h", "Due soon: 1 d 3 h left"),
so colour is never the only signal.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pipeline.pv.cases import HANDLED, MOVES, NEAR_DUE, STATUSES

STATUS_LABELS = {
    "possible": "Possible (criteria missing)",
    "new": "New",
    "in_review": "In review",
    "sent_to_safety": "Sent to safety",
    "closed_invalid": "Closed as invalid",
}
SERIOUSNESS = ("serious", "non_serious")
#: The status filter's choices: ``open`` (not handled, the default) and ``all`` besides each status.
STATUS_FILTERS = ("open", "all", *STATUSES)
CRITERIA = ("reporter", "patient", "product", "reaction")


@dataclass(frozen=True)
class QueueFilter:
    status: str = "open"
    seriousness: str = ""

    @classmethod
    def of(cls, query: Mapping[str, str]) -> QueueFilter:
        """The filter a query string asks for; unknown values fall back to the defaults."""
        status = query.get("status") or "open"
        serious = query.get("seriousness") or ""
        return cls(
            status if status in STATUS_FILTERS else "open",
            serious if serious in SERIOUSNESS else "",
        )

    def keeps(self, case: Mapping[str, Any]) -> bool:
        status = case.get("status")
        if self.status == "open" and status in HANDLED:
            return False
        if self.status not in ("open", "all") and status != self.status:
            return False
        if self.seriousness:
            return ("serious" if case.get("serious") else "non_serious") == self.seriousness
        return True


def _span(delta: timedelta) -> str:
    """A duration as days and hours (minutes under an hour)."""
    seconds = int(abs(delta.total_seconds()))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {rest // 60} min"
    return f"{rest // 60} min"


def _when(value: Any) -> datetime | None:
    return datetime.fromisoformat(str(value)) if value else None


def clock(case: Mapping[str, Any], now: datetime) -> dict[str, str]:
    """The case's clock in words: ``state`` (overdue, soon, running, none, done) and ``text``."""
    deadline = _when(case.get("deadline"))
    if case.get("status") in HANDLED:
        return {"state": "done", "text": STATUS_LABELS[str(case["status"])] + ": clock stopped"}
    if case.get("status") == "possible":
        return {"state": "none", "text": "No clock until the four criteria are known"}
    if deadline is None:
        return {"state": "none", "text": "No expedited clock: periodic report"}
    left = deadline - now
    if left <= timedelta(0):
        return {"state": "overdue", "text": f"Overdue by {_span(left)}"}
    if left <= NEAR_DUE:
        return {"state": "soon", "text": f"Due soon: {_span(left)} left"}
    return {"state": "running", "text": f"{_span(left)} left"}


def _order(case: Mapping[str, Any]) -> tuple[int, str, str]:
    valid = case.get("status") != "possible"
    return (0 if valid else 1, str(case.get("deadline") or "~"), str(case.get("received_at", "")))


def _local(value: Any) -> str:
    found = _when(value)
    return found.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if found else ""


def queue(
    cases: Iterable[Mapping[str, Any]], filters: QueueFilter, now: datetime
) -> list[dict[str, Any]]:
    """The queue's rows, in order. Rows carry no mention text: that is on the audited detail."""
    rows = []
    for case in sorted((c for c in cases if c and filters.keeps(c)), key=_order):
        rows.append(
            {
                "case_id": case["case_id"],
                "status": case["status"],
                "status_label": STATUS_LABELS.get(str(case["status"]), str(case["status"])),
                "serious": bool(case.get("serious")),
                "product": case.get("product") or "no product named",
                "reactions": list(case.get("reactions", [])),
                "missing": list(case.get("missing", [])),
                "brand": (case.get("mention") or {}).get("brand") or "",
                "due": case.get("due"),
                "due_region": str(case.get("due_region") or "").upper(),
                "received": _local(case.get("received_at")),
                "clock": clock(case, now),
            }
        )
    return rows


def detail(case: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    """Everything the safety officer needs on one case, the mention text included."""
    mention: Mapping[str, Any] = case.get("mention") or {}
    criteria: Mapping[str, Any] = case.get("criteria") or {}
    status = str(case["status"])
    return {
        "case_id": case["case_id"],
        "status": status,
        "status_label": STATUS_LABELS.get(status, status),
        "valid": bool(case.get("valid")),
        "confirmed": _local(case.get("confirmed_at")),
        "criteria": [(name, bool(criteria.get(name))) for name in CRITERIA],
        "missing": list(case.get("missing", [])),
        "product": case.get("product"),
        "reactions": list(case.get("reactions", [])),
        "serious": bool(case.get("serious")),
        "seriousness": [s.replace("_", " ") for s in case.get("seriousness", [])],
        "patient": dict(case.get("patient") or {}),
        "received": _local(case.get("received_at")),
        "day_zero": case.get("day_zero"),
        "due": case.get("due"),
        "deadline": _local(case.get("deadline")),
        "due_region": str(case.get("due_region") or "").upper(),
        "timezone": case.get("timezone"),
        "clocks": [
            {**c, "region": str(c.get("region", "")).upper(), "deadline": _local(c.get("deadline"))}
            for c in case.get("clocks", [])
        ],
        "clock": clock(case, now),
        "mention": {
            "text": str(mention.get("text") or ""),
            "url": mention.get("url"),
            "platform": mention.get("platform"),
            "lang": mention.get("lang"),
            "brand": mention.get("brand"),
            "author": mention.get("author"),
            "posted": _local(mention.get("created_at")),
        },
        "history": [
            {
                "at": _local(h.get("at")),
                "by": h.get("by") or "Tocsin",
                "status": STATUS_LABELS.get(str(h.get("status")), str(h.get("status"))),
            }
            for h in case.get("history", [])
        ],
        "notes": [
            {"at": _local(n.get("at")), "by": n.get("by"), "text": n.get("text")}
            for n in case.get("notes", [])
        ],
        "moves": [(to, STATUS_LABELS[to]) for to in MOVES.get(status, ())],
    }


def access_log(entries: Iterable[Mapping[str, Any]]) -> list[dict[str, str]]:
    """The audit entries of one case, newest first: who looked or acted, and when."""
    rows = [
        {
            "at": _local(e.get("at")),
            "actor": str(e.get("actor", "")),
            "action": str(e.get("action", "")).removeprefix("pv_case_").replace("_", " "),
            "outcome": str(e.get("outcome", "")),
        }
        for e in entries
    ]
    return rows[::-1]
