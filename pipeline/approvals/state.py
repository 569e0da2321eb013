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
       '--Rejected--> rejected (final: a new draft is needed)

Refusal reasons (``DecisionRefused.reason``): unknown_draft, wrong_role, own_draft (four eyes:
someone who wrote the text approves it), same_person_twice (distinct approvers required),
role_already_approved, edit_after_approval, stale_version (the text changed since the actor saw
it), not_pending, link_mismatch / link_expired / link_replayed (single-use links), comment_required,
publish_mismatch (publishing anything but the exact approved text).

An approval is bound to the SHA-256 of the exact text and to the version; the draft is *approved*
only when every required role has an approval of the current text hash by a person allowed to
give it (:func:`is_satisfied` re-checks the whole policy, it does not trust a counter).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import datetime, timedelta
from typing import Any, ClassVar

from pipeline.approvals.audit import AuditEntry, Origin, make_entry, text_hash
from pipeline.approvals.drafts import Draft, edit
from pipeline.approvals.errors import DecisionRefused
from pipeline.approvals.policy import Policy, Requirement
from pipeline.approvals.tokens import LinkClaims
from pipeline.approvals.users import SYSTEM_USER, User

STATUSES = ("pending", "changes_requested", "approved", "rejected", "published")
EDITOR_ROLE = "responder"
MAX_COMMENT_CHARS = 2000


