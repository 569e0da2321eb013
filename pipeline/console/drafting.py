"""The console's "Start a draft response": the alert as the store holds it, the library's offers.

The draft itself is made by :mod:`pipeline.approvals.start`, the path ``draft_responses`` takes
for a firing alert; the console only rebuilds the :class:`~pipeline.records.Alert` the library
fills its templates from (the store keeps every field of the latest step) and says which of the
offered templates already have a draft for this alert.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from pipeline.approvals.start import StateOf, current_round, offers
from pipeline.records import Alert


def _when(value: float) -> datetime:
    return datetime.fromtimestamp(value, UTC)


def alert_record(row: Mapping[str, Any]) -> Alert:
    """The alert's latest step as the record the topics carried (from a store row)."""
    fired = row.get("fired_at")
    why = row.get("why")
    mentions = row.get("top_mentions")
    tipping = row.get("tipping_mention")
    return Alert(
        dedup_key=row["dedup_key"],
        state=row["state"],
        severity=row["severity"],
        brand=row["brand"],
        topic=row["topic"],
        started_at=_when(row["started_at"]),
        updated_at=_when(row["updated_at"]),
        observed=float(row["observed"]),
        expected=float(row["expected"]),
        score=float(row["score"]),
        summary=row["summary"],
        why=why if isinstance(why, dict) else None,
        top_mentions=mentions if isinstance(mentions, list) else None,
        fired_at=_when(fired) if fired is not None else None,
        early=bool(row.get("early")),
        tipping_mention=tipping if isinstance(tipping, dict) else None,
    )


def offered(row: Mapping[str, Any], state_of: StateOf | None = None) -> list[dict[str, Any]]:
    """The templates the library offers for this alert, best first, each with its draft id and
    whether a draft of it already exists (then the page links to it instead). With ``state_of``
    (the approval table), a statement whose draft was rejected is offered again, as the next
    round's draft (``resubmits`` names the rejected one)."""
    existing = {d["draft_id"] for d in row.get("drafts") or ()}
    out = []
    for d in offers(alert_record(row)):
        draft_id, previous = current_round(d.id, state_of) if state_of else (d.id, "")
        out.append(
            {
                "template_id": d.template_id,
                "language": d.language,
                "text": d.text,
                "draft_id": draft_id,
                "exists": draft_id in existing,
                "resubmits": previous,
            }
        )
    return out
