"""Who acts on a draft and what they ask for: the actor and the approval events.

An event is a frozen dataclass with a ``type`` tag; :func:`event_to_dict` / :func:`event_from_dict`
give the JSON-able form carried on ``responses.decisions``. The transition function that applies
events lives in :mod:`pipeline.approvals.state`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any, ClassVar

from pipeline.approvals.audit import Origin
from pipeline.approvals.drafts import Draft
from pipeline.approvals.tokens import LinkClaims
from pipeline.approvals.users import SYSTEM_USER, User


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
