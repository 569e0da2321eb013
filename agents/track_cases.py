"""track_cases: ``pv.cases`` events -> the ``cases`` table; the near-due gauge on a timer.

The topic is the record (kept without time limit); the changelog-backed table holds each case's
latest state (``pipeline.pv.cases.apply_event``). A case opened ``new`` (valid) goes to the safety
receivers first (``pipeline.oncall.safety``). An event that cannot apply (a move the status
does not allow, a note for an unknown case) is counted as ``refused`` and logged, never a crash.
After an event, the handled cases of its partition that retention lets go leave the table
(``pipeline.pv.retention``: the topic keeps them). Every ``CHECK_S`` seconds the gauges
``tocsin_pv_cases_near_due``, ``tocsin_pv_cases_held`` and ``tocsin_pv_cases_over_cap`` are set
from this worker's cases; the Prometheus rules ``TocsinPvCaseNearDueUnhandled`` and
``TocsinPvCaseStoreOverCap`` fire on them.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

from faust import current_event
from faust.types import StreamT

from pipeline import services
from pipeline.app import app
from pipeline.oncall.safety import notify_safety
from pipeline.pv.cases import CaseError, apply_event
from pipeline.pv.intake import keeper, near_due_counts
from pipeline.records import CaseEvent
from pipeline.tables import cases
from pipeline.topics import case_events

AGENT = "track_cases"
CHECK_S = 30.0
log = logging.getLogger(__name__)


@app.agent(case_events, name=AGENT)
async def track_cases(stream: StreamT[CaseEvent]) -> None:
    metrics = services.metrics()
    async for event in stream:
        metrics.messages_in.labels(AGENT).inc()
        current = cases[event.case_id] or None
        raw = {k: v for k, v in event.to_representation().items() if k != "__faust"}
        raw["at"] = event.at.isoformat()
        try:
            case = apply_event(current, raw)
        except CaseError as exc:
            metrics.pv_cases.labels("refused").inc()
            log.warning("case event refused (%s %s): %s", event.kind, event.case_id, exc)
            continue
        if current is None and event.kind == "open":
            # before the table write: a crash in between re-sends (same idempotency key)
            # rather than never sending
            await notify_safety(case)
        cases[event.case_id] = case
        source = current_event()
        if source is not None:
            drop_handled(source.message.partition, datetime.now(UTC))


def drop_handled(partition: int, now: datetime) -> None:
    """Drop the handled cases of ``partition`` that retention lets go (``pipeline.pv.retention``;
    called while handling an event of that partition, so the tombstones go to its changelog)."""
    swept = keeper().check(cases, partition, now)
    if swept is None:
        return
    metrics = services.metrics()
    for reason, keys in (("expired", swept.expired), ("cap", swept.capped)):
        for key in keys:
            del cases[key]
        metrics.pv_cases_dropped.labels(reason).inc(len(keys))
    metrics.pv_cases_over_cap.set(swept.over_cap)


def refresh_gauge(now: datetime) -> dict[str, int]:
    """Set the case gauges from this worker's cases at ``now``; the near-due counts it set."""
    held = [c for c in cases.values() if c]
    counts = near_due_counts(held, now)
    metrics = services.metrics()
    for seriousness, count in counts.items():
        metrics.pv_cases_near_due.labels(seriousness).set(count)
    metrics.pv_cases_held.set(len(held))
    metrics.pv_cases_over_cap.set(max(0, len(held) - keeper().max_cases))
    return counts


@app.task  # type: ignore[untyped-decorator]  # faust.App.task is not typed
async def watch_case_clocks() -> None:
    while not app.should_stop:
        await asyncio.sleep(CHECK_S)
        if app.rebalancing:
            continue
        try:
            refresh_gauge(datetime.now(UTC))
        except Exception:  # a bad case must not stop the gauge for the others
            log.exception("case clock check failed")
