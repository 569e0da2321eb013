"""The approval state machine: pure functions over JSON-able state, one state per draft.

``decide(state, event, actor, policy, now) -> (new_state, audit_entries)`` applies one event or
raises :class:`~pipeline.approvals.errors.DecisionRefused`, whose ``entry`` is the refusal's audit
entry (every refusal is audited, not only the successes). Nothing here does I/O or reads a clock:
the caller passes ``now`` -- the time stamped on the decision record at the edge, so replaying the
decisions topic after a restart rebuilds exactly the same state and the same audit ids.

Events: DraftCreated, Edited, Approved, Rejected(comment), ChangesRequested(comment), Escalated,
Published. Statuses::

    pending --Approved (policy satisfied)--> approved --Published--> published
       |  ^                                     (no edit once approved: edit_after_approval)
       |  '--Edited-- changes_requested <--ChangesRequested--'  (from pending)
       '--Rejected--> rejected (final: a person may start the statement again as a new
                                draft, ``<id>-r2``: pipeline.approvals.start.resubmission)

Refusal reasons (``DecisionRefused.reason``): unknown_draft, wrong_role, own_draft (four eyes:
someone who wrote the text approves it), same_person_twice (distinct approvers required),
role_already_approved, edit_after_approval, stale_version (the text changed since the actor saw
it), not_pending, link_mismatch / link_expired / link_replayed (single-use links), comment_required,
publish_mismatch (publishing anything but the exact approved text).

An approval is bound to the SHA-256 of the exact text and to the version; the draft is *approved*
only when every required role has an approval of the current text hash by a person allowed to
give it (:func:`is_satisfied` re-checks the whole policy, it does not trust a counter).

The types it works on live beside it and are re-exported here, so callers import the state
machine from one place: the actor and events in :mod:`pipeline.approvals.events`, the draft
state and its queries in :mod:`pipeline.approvals.draft_state`.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from pipeline.approvals.audit import AuditEntry, make_entry, text_hash
from pipeline.approvals.draft_state import (
    STATUSES,
    Approval,
    Decision,
    DraftState,
    Escalation,
    fillable_roles,
    is_satisfied,
)
from pipeline.approvals.drafts import edit
from pipeline.approvals.errors import DecisionRefused
from pipeline.approvals.events import (
    Actor,
    Approved,
    ChangesRequested,
    DraftCreated,
    Edited,
    Escalated,
    Event,
    Published,
    Rejected,
    event_from_dict,
    event_to_dict,
)
from pipeline.approvals.policy import Policy
from pipeline.approvals.tokens import LinkClaims
from pipeline.errors import TocsinError

__all__ = [
    "EDITOR_ROLE",
    "MAX_COMMENT_CHARS",
    "STATUSES",
    "Actor",
    "Approval",
    "Approved",
    "ChangesRequested",
    "Decision",
    "DraftCreated",
    "DraftState",
    "Edited",
    "Escalated",
    "Escalation",
    "Event",
    "Published",
    "Rejected",
    "decide",
    "event_from_dict",
    "event_to_dict",
    "fillable_roles",
    "is_satisfied",
]

EDITOR_ROLE = "responder"
MAX_COMMENT_CHARS = 2000


# -- the transition function -------------------------------------------------------------------
class _Refuse(TocsinError):
    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.detail = detail


def decide(
    state: DraftState | None,
    event: Event,
    actor: Actor,
    policy: Policy,
    now: datetime,
) -> tuple[DraftState, list[AuditEntry]]:
    """Apply ``event`` by ``actor`` at ``now``: the new state and its audit entries.

    Raises DecisionRefused (with the refusal's audit entry) when the event is not allowed; the
    state is then unchanged, so a refused request through a link does not spend the link.
    """
    try:
        if isinstance(event, DraftCreated):
            return _created(state, event, actor, policy, now)
        if state is None:
            raise _Refuse("unknown_draft", "no such draft")
        if isinstance(event, Edited):
            return _edited(state, event, actor, policy, now)
        if isinstance(event, Approved):
            return _approved(state, event, actor, now)
        if isinstance(event, Rejected | ChangesRequested):
            return _commented(state, event, actor, now)
        if isinstance(event, Escalated):
            return _escalated(state, event, actor, now)
        return _published(state, event, actor, now)
    except _Refuse as refusal:
        draft_id = (
            event.draft.id
            if isinstance(event, DraftCreated)
            else (state.draft_id if state is not None else "")
        )
        entry = make_entry(
            at=now,
            actor=actor.user_id,
            action=event.type,
            draft_id=draft_id,
            origin=actor.origin,
            outcome="refused",
            reason=refusal.reason,
            detail=refusal.detail,
            text=state.draft.text if state is not None else "",
            comment=getattr(event, "comment", ""),
            version=getattr(event, "version", 0),
        )
        raise DecisionRefused(refusal.reason, refusal.detail, entry) from None


def _entry(state: DraftState, event: Event, actor: Actor, now: datetime, **kw: Any) -> AuditEntry:
    return make_entry(
        at=now,
        actor=actor.user_id,
        action=kw.pop("action", event.type),
        draft_id=state.draft_id,
        origin=actor.origin,
        version=kw.pop("version", state.version),
        **kw,
    )


def _created(
    state: DraftState | None, event: DraftCreated, actor: Actor, policy: Policy, now: datetime
) -> tuple[DraftState, list[AuditEntry]]:
    if not (actor.is_system or EDITOR_ROLE in actor.roles):
        raise _Refuse("wrong_role", f"creating a draft needs the {EDITOR_ROLE} role")
    if state is not None:
        # At-least-once delivery: the same alert proposes the same draft id again. Not an error.
        return state, []
    draft = event.draft
    requirement = policy.requirement(
        topic=draft.topic,
        severity=draft.severity,
        text=draft.text,
        language=draft.language,
        edited_reviewed_template=draft.needs_review,
    )
    new = DraftState(
        draft=draft,
        version=1,
        status="pending",
        requirement=requirement,
        created_at=now,
        round_started_at=now,
        authors=() if actor.is_system else (actor.user_id,),
    )
    reference = f"template {draft.template_id}" + (
        f" (pre-approved: {draft.template_reference})" if draft.template_reference else ""
    )
    if draft.resubmits:
        reference += f"; resubmits rejected draft {draft.resubmits}"
    entry = _entry(
        new,
        event,
        actor,
        now,
        text=draft.text,
        with_text=True,
        detail="; ".join((reference, *requirement.reasons)),
    )
    return new, [entry]


def _check_version(state: DraftState, version: int) -> None:
    if version != state.version:
        raise _Refuse(
            "stale_version",
            f"the draft is at version {state.version}, the request was for version {version}",
        )


def _check_link(
    state: DraftState, link: LinkClaims | None, actor: Actor, action: str, now: datetime
) -> None:
    if link is None:
        return
    if link.user_id != actor.user_id or link.draft_id != state.draft_id or link.action != action:
        raise _Refuse("link_mismatch", "this link was issued for another user, draft or action")
    if now.timestamp() >= link.expires_at:
        raise _Refuse("link_expired", "the link has expired; ask for a new one")
    if link.nonce in state.used_nonces:
        raise _Refuse("link_replayed", "this single-use link has already been used")


def _spend(state: DraftState, link: LinkClaims | None) -> tuple[str, ...]:
    return state.used_nonces + ((link.nonce,) if link is not None else ())


def _edited(
    state: DraftState, event: Edited, actor: Actor, policy: Policy, now: datetime
) -> tuple[DraftState, list[AuditEntry]]:
    if EDITOR_ROLE not in actor.roles:
        raise _Refuse("wrong_role", f"editing needs the {EDITOR_ROLE} role")
    if state.status in ("approved", "published"):
        raise _Refuse("edit_after_approval", f"the draft is {state.status}; its text is frozen")
    if state.status == "rejected":
        raise _Refuse(
            "not_pending",
            "the draft was rejected; start the statement again from the alert's console page",
        )
    # After "request changes" the round's approvals are void (the edit bumps the version they
    # are bound to); while pending, an approval already given freezes the text.
    given = state.current_approvals() if state.status == "pending" else ()
    if given:
        who = ", ".join(sorted({a.user_id for a in given}))
        raise _Refuse(
            "edit_after_approval",
            f"already approved by {who}; a reviewer must request changes first",
        )
    _check_version(state, event.version)
    try:
        draft = edit(state.draft, event.text)
    except ValueError as exc:
        raise _Refuse("invalid_text", str(exc)) from None
    requirement = policy.requirement(
        topic=draft.topic,
        severity=draft.severity,
        text=draft.text,
        language=draft.language,
        edited_reviewed_template=draft.needs_review,
    )
    authors = state.authors + (() if actor.user_id in state.authors else (actor.user_id,))
    new = replace(
        state,
        draft=draft,
        version=state.version + 1,
        status="pending",
        requirement=requirement,
        round_started_at=now,
        authors=authors,
    )
    detail = "; ".join(requirement.reasons) + ("; needs review again" if draft.needs_review else "")
    entry = _entry(new, event, actor, now, text=draft.text, with_text=True, detail=detail)
    return new, [entry]


def _approved(
    state: DraftState, event: Approved, actor: Actor, now: datetime
) -> tuple[DraftState, list[AuditEntry]]:
    _check_link(state, event.link, actor, "approve", now)
    if state.status != "pending":
        raise _Refuse("not_pending", f"the draft is {state.status}")
    _check_version(state, event.version)
    if event.text_hash != state.text_hash:
        raise _Refuse("stale_version", "the text approved is not the draft's current text")
    required = state.requirement.roles
    held = actor.roles | state.acting_roles(actor.user_id)
    missing = state.missing_roles()
    if event.role is not None:
        if event.role not in required or event.role not in held:
            raise _Refuse("wrong_role", f"you cannot approve as {event.role}")
        role = event.role
        if role not in missing:
            raise _Refuse("role_already_approved", f"{role} has already approved this version")
    else:
        mine = [r for r in required if r in held]
        if not mine:
            raise _Refuse("wrong_role", f"this draft needs {', '.join(required)}")
        open_roles = [r for r in mine if r in missing]
        if not open_roles:
            raise _Refuse("role_already_approved", "your role has already approved this version")
        role = open_roles[0]
    if state.requirement.four_eyes and actor.user_id in state.authors:
        raise _Refuse("own_draft", "you wrote this text; someone else must approve it")
    if state.requirement.distinct_approvers and any(
        a.user_id == actor.user_id for a in state.current_approvals()
    ):
        raise _Refuse("same_person_twice", "each role must be approved by a different person")
    approval = Approval(
        actor.user_id,
        role,
        state.text_hash,
        state.version,
        now,
        actor.origin.channel,
        acting=role not in actor.roles,
    )
    new = replace(
        state, approvals=(*state.approvals, approval), used_nonces=_spend(state, event.link)
    )
    entries = [
        _entry(
            new,
            event,
            actor,
            now,
            text=state.draft.text,
            with_text=True,
            detail=f"as {role}" + (" (acting deputy)" if approval.acting else ""),
        )
    ]
    if is_satisfied(new):
        new = replace(new, status="approved", approved_hash=new.text_hash)
        entries.append(
            _entry(
                new,
                event,
                actor,
                now,
                action="fully_approved",
                text=state.draft.text,
                with_text=True,
                detail="; ".join(f"{a.role}: {a.user_id}" for a in new.current_approvals()),
            )
        )
    return new, entries


def _commented(
    state: DraftState, event: Rejected | ChangesRequested, actor: Actor, now: datetime
) -> tuple[DraftState, list[AuditEntry]]:
    action = "reject" if isinstance(event, Rejected) else "request_changes"
    _check_link(state, event.link, actor, action, now)
    if state.status != "pending":
        raise _Refuse("not_pending", f"the draft is {state.status}")
    _check_version(state, event.version)
    held = actor.roles | state.acting_roles(actor.user_id)
    if not set(state.requirement.roles) & held:
        raise _Refuse("wrong_role", f"this draft needs {', '.join(state.requirement.roles)}")
    comment = event.comment.strip()
    if not comment:
        raise _Refuse("comment_required", "say why, so the responder can act on it")
    if len(comment) > MAX_COMMENT_CHARS:
        raise _Refuse("comment_required", f"a comment is at most {MAX_COMMENT_CHARS} characters")
    status = "rejected" if isinstance(event, Rejected) else "changes_requested"
    # Approvals of this round stay in the history but count for nothing: they are bound to this
    # version, and the edit that answers the request creates the next one.
    new = replace(
        state,
        status=status,
        decisions=(
            *state.decisions,
            Decision(actor.user_id, event.type, comment, state.version, now),
        ),
        used_nonces=_spend(state, event.link),
    )
    return new, [_entry(new, event, actor, now, comment=comment, text=state.draft.text)]


def _escalated(
    state: DraftState, event: Escalated, actor: Actor, now: datetime
) -> tuple[DraftState, list[AuditEntry]]:
    if not actor.is_system:
        raise _Refuse("wrong_role", "only the SLA timer escalates")
    if state.status != "pending":
        raise _Refuse("not_pending", f"the draft is {state.status}")
    if event.role not in state.missing_roles():
        raise _Refuse("not_pending", f"{event.role} has already approved")
    if any(e.role == event.role and e.version == state.version for e in state.escalations):
        # Two timers (replicas, a restart) may both see the breach: the second is a no-op.
        return state, []
    escalation = Escalation(event.role, tuple(event.deputies), state.version, now)
    new = replace(state, escalations=(*state.escalations, escalation))
    detail = f"{event.role} overdue; deputies: {', '.join(event.deputies) or 'none configured'}"
    return new, [_entry(new, event, actor, now, reason=event.reason, detail=detail)]


def _published(
    state: DraftState, event: Published, actor: Actor, now: datetime
) -> tuple[DraftState, list[AuditEntry]]:
    if not (actor.is_system or EDITOR_ROLE in actor.roles):
        raise _Refuse("wrong_role", f"publishing needs the {EDITOR_ROLE} role")
    if state.status != "approved" or state.approved_hash is None:
        raise _Refuse("not_pending", f"the draft is {state.status}, not approved")
    if not (
        event.text_hash == state.approved_hash == state.text_hash == text_hash(state.draft.text)
    ):
        raise _Refuse("publish_mismatch", "the text to publish differs from the approved text")
    new = replace(state, status="published", published_hash=event.text_hash, published_at=now)
    detail = f"to {event.target}" if event.target else ""
    return new, [
        _entry(new, event, actor, now, text=state.draft.text, with_text=True, detail=detail)
    ]
