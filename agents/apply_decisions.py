"""apply_decisions: decision events -> the approval state table, the audit log, the publish step.

The only writer of the ``approvals`` table (keyed by draft id like ``responses.decisions``, so a
draft's state lives on the partition of its decisions and recovers from the changelog after a
restart). Each event goes through the state machine (``pipeline.approvals.decisions``) with the
time stamped at the edge; *every* outcome, accepted or refused, is appended to ``responses.audit``
before the waiting page or Slack handler is told. A draft that becomes fully approved is handed to
``responses.approved``; the publish agent does the outbound calls, so a slow publish endpoint
never holds up decisions.
"""

from __future__ import annotations

from typing import Any

from faust.types import StreamT

from pipeline import services
from pipeline.app import app
from pipeline.approvals.decisions import (
    INVALID,
    Applied,
    answer,
    apply_decision,
    count_pending,
    load_state,
    unreadable,
)
from pipeline.approvals.runtime import runtime
from pipeline.records import DecisionRecord
from pipeline.tables import approvals
from pipeline.topics import (
    dead_letter_message,
    response_approved,
    response_audit,
    response_decisions,
)

AGENT = "apply_decisions"


def count(applied: Applied) -> None:
    metrics = services.metrics()
    if applied.metric_action is not None:
        outcome = "ok" if applied.accepted else "refused"
        metrics.approval_decisions.labels(applied.metric_action, outcome).inc()
    if applied.refusal is not None:
        metrics.approval_refusals.labels(applied.refusal).inc()
    elif applied.escalated:
        metrics.approval_sla_breaches.inc()


async def handle(record: DecisionRecord) -> None:
    applied = await apply_decision(record, load_state(approvals.get(record.draft_id)))
    if applied.changed and applied.current is not None:
        approvals[record.draft_id] = applied.current.to_dict()
    for audit in applied.audit:
        await response_audit.send(key=record.draft_id, value=audit)
    count(applied)
    if (approved := applied.approved) is not None:
        await response_approved.send(key=record.draft_id, value=approved)
    services.metrics().approval_drafts_pending.set(count_pending(approvals.values()))
    answer(applied)


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
