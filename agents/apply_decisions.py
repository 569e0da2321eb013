"""apply_decisions: decision events -> the approval state table, the audit log, the publish step.

The only writer of the ``approvals`` table (keyed by draft id like ``responses.decisions``, so a
draft's state lives on the partition of its decisions and recovers from the changelog after a
restart). Each event goes through the pure state machine with the time stamped at the edge;
*every* outcome, accepted or refused, is appended to ``responses.audit`` before the waiting page or
Slack handler is told. A draft that becomes fully approved is handed to ``responses.approved``
with its exact text and approved hash; the publish agent does the outbound calls, so a slow
publish endpoint never holds up decisions.

Slack: when a draft is created the request message (with buttons) is posted in the incident's
thread; after each decision taken in Slack the same message is rewritten with the outcome.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from typing import Any

from faust.types import StreamT

from pipeline import services
from pipeline.app import app
from pipeline.approvals.audit import AuditEntry
from pipeline.approvals.errors import DecisionRefused
from pipeline.approvals.flow import (
    approved_record,
    audit_record,
    headline,
    is_final,
    outcome_line,
    role_label,
)
from pipeline.approvals.runtime import runtime
from pipeline.approvals.slack import request_blocks
from pipeline.approvals.state import (
    Actor,
    DraftCreated,
    DraftState,
    Escalated,
    decide,
    event_from_dict,
)
from pipeline.errors import DeliveryError
from pipeline.records import DecisionRecord
from pipeline.tables import approvals
from pipeline.topics import (
    dead_letter_message,
    response_approved,
    response_audit,
    response_decisions,
)

AGENT = "apply_decisions"
INVALID = "invalid_decision"
log = logging.getLogger(__name__)
METRIC_ACTIONS = {
    "draft_created": None,
    "edited": "edit",
    "approved": "approve",
    "rejected": "reject",
    "changes_requested": "request_changes",
    "escalated": "escalate",
    "published": "publish",
}


def unreadable(record: DecisionRecord) -> str | None:
    """Why the record's event or actor cannot be read back, or None.

    Only the worker's own pages and Slack handler write decisions, but anything that can produce
    to the topic could send an event of no known type or an actor without roles; such a record
    goes to ``mentions.dlq`` (``invalid_decision``) rather than crashing this agent (restarted
    after a pause, the record lost).
    """
    try:
        event_from_dict(record.event)
        Actor.from_dict(record.actor)
    except (ValueError, KeyError, TypeError) as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


def load_state(draft_id: str) -> DraftState | None:
    raw = approvals.get(draft_id)
    return DraftState.from_dict(raw) if raw else None


def apply(
    record: DecisionRecord, state: DraftState | None
) -> tuple[DraftState | None, list[AuditEntry], bool]:
    """Run one decision through the state machine: (new state or None, audit entries, accepted)."""
    cfg = runtime().config
    event = event_from_dict(record.event)
    actor = Actor.from_dict(record.actor)
    try:
        new, entries = decide(state, event, actor, cfg.policy, record.at)
    except DecisionRefused as refused:
        return None, [refused.entry], False
    if isinstance(event, DraftCreated) and state is None and record.context:
        new = replace(new, extra={**new.extra, "alert": record.context})
    return new, entries, True


def link_for(state: DraftState) -> str | None:
    base = services.settings().public_url
    return f"{base.rstrip('/')}/approvals/{state.draft_id}" if base else None


async def post_request(state: DraftState) -> DraftState:
    """Post the Slack request message for a new draft; the state remembers where it is."""
    slack = runtime().slack
    if slack is None:
        return state
    thread = runtime().incident_thread(state.draft.alert_key)
    try:
        where = await slack.post_request(
            blocks=request_blocks(
                draft_id=state.draft_id,
                text=state.draft.text,
                text_hash=state.text_hash,
                headline=headline(state),
                needs=[role_label(r) for r in state.missing_roles()],
                link=link_for(state),
            ),
            text=f"Response needed: {state.draft.brand}/{state.draft.topic}",
            thread_ts=thread,
        )
    except DeliveryError as exc:
        log.warning("approval request not posted to Slack for %s: %s", state.draft_id, exc)
        return state
    return replace(state, extra={**state.extra, "slack": {**where, "thread_ts": thread}})


async def rewrite_slack(state: DraftState, entry: AuditEntry, reply: dict[str, Any]) -> None:
    """Rewrite the Slack message the decision came from with its outcome."""
    slack = runtime().slack
    channel, ts = reply.get("channel"), reply.get("ts")
    if slack is None or not channel or not ts:
        return
    line = outcome_line(state, entry.to_dict())
    try:
        if is_final(state):
            await slack.update(channel=channel, ts=ts, text=state.draft.text, status=line)
        else:
            await slack.update_request(
                channel=channel,
                ts=ts,
                blocks=request_blocks(
                    draft_id=state.draft_id,
                    text=state.draft.text,
                    text_hash=state.text_hash,
                    headline=f"{headline(state)}\n{line}",
                    needs=[role_label(r) for r in state.missing_roles()],
                    link=link_for(state),
                ),
                text=line,
            )
    except DeliveryError as exc:
        log.warning("Slack message not updated for %s: %s", state.draft_id, exc)


def count_pending() -> int:
    return sum(1 for raw in approvals.values() if raw and raw.get("status") == "pending")


async def handle(record: DecisionRecord) -> None:
    metrics = services.metrics()
    before = load_state(record.draft_id)
    new, entries, accepted = apply(record, before)
    if accepted and new is not None and new != before:
        if before is None:
            new = await post_request(new)
        approvals[record.draft_id] = new.to_dict()
    for entry in entries:
        await response_audit.send(key=record.draft_id, value=audit_record(entry, record.event_id))
    kind = str(record.event.get("type"))
    action = METRIC_ACTIONS.get(kind)
    if action is not None:
        metrics.approval_decisions.labels(action, "ok" if accepted else "refused").inc()
    if not accepted:
        metrics.approval_refusals.labels(entries[0].reason).inc()
    elif kind == Escalated.type:
        metrics.approval_sla_breaches.inc()
    current = new if accepted and new is not None else before
    newly_approved = before is None or before.status != "approved"
    if accepted and current is not None and current.status == "approved" and newly_approved:
        await response_approved.send(key=record.draft_id, value=approved_record(current))
    metrics.approval_drafts_pending.set(count_pending())
    if entries:
        runtime().resolve(record.event_id, entries[0].to_dict())
    if record.reply and current is not None and entries:
        # Off the stream's path: Slack being slow must not hold up the next decision.
        task = asyncio.ensure_future(rewrite_slack(current, entries[0], record.reply))
        runtime().background.add(task)
        task.add_done_callback(runtime().background.discard)


@app.agent(response_decisions, name=AGENT)
async def apply_decisions(stream: StreamT[DecisionRecord]) -> None:
    metrics = services.metrics()
    enabled = runtime().enabled
    if enabled:
        runtime().config  # noqa: B018 - load and validate the files before the first decision
    async for event in stream.events():
        metrics.messages_in.labels(AGENT).inc()
        if not enabled:
            continue
        record: DecisionRecord = event.value
        problem = unreadable(record)
        if problem is not None:
            await dead_letter_message(event.message, INVALID, problem)
            continue
        await handle(record)
        metrics.messages_out.labels(AGENT).inc()


@app.on_before_shutdown.connect
async def close_approval_client(sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
    """Close the approvals' outbound HTTP client (Slack, publish webhook) when the worker stops."""
    await runtime().aclose()
