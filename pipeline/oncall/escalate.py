"""Escalation in the worker: the next level paged when a firing alert is not acknowledged.

The ``escalate_alerts`` timer (``agents/escalate_alerts.py``) calls :func:`escalate_once`.

Every ``TOCSIN_ESCALATION_TICK_S`` it walks this worker's alert book, asks the alert's escalation
policy (``escalation:`` on its route) which (round, level) steps are due given when it fired and
when it was acknowledged, and puts each step not yet delivered on ``alerts`` as an ``escalated``
alert step; ``dispatch_alerts`` sends it to that level's receivers and records it, so a step
re-emitted by a later tick, a restart, or a standby replica is still delivered once. Silenced
alerts are not escalated. The clock is a parameter of :func:`due_escalations`, so the timing is
unit-tested without waiting.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from pipeline.oncall.dispatch import current_silences, step_of
from pipeline.oncall.escalation import due_steps, step_name
from pipeline.oncall.routing import RoutingTree, alert_labels
from pipeline.oncall.silences import Silence, silenced_by
from pipeline.records import Alert
from pipeline.tables import acks, alert_book
from pipeline.topics import alerts

OPEN_STATES = frozenset({"firing", "escalated", "acknowledged"})


def due_escalations(
    entry: Mapping[str, Any],
    ack_record: Mapping[str, Any],
    tree: RoutingTree,
    active: Iterable[Silence],
    now: datetime,
    already: Iterable[str] = (),
) -> list[Alert]:
    """The escalated steps to emit now for one alert-book entry (pure: no tables, no clock)."""
    stored, fired = entry.get("alert"), entry.get("fired_at")
    if not stored or not fired or stored.get("state") not in OPEN_STATES:
        return []
    alert = Alert.from_data(dict(stored))
    policy = tree.escalation_for(alert.derive(state="firing"))
    if policy is None or silenced_by(alert_labels(alert), "firing", active, now) is not None:
        return []
    acked = [
        datetime.fromisoformat(a["at"])
        for a in ack_record.get("acks", [])
        if a.get("action") == "acknowledge"
    ]
    sent = {mark.split("/", 1)[0] for mark in entry.get("delivered", {})}
    muted = entry.get("muted") or {}
    if muted.get("step"):
        sent.add(str(muted["step"]))  # a muted escalation is not retried every tick
    sent |= set(already)
    out: list[Alert] = []
    for round_, level in due_steps(
        policy, fired_at=datetime.fromisoformat(str(fired)), now=now, acked=acked
    ):
        if step_name(round_, level) in sent:
            continue
        why = {
            **(alert.why or {}),
            "escalation": {"policy": policy.name, "round": round_, "level": level},
        }
        out.append(alert.derive(state="escalated", updated_at=now, why=why))
    return out


async def escalate_once(tree: RoutingTree, now: datetime, emitted: set[str]) -> int:
    """Emit every due escalation step of this worker's alerts; returns how many were emitted."""
    active = current_silences()
    count = 0
    for key, entry in list(alert_book.items()):
        mine = {e.split("|", 1)[1] for e in emitted if e.startswith(f"{key}|")}
        for step in due_escalations(entry, acks[key], tree, active, now, mine):
            await alerts.send(key=str(key), value=step)
            emitted.add(f"{key}|{step_of(step)}")
            count += 1
    return count
