"""The one way a case event reaches ``pv.cases``: built here, keyed by the case id, sent here.

The triage agent sends ``open`` (a case as triage opened it); the safety queue sends ``move`` (a
new status) and ``note`` (a follow-up note) for the person who acted. ``track_cases`` applies
every event to the ``cases`` table with :func:`pipeline.pv.cases.apply_event`, which refuses a
move the status does not allow; the key keeps all of a case's events on one partition, in order.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pipeline.records import CaseEvent
from pipeline.topics import case_events


def move(
    case_id: str, to: str, *, by: str, at: datetime, clock: dict[str, Any] | None = None
) -> CaseEvent:
    """``by`` moves the case to status ``to`` at ``at``; ``clock`` starts the clock of a possible
    case confirmed as valid (:func:`pipeline.pv.cases.confirmed`)."""
    return CaseEvent(case_id=case_id, kind="move", at=at, by=by, to=to, case=clock)


def note(case_id: str, text: str, *, by: str, at: datetime) -> CaseEvent:
    """``by`` adds a follow-up note at ``at``."""
    return CaseEvent(case_id=case_id, kind="note", at=at, by=by, text=text)


async def send(event: CaseEvent) -> None:
    """Put ``event`` on ``pv.cases`` under its case id."""
    await case_events.send(key=event.case_id, value=event)
