"""Starting a draft response for an alert: the one path the agent and the console share.

:func:`start_draft` proposes the library's statements for the alert (:func:`drafts.propose`),
takes the best one or the template asked for, records the proposal on ``responses.drafts`` (with
the runner-up templates and the alert context a reviewer sees) and asks the state machine to
create it with a ``draft_created`` event on ``responses.decisions`` (``apply_decisions`` is the
one writer of the approval table, and audits the outcome). The actor is the system for the
automatic draft of a firing alert, the signed-in responder for one started from the console: the
state machine refuses other roles and records the responder as the text's author (four eyes).

A draft's id comes from the alert's dedup key and the template id, so starting the same draft
twice proposes the same id and the state machine ignores the second.
"""

from __future__ import annotations

from dataclasses import dataclass

from pipeline import services
from pipeline.approvals.drafts import Draft, propose
from pipeline.approvals.flow import alert_context, decision, utcnow
from pipeline.approvals.runtime import runtime
from pipeline.approvals.state import Actor, DraftCreated
from pipeline.records import Alert, DecisionRecord, DraftRecord
from pipeline.topics import response_decisions, response_drafts


@dataclass(frozen=True)
class Started:
    """A draft asked for: the draft and the decision event that creates it."""

    draft: Draft
    record: DecisionRecord


def offers(alert: Alert) -> list[Draft]:
    """The drafts the library offers for ``alert``, best first (empty if no template fits)."""
    cfg = runtime().config
    return propose(
        alert,
        cfg.library,
        brands=cfg.brands,
        today=utcnow().date(),
        link=services.settings().response_info_url,
    )


def choose(proposals: list[Draft], template_id: str | None) -> Draft | None:
    """The proposal of ``template_id`` (the best one when None); None if it is not offered."""
    if template_id is None:
        return proposals[0] if proposals else None
    return next((d for d in proposals if d.template_id == template_id), None)


def prepare(alert: Alert, actor: Actor, template_id: str | None = None) -> Started | None:
    """The draft and its ``draft_created`` decision (not sent yet); None if nothing fits."""
    proposals = offers(alert)
    best = choose(proposals, template_id)
    if best is None:
        return None
    context = {
        **alert_context(alert),
        "alternatives": [
            {"template_id": d.template_id, "text": d.text} for d in proposals if d.id != best.id
        ],
    }
    return Started(best, decision(DraftCreated(best), actor, best.id, context=context))


async def send(started: Started, alert: Alert) -> None:
    """Record the proposal on ``responses.drafts`` and send its decision for the state machine."""
    draft = started.draft
    await response_drafts.send(
        key=draft.id,
        value=DraftRecord(
            draft_id=draft.id,
            alert_key=alert.dedup_key,
            created_at=started.record.at,
            draft=draft.to_dict(),
            alert=started.record.context or {},
        ),
    )
    await response_decisions.send(key=draft.id, value=started.record)


async def start_draft(alert: Alert, actor: Actor, template_id: str | None = None) -> Started | None:
    """Propose and send a draft for ``alert`` (see the module docstring); None if no template."""
    started = prepare(alert, actor, template_id)
    if started is not None:
        await send(started, alert)
    return started
