"""SLA timers: which approvals are overdue, and the Escalated events that hand them to deputies.

Pure functions of (states, now): the caller owns the clock (a Faust timer in the worker, a fixed
datetime in tests), so escalation is tested without sleeping. A role is escalated at most once
per draft version: the first time ``now`` passes its deadline in the current round. An edit starts
a new round (new deadlines, escalations again possible). Deputies who wrote the text, or who
already approved another role where distinct approvers are required, are not asked: they could
not approve anyway.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pipeline.approvals.flow import decision
from pipeline.approvals.policy import Policy
from pipeline.approvals.state import Actor, DraftState, Escalated
from pipeline.approvals.users import UserDirectory
from pipeline.records import DecisionRecord


@dataclass(frozen=True)
class Breach:
    """One required role past its deadline on one draft (what the SLA metric counts)."""

    draft_id: str
    role: str
    deadline: datetime
    overdue_s: float
    escalated: bool


def breaches(states: Iterable[DraftState], now: datetime) -> list[Breach]:
    """Every pending draft's missing roles whose deadline has passed at ``now``."""
    out: list[Breach] = []
    for state in states:
        if state.status != "pending":
            continue
        for role in state.missing_roles():
            deadline = state.deadline(role)
            if now >= deadline:
                escalated = any(
                    e.role == role and e.version == state.version for e in state.escalations
                )
                out.append(
                    Breach(
                        state.draft_id,
                        role,
                        deadline,
                        (now - deadline).total_seconds(),
                        escalated,
                    )
                )
    return out


def escalations_due(
    states: Iterable[DraftState],
    now: datetime,
    policy: Policy,
    users: UserDirectory | None = None,
) -> list[tuple[str, Escalated]]:
    """``(draft_id, Escalated)`` for each overdue role not escalated yet in this round.

    Apply each with ``state.decide(state, event, Actor.system(), policy, now)``.
    """
    by_id = {}
    due: list[tuple[str, Escalated]] = []
    for state in states:
        by_id[state.draft_id] = state
    for breach in breaches(by_id.values(), now):
        if breach.escalated:
            continue
        state = by_id[breach.draft_id]
        excluded = set(state.authors) if state.requirement.four_eyes else set()
        if state.requirement.distinct_approvers:
            excluded |= {a.user_id for a in state.current_approvals()}
        deputies = tuple(d for d in policy.deputies(breach.role, users) if d not in excluded)
        due.append((breach.draft_id, Escalated(breach.role, deputies)))
    return due


def next_deadline(states: Iterable[DraftState]) -> datetime | None:
    """The earliest deadline among pending drafts' missing roles (None if nothing waits)."""
    times = [
        s.deadline(role) for s in states if s.status == "pending" for role in s.missing_roles()
    ]
    return min(times) if times else None


def overdue_decisions(
    raw_states: Iterable[Mapping[str, Any]],
    now: datetime,
    sent: set[tuple[str, str, int]],
    policy: Policy,
    users: UserDirectory,
) -> list[DecisionRecord]:
    """Escalation decisions for every overdue role not escalated (or sent) yet, stamped ``now``.

    ``raw_states`` are ``approvals`` table values; ``sent`` remembers (draft, role, version)
    across calls, so a slow apply never causes a second event.
    """
    states = [DraftState.from_dict(raw) for raw in raw_states if raw]
    versions = {s.draft_id: s.version for s in states}
    out: list[DecisionRecord] = []
    for draft_id, event in escalations_due(states, now, policy, users):
        mark = (draft_id, event.role, versions.get(draft_id, 0))
        if mark in sent:
            continue
        sent.add(mark)
        out.append(decision(event, Actor.system(), draft_id, at=now))
    return out
