"""Applying one decision event: the state machine's outcome and what must leave because of it.

``apply_decisions`` is the only writer of the ``approvals`` table; it reads a draft's state, asks
:func:`apply_decision` what the event does, stores the new state, sends the audit records and the
publish request this returns, and answers the waiting page or Slack click. Every outcome,
accepted or refused, carries its audit entries; a draft that becomes fully approved carries the
publish request with its exact text and approved hash.

Slack: a new draft's request message (with buttons) is posted in the incident's thread before
the state is stored, so the state remembers where it is; after a decision taken in Slack,
:func:`rewrite_slack` rewrites that message with the outcome (off the stream's path).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from pipeline import services
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
from pipeline.approvals.policy import Policy
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
from pipeline.records import ApprovedRecord, AuditRecord, DecisionRecord

log = logging.getLogger(__name__)

#: Decision event type -> the ``action`` label of ``tocsin_approval_decisions_total`` (None: not counted).
METRIC_ACTIONS = {
    "draft_created": None,
    "edited": "edit",
    "approved": "approve",
    "rejected": "reject",
    "changes_requested": "request_changes",
    "escalated": "escalate",
    "published": "publish",
}


#: Dead-letter reason of a decision record whose event or actor cannot be read back.
INVALID = "invalid_decision"


def unreadable(record: DecisionRecord) -> str | None:
    """Why the record's event or actor cannot be read back, or None.

    Only the worker's own pages and Slack handler write decisions, but anything that can produce
    to the topic could send an event of no known type or an actor without roles; such a record
    goes to ``mentions.dlq`` (``invalid_decision``) rather than crashing the agent (restarted
    after a pause, the record lost).
    """
    try:
        event_from_dict(record.event)
        Actor.from_dict(record.actor)
    except (ValueError, KeyError, TypeError) as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


@dataclass(frozen=True)
class Applied:
    """What one decision event did to a draft, and what the agent stores and sends for it."""

    record: DecisionRecord
    before: DraftState | None
    #: the state after the event: the new one when accepted, ``before`` when refused.
    current: DraftState | None
    entries: list[AuditEntry]
    accepted: bool

    @property
    def changed(self) -> bool:
        """The table must be written: an accepted event produced a different state."""
        return self.accepted and self.current is not None and self.current != self.before

    @property
    def audit(self) -> list[AuditRecord]:
        """One ``responses.audit`` record per audit entry, tagged with the event id."""
        return [audit_record(entry, self.record.event_id) for entry in self.entries]

    @property
    def approved(self) -> ApprovedRecord | None:
        """The publish request when this event is the one that fully approved the draft."""
        now = self.current
        if not self.accepted or now is None or now.status != "approved":
            return None
        if self.before is not None and self.before.status == "approved":
            return None
        return approved_record(now)

    @property
    def metric_action(self) -> str | None:
        """The ``action`` label this event counts under, None for events not counted."""
        return METRIC_ACTIONS.get(str(self.record.event.get("type")))

    @property
    def refusal(self) -> str | None:
        """The refusal reason when the state machine refused the event."""
        return None if self.accepted else self.entries[0].reason

    @property
    def escalated(self) -> bool:
        """An accepted SLA escalation (counted as a breach)."""
        return self.accepted and self.record.event.get("type") == Escalated.type


def load_state(raw: Mapping[str, Any] | None) -> DraftState | None:
    """A draft's state from its ``approvals`` table value (None for an unknown draft)."""
    return DraftState.from_dict(raw) if raw else None


def decide_record(record: DecisionRecord, state: DraftState | None, policy: Policy) -> Applied:
    """Run one decision through the state machine at the time stamped on the record."""
    event = event_from_dict(record.event)
    actor = Actor.from_dict(record.actor)
    try:
        new, entries = decide(state, event, actor, policy, record.at)
    except DecisionRefused as refused:
        return Applied(record, state, state, [refused.entry], accepted=False)
    if isinstance(event, DraftCreated) and state is None and record.context:
        new = replace(new, extra={**new.extra, "alert": record.context})
    return Applied(record, state, new, entries, accepted=True)


async def apply_decision(record: DecisionRecord, state: DraftState | None) -> Applied:
    """:func:`decide_record` with this worker's policy; a new draft's Slack request is posted."""
    applied = decide_record(record, state, runtime().config.policy)
    if applied.changed and state is None and applied.current is not None:
        applied = replace(applied, current=await post_request(applied.current))
    return applied


def answer(applied: Applied) -> None:
    """Tell the page or Slack click waiting for this event, and rewrite its Slack message."""
    if not applied.entries:
        return
    runtime().resolve(applied.record.event_id, applied.entries[0].to_dict())
    if applied.record.reply and applied.current is not None:
        # Off the stream's path: Slack being slow must not hold up the next decision.
        task = asyncio.ensure_future(
            rewrite_slack(applied.current, applied.entries[0], applied.record.reply)
        )
        runtime().background.add(task)
        task.add_done_callback(runtime().background.discard)


def count_pending(values: Iterable[Mapping[str, Any] | None]) -> int:
    """How many drafts (``approvals`` table values) await approval."""
    return sum(1 for raw in values if raw and raw.get("status") == "pending")


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
