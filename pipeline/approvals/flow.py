"""Glue between the approval domain core and the stream: records in, records out, Slack text.

Nothing here owns state: the agents pass tables' values in and write what comes back. Kept apart
from the agents so it can be unit-tested without a Faust app, and from ``pipeline/approvals/`` so
the domain core stays free of Kafka records and HTTP.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from pipeline.approvals.audit import AuditEntry
from pipeline.approvals.state import Actor, DraftState, Event, event_to_dict
from pipeline.records import Alert, ApprovedRecord, AuditRecord, DecisionRecord

ROLE_LABELS = {
    "responder": "Responder",
    "approver-exec": "Executive",
    "reviewer-medical": "Medical reviewer",
    "reviewer-legal": "Legal reviewer",
    "viewer": "Viewer",
    "safety": "Safety (pharmacovigilance)",
}
STATUS_LABELS = {
    "pending": "awaiting approval",
    "changes_requested": "changes requested",
    "approved": "approved, publishing",
    "rejected": "rejected",
    "published": "published",
}
TOP_MENTIONS = 5


def utcnow() -> datetime:
    return datetime.now(UTC)


def role_label(role: str) -> str:
    return ROLE_LABELS.get(role, role)


def alert_context(alert: Alert) -> dict[str, Any]:
    """What a reviewer needs to judge a statement: the numbers, the why, the top mentions."""
    why = {str(k): v for k, v in (alert.why or {}).items() if isinstance(v, str | int | float)}
    mentions = []
    for item in (alert.top_mentions or [])[:TOP_MENTIONS]:
        author = item.get("author")
        who = author.get("kind") if isinstance(author, dict) else None
        mentions.append(
            {
                "text": str(item.get("text", ""))[:500],
                "url": item.get("url") if str(item.get("url", "")).startswith("https://") else None,
                "who": f"{item.get('platform', '')} {who or ''}".strip() or None,
            }
        )
    return {
        "summary": alert.summary,
        "observed": alert.observed,
        "expected": round(alert.expected, 1),
        "score": alert.score,
        "started_at": alert.started_at.strftime("%Y-%m-%d %H:%M UTC"),
        "why": why,
        "top_mentions": mentions,
    }


def decision(
    event: Event,
    actor: Actor,
    draft_id: str,
    *,
    at: datetime | None = None,
    context: dict[str, Any] | None = None,
    reply: dict[str, Any] | None = None,
) -> DecisionRecord:
    """A decision record with a fresh event id, stamped ``at`` (now by default)."""
    return DecisionRecord(
        event_id=uuid.uuid4().hex,
        draft_id=draft_id,
        at=at or utcnow(),
        actor=actor.to_dict(),
        event=event_to_dict(event),
        context=context,
        reply=reply,
    )


def audit_record(entry: AuditEntry, event_id: str | None = None) -> AuditRecord:
    return AuditRecord(
        draft_id=entry.draft_id or "-",
        at=entry.at,
        outcome=entry.outcome,
        entry=entry.to_dict(),
        event_id=event_id,
    )


def approved_record(state: DraftState) -> ApprovedRecord:
    """The publish request for a fully approved draft: its exact text and approved hash."""
    assert state.approved_hash is not None
    slack = dict(state.extra.get("slack") or {})
    thread = {"channel": slack.get("channel"), "ts": slack.get("thread_ts") or slack.get("ts")}
    return ApprovedRecord(
        draft_id=state.draft_id,
        alert_key=state.draft.alert_key,
        text=state.draft.text,
        text_hash=state.approved_hash,
        approved_at=max((a.at for a in state.current_approvals()), default=utcnow()),
        approvers=[f"{a.user_id} ({a.role})" for a in state.current_approvals()],
        lang=state.draft.language,
        slack_thread=thread if thread["channel"] else None,
    )


def headline(state: DraftState) -> str:
    d = state.draft
    return (
        f":memo: *Response needed* {d.brand} / {d.topic.replace('_', ' ')} ({d.severity}), "
        f"{d.language.upper()}, status: {STATUS_LABELS.get(state.status, state.status)}"
    )


def outcome_line(state: DraftState, entry: Mapping[str, Any]) -> str:
    """One line for the Slack message after a decision: who did what, and what happens next."""
    who = entry.get("actor", "?")
    if entry.get("outcome") == "refused":
        return f":no_entry: Refused for {who}: {entry.get('reason')} ({entry.get('detail', '')})"
    needs = ", ".join(role_label(r) for r in state.missing_roles())
    status = STATUS_LABELS.get(state.status, state.status)
    line = f":white_check_mark: {entry.get('action')} by {who}: {status}"
    if state.status == "pending" and needs:
        line += f"; still needs {needs}"
    return line


def is_final(state: DraftState) -> bool:
    return state.status in ("approved", "published", "rejected", "changes_requested")
