"""Escalation: if a firing alert is not acknowledged in time, notify the next level.

A policy is a list of levels, each "after this long unacknowledged, notify these receivers" (for
example the Slack channel at once through the route, on-call PagerDuty after 10 minutes, the
comms director's webhook after 30). An acknowledgement stops the climb; if the policy has an
``ack_timeout`` and the alert is still open when the acknowledgement runs out, the climb starts
again from the first level (a new *round*), so an acknowledged-then-forgotten crisis pages again.

Every escalation step is named by (round, level); the dispatcher records each one it delivered,
so re-evaluating the policy on every tick, after a restart, or on two workers, pages once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class Level:
    after_s: float
    receivers: tuple[str, ...]


@dataclass(frozen=True)
class EscalationPolicy:
    name: str
    levels: tuple[Level, ...]
    ack_timeout_s: float | None = None


@dataclass(frozen=True)
class Ack:
    """Who acknowledged an alert, how, and when (stored in the ``acks`` table)."""

    dedup_key: str
    at: datetime
    by: str
    via: str
    action: str = "acknowledge"  # or "resolve"
    event_id: str | None = None  # the sender's event id where it has one (PagerDuty)


def due_steps(
    policy: EscalationPolicy,
    *,
    fired_at: datetime,
    now: datetime,
    acked: Sequence[datetime] = (),
) -> list[tuple[int, int]]:
    """Every (round, level) step whose time has come, levels numbered from 1, oldest first.

    Round 0 climbs from ``fired_at`` until the first acknowledgement in ``acked``; with an
    ``ack_timeout_s``, round ``k`` climbs from the moment an acknowledgement ran out until the
    next one. Steps that would have come after an acknowledgement are never due. The caller skips
    the steps it already sent, so calling this on every tick is safe.
    """
    steps: list[tuple[int, int]] = []
    start, round_ = fired_at, 0
    pending = sorted(a for a in acked if a <= now)
    while True:
        ack = next((a for a in pending if a >= start), None)
        stop = now if ack is None else ack
        steps += [
            (round_, i)
            for i, level in enumerate(policy.levels, start=1)
            if start + timedelta(seconds=level.after_s) <= stop
        ]
        if ack is None or policy.ack_timeout_s is None:
            return steps
        expiry = ack + timedelta(seconds=policy.ack_timeout_s)
        renewed = [a for a in pending if ack < a < expiry]
        while renewed:  # acknowledging again before it runs out extends the acknowledgement
            ack = renewed[-1]
            expiry = ack + timedelta(seconds=policy.ack_timeout_s)
            renewed = [a for a in pending if ack < a < expiry]
        if expiry > now:
            return steps
        start, round_ = expiry, round_ + 1


def step_name(round_: int, level: int) -> str:
    return f"escalated.{round_}.{level}"