# -- who ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Actor:
    """Who is acting, with the roles they held when the request was authenticated, and from where."""

    user_id: str
    roles: frozenset[str]
    origin: Origin

    @classmethod
    def of(cls, user: User, channel: str, remote_addr: str | None = None) -> Actor:
        return cls(user.id, user.roles, Origin(channel, remote_addr))

    @classmethod
    def system(cls) -> Actor:
        return cls(SYSTEM_USER, frozenset(), Origin.system())

    @property
    def is_system(self) -> bool:
        return self.user_id == SYSTEM_USER and self.origin.channel == "system"

    def to_dict(self) -> dict[str, Any]:
        return {
            "user_id": self.user_id,
            "roles": sorted(self.roles),
            "channel": self.origin.channel,
            "remote_addr": self.origin.remote_addr,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Actor:
        return cls(
            str(data["user_id"]),
            frozenset(data["roles"]),
            Origin(str(data["channel"]), data.get("remote_addr")),
        )


# -- events ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class DraftCreated:
    """A draft proposed for an alert (by the system or a responder)."""

    draft: Draft
    type: ClassVar[str] = "draft_created"


@dataclass(frozen=True)
class Edited:
    """New text for the draft; ``version`` is the version the editor started from."""

    text: str
    version: int
    type: ClassVar[str] = "edited"


@dataclass(frozen=True)
class Approved:
    """Approval of ``version`` whose text hashes to ``text_hash`` (what the approver saw).

    ``role`` picks which required role the actor approves as (default: the first one they may
    fill that is still missing). ``link`` is set when the request came through a signed link.
    """

    version: int
    text_hash: str
    role: str | None = None
    link: LinkClaims | None = None
    type: ClassVar[str] = "approved"


@dataclass(frozen=True)
class Rejected:
    """Rejection with a mandatory comment; the draft is dead, a new one is needed."""

    version: int
    comment: str
    link: LinkClaims | None = None
    type: ClassVar[str] = "rejected"


@dataclass(frozen=True)
class ChangesRequested:
    """A reviewer asks for changes (comment mandatory); approvals of this round are void."""

    version: int
    comment: str
    link: LinkClaims | None = None
    type: ClassVar[str] = "changes_requested"


@dataclass(frozen=True)
class Escalated:
    """The SLA for ``role`` passed: ``deputies`` may now act for that role on this draft."""

    role: str
    deputies: tuple[str, ...]
    reason: str = "sla_breached"
    type: ClassVar[str] = "escalated"


@dataclass(frozen=True)
class Published:
    """The publish step handed out the text hashing to ``text_hash``."""

    text_hash: str
    target: str = ""
    type: ClassVar[str] = "published"


Event = DraftCreated | Edited | Approved | Rejected | ChangesRequested | Escalated | Published
_EVENT_TYPES: dict[str, type[Any]] = {
    cls.type: cls
    for cls in (DraftCreated, Edited, Approved, Rejected, ChangesRequested, Escalated, Published)
}


def event_to_dict(event: Event) -> dict[str, Any]:
    """JSON-able form of an event, with its ``type`` (for the decisions topic)."""
    out: dict[str, Any] = {"type": event.type}
    for f in fields(event):
        value = getattr(event, f.name)
        if isinstance(value, Draft | LinkClaims):
            value = value.to_dict()
        elif isinstance(value, tuple):
            value = list(value)
        out[f.name] = value
    return out


def event_from_dict(data: Mapping[str, Any]) -> Event:
    """Inverse of :func:`event_to_dict`; ValueError on an unknown type."""
    kind = data.get("type")
    cls = _EVENT_TYPES.get(str(kind))
    if cls is None:
        raise ValueError(f"unknown approval event type {kind!r}")
    values: dict[str, Any] = {f.name: data[f.name] for f in fields(cls) if f.name in data}
    if "draft" in values:
        values["draft"] = Draft.from_dict(values["draft"])
    if values.get("link") is not None:
        values["link"] = LinkClaims.from_dict(values["link"])
    if "deputies" in values:
        values["deputies"] = tuple(values["deputies"])
    event: Event = cls(**values)
    return event


# -- state -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Approval:
    user_id: str
    role: str
    text_hash: str
    version: int
    at: datetime
    channel: str
    acting: bool = False


@dataclass(frozen=True)
class Decision:
    """A comment-bearing decision kept for the draft page (reject / request changes)."""

    user_id: str
    action: str
    comment: str
    version: int
    at: datetime


@dataclass(frozen=True)
class Escalation:
    role: str
    deputies: tuple[str, ...]
    version: int
    at: datetime


@dataclass(frozen=True)
class DraftState:
    """Everything known about one draft; ``to_dict``/``from_dict`` round-trip exactly."""

    draft: Draft
    version: int
    status: str
    requirement: Requirement
    created_at: datetime
    round_started_at: datetime
    authors: tuple[str, ...] = ()
    approvals: tuple[Approval, ...] = ()
    decisions: tuple[Decision, ...] = ()
    escalations: tuple[Escalation, ...] = ()
    used_nonces: tuple[str, ...] = ()
    approved_hash: str | None = None
    published_hash: str | None = None
    published_at: datetime | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def draft_id(self) -> str:
        return self.draft.id

    @property
    def text_hash(self) -> str:
        return self.draft.text_hash

    def current_approvals(self) -> tuple[Approval, ...]:
        """Approvals of the current version and text (earlier rounds are void)."""
        return tuple(
            a for a in self.approvals if a.version == self.version and a.text_hash == self.text_hash
        )

    def missing_roles(self) -> tuple[str, ...]:
        done = {a.role for a in self.current_approvals()}
        return tuple(r for r in self.requirement.roles if r not in done)

    def deadline(self, role: str) -> datetime:
        """When ``role`` must have decided in the current round."""
        return self.round_started_at + timedelta(seconds=self.requirement.sla_s[role])

    def acting_roles(self, user_id: str) -> frozenset[str]:
        """Roles ``user_id`` may fill on this draft as an escalation deputy (current round)."""
        return frozenset(
            e.role for e in self.escalations if e.version == self.version and user_id in e.deputies
        )

    def to_dict(self) -> dict[str, Any]:
        def when(value: datetime | None) -> str | None:
            return value.isoformat() if value is not None else None

        return {
            "draft": self.draft.to_dict(),
            "version": self.version,
            "status": self.status,
            "requirement": self.requirement.to_dict(),
            "created_at": when(self.created_at),
            "round_started_at": when(self.round_started_at),
            "authors": list(self.authors),
            "approvals": [
                {
                    "user_id": a.user_id,
                    "role": a.role,
                    "text_hash": a.text_hash,
                    "version": a.version,
                    "at": when(a.at),
                    "channel": a.channel,
                    "acting": a.acting,
                }
                for a in self.approvals
            ],
            "decisions": [
                {
                    "user_id": d.user_id,
                    "action": d.action,
                    "comment": d.comment,
                    "version": d.version,
                    "at": when(d.at),
                }
                for d in self.decisions
            ],
            "escalations": [
                {
                    "role": e.role,
                    "deputies": list(e.deputies),
                    "version": e.version,
                    "at": when(e.at),
                }
                for e in self.escalations
            ],
            "used_nonces": list(self.used_nonces),
            "approved_hash": self.approved_hash,
            "published_hash": self.published_hash,
            "published_at": when(self.published_at),
            "extra": dict(self.extra),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DraftState:
        def when(value: str | None) -> datetime | None:
            return datetime.fromisoformat(value) if value is not None else None

        def must(value: str) -> datetime:
            return datetime.fromisoformat(value)

        return cls(
            draft=Draft.from_dict(data["draft"]),
            version=int(data["version"]),
            status=str(data["status"]),
            requirement=Requirement.from_dict(data["requirement"]),
            created_at=must(data["created_at"]),
            round_started_at=must(data["round_started_at"]),
            authors=tuple(data.get("authors", ())),
            approvals=tuple(
                Approval(
                    a["user_id"],
                    a["role"],
                    a["text_hash"],
                    int(a["version"]),
                    must(a["at"]),
                    a["channel"],
                    bool(a.get("acting", False)),
                )
                for a in data.get("approvals", ())
            ),
            decisions=tuple(
                Decision(d["user_id"], d["action"], d["comment"], int(d["version"]), must(d["at"]))
                for d in data.get("decisions", ())
            ),
            escalations=tuple(
                Escalation(e["role"], tuple(e["deputies"]), int(e["version"]), must(e["at"]))
                for e in data.get("escalations", ())
            ),
            used_nonces=tuple(data.get("used_nonces", ())),
            approved_hash=data.get("approved_hash"),
            published_hash=data.get("published_hash"),
            published_at=when(data.get("published_at")),
            extra=dict(data.get("extra", {})),
        )


# -- queries -----------------------------------------------------------------------------------
def is_satisfied(state: DraftState) -> bool:
    """True when the policy is met for the *current* text: every required role approved by an
    allowed person, distinct where required, none of them an author where four eyes apply."""
    current = state.current_approvals()
    by_role: dict[str, Approval] = {}
    for approval in current:
        by_role.setdefault(approval.role, approval)
    if any(role not in by_role for role in state.requirement.roles):
        return False
    people = [by_role[role].user_id for role in state.requirement.roles]
    if state.requirement.distinct_approvers and len(set(people)) != len(people):
        return False
    if state.requirement.four_eyes and set(people) & set(state.authors):
        return False
    return bool(state.requirement.roles)


def fillable_roles(state: DraftState, actor: Actor) -> tuple[str, ...]:
    """Required roles ``actor`` could approve as right now (for queues and buttons)."""
    if state.status != "pending":
        return ()
    if state.requirement.four_eyes and actor.user_id in state.authors:
        return ()
    held = actor.roles | state.acting_roles(actor.user_id)
    mine = {a.role for a in state.current_approvals() if a.user_id == actor.user_id}
    if mine and state.requirement.distinct_approvers:
        return ()
    return tuple(r for r in state.missing_roles() if r in held)


# -- the transition function -------------------------------------------------------------------
class _Refuse(Exception):
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
        raise _Refuse("not_pending", "the draft was rejected; start a new one")
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
