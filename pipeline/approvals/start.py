"""Starting a draft response for an alert: the one path the agent and the console share.

:func:`start_draft` proposes the library's statements for the alert (:func:`drafts.propose`),
takes the best one or the template asked for, records the proposal on ``responses.drafts`` (with
the runner-up templates and the alert context a reviewer sees) and asks the state machine to
create it with a ``draft_created`` event on ``responses.decisions`` (``apply_decisions`` is the
one writer of the approval table, and audits the outcome). The actor is the system for the
automatic draft of a firing alert, the signed-in responder for one started from the console: the
state machine refuses other roles and records the responder as the text's author (four eyes).

A draft's id comes from the alert's dedup key and the template id, so starting the same draft
twice proposes the same id and the state machine ignores the second. A rejected draft is final,
but a person may start the same statement again (:func:`resubmission`): the new draft takes the
next round's id (``<id>-r2``, ``-r3``...) and names the one it resubmits, so the rejected draft
and its audit entries stay as they were and the new one goes through approval from the start.
The system never restarts a rejected draft (a re-read firing alert proposes the first id again,
which the state machine ignores).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from pipeline import services
from pipeline.approvals.drafts import Draft, propose
from pipeline.approvals.flow import alert_context, decision, utcnow
from pipeline.approvals.runtime import runtime
from pipeline.approvals.state import Actor, DraftCreated, DraftState
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


#: A draft's approval state by id (the ``approvals`` table's, read by the caller).
StateOf = Callable[[str], DraftState | None]


def current_round(draft_id: str, state_of: StateOf) -> tuple[str, str]:
    """The id a draft of this alert and statement takes now, and the rejected draft it follows
    ("" when none): the first of ``draft_id``, ``draft_id-r2``, ``-r3``... not rejected."""
    previous, candidate, n = "", draft_id, 1
    while (state := state_of(candidate)) is not None and state.status == "rejected":
        previous, n = candidate, n + 1
        candidate = f"{draft_id}-r{n}"
    return candidate, previous


def resubmission(draft: Draft, actor: Actor, state_of: StateOf | None) -> Draft:
    """``draft`` as ``actor`` starts it: a person's start after a rejection is the next round
    (its id, and the rejected draft it resubmits); otherwise the draft as proposed."""
    if state_of is None or actor.is_system:
        return draft
    draft_id, previous = current_round(draft.id, state_of)
    return replace(draft, id=draft_id, resubmits=previous) if previous else draft


def prepare(
    alert: Alert, actor: Actor, template_id: str | None = None, state_of: StateOf | None = None
) -> Started | None:
    """The draft and its ``draft_created`` decision (not sent yet); None if nothing fits.
    ``state_of`` lets a person's start follow a rejected draft (:func:`resubmission`)."""
    proposals = offers(alert)
    chosen = choose(proposals, template_id)
    if chosen is None:
        return None
    best = resubmission(chosen, actor, state_of)
    context = {
        **alert_context(alert),
        "alternatives": [
            {"template_id": d.template_id, "text": d.text}
            for d in proposals
            if d.template_id != best.template_id
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
