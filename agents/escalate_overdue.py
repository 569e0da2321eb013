"""escalate_overdue: the SLA timer. Overdue approvals -> ``escalated`` events for the deputies.

A Faust task that wakes every ``TOCSIN_APPROVALS_SLA_CHECK_S`` seconds and asks
``sla.overdue_decisions`` which roles on this worker's drafts are past their deadline. It never
writes the table itself (a timer has no current event, so no changelog partition): it sends
``escalated`` events to ``responses.decisions`` and ``apply_decisions`` applies and audits them
like any other decision. The clock is a parameter of :func:`escalate_once` and of
``sla.overdue_decisions``, so tests drive it with fixed datetimes; ``escalations_sent`` stops a
slow apply from causing a second event.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from pipeline import services
from pipeline.app import app
from pipeline.approvals import sla
from pipeline.approvals.flow import utcnow
from pipeline.approvals.runtime import runtime
from pipeline.records import DecisionRecord
from pipeline.tables import approvals
from pipeline.topics import response_decisions

log = logging.getLogger(__name__)


def due(
    raw_states: Iterable[Mapping[str, Any]], now: datetime, sent: set[tuple[str, str, int]]
) -> list[DecisionRecord]:
    """Escalation decisions due at ``now`` under this worker's policy and users."""
    cfg = runtime().config
    return sla.overdue_decisions(raw_states, now, sent, cfg.policy, cfg.users)


async def escalate_once(now: datetime) -> int:
    """One SLA check at ``now``; returns how many escalations were sent."""
    records = due(list(approvals.values()), now, runtime().escalations_sent)
    for record in records:
        await response_decisions.send(key=record.draft_id, value=record)
    return len(records)


@app.task  # type: ignore[untyped-decorator]  # faust.App.task is not typed
async def escalate_overdue() -> None:
    if not runtime().enabled:
        return
    interval = services.settings().approvals_sla_check_s
    while not app.should_stop:
        await asyncio.sleep(interval)
        if app.rebalancing:
            continue
        try:
            sent = await escalate_once(utcnow())
        except Exception:  # a bad state must not stop the timer for every other draft
            log.exception("SLA check failed")
            continue
        if sent:
            log.info("escalated %d overdue approvals", sent)
