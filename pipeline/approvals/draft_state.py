"""The state of one draft and the questions asked of it.

:class:`DraftState` is JSON-able (``to_dict``/``from_dict`` round-trip exactly) and is what the
changelog-backed ``approvals`` table holds. :func:`is_satisfied` and :func:`fillable_roles` read
it without changing it; :mod:`pipeline.approvals.state` computes the next state.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from pipeline.approvals.drafts import Draft
from pipeline.approvals.events import Actor
from pipeline.approvals.policy import Requirement

STATUSES = ("pending", "changes_requested", "approved", "rejected", "published")


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
