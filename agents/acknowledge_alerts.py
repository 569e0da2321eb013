"""acknowledge_alerts: acknowledgements (Slack, PagerDuty, API) -> the ``acks`` table + a new step.

``alerts.acks`` is keyed by dedup key with as many partitions as ``alerts``, so this agent runs on
the worker that holds the alert's book. Every acknowledgement is kept (escalation needs their
times to know when one ran out); the first one for an open alert also becomes an
``acknowledged`` step on ``alerts``, which updates Slack's message, acknowledges PagerDuty's
incident and stops the escalation. A "resolve" (Slack's Resolve button, PagerDuty's resolve)
becomes a ``resolved`` step. Acknowledging an unknown or resolved alert is recorded and does
nothing else; acknowledging twice sends nothing new, which also stops the loop of PagerDuty
echoing back the acknowledgement Tocsin sent it. An acknowledgement whose sender's event id
(PagerDuty's ``event.id``) is already recorded for the alert is dropped whole: PagerDuty's
signature has no timestamp, so this is what makes a replayed signed body harmless.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from faust.types import StreamT

from pipeline import services
from pipeline.app import app
from pipeline.oncall import api  # noqa: F401 - registers the on-call HTTP endpoints (autodiscover)
from pipeline.oncall.acks import ack_to_dict
from pipeline.oncall.escalation import Ack
from pipeline.records import AckCommand, Alert
from pipeline.tables import acks, alert_book
from pipeline.topics import ack_commands, alerts

AGENT = "acknowledge_alerts"
MAX_KEPT = 50


def seen_before(record: Mapping[str, Any], ack: Ack) -> bool:
    """True when ``ack`` carries a sender's event id already recorded for this alert."""
    if ack.event_id is None:
        return False
    kept = record.get("acks", [])
    return any(isinstance(a, dict) and a.get("event_id") == ack.event_id for a in kept)


def next_step(stored: Mapping[str, Any] | None, ack: Ack) -> Alert | None:
    """The alert step an acknowledgement causes, or None (unknown, closed, or no change)."""
    if not stored:
        return None
    latest = Alert.from_data(dict(stored))
    if latest.state == "resolved":
        return None
    state = "resolved" if ack.action == "resolve" else "acknowledged"
    if latest.state == state:
        return None
    why = {**(latest.why or {}), "acknowledged_by": ack_to_dict(ack)}
    why.pop("escalation", None)
    return latest.derive(state=state, updated_at=ack.at, why=why)


@app.agent(ack_commands, name=AGENT)
async def acknowledge_alerts(stream: StreamT[AckCommand]) -> None:
    metrics = services.metrics()
    async for command in stream:
        metrics.messages_in.labels(AGENT).inc()
        ack = Ack(
            command.dedup_key, command.at, command.by, command.via, command.action, command.event_id
        )
        record = dict(acks[command.dedup_key])
        if seen_before(record, ack):
            metrics.ack_replays.inc()
            continue
        record["acks"] = [*record.get("acks", []), ack_to_dict(ack)][-MAX_KEPT:]
        acks[command.dedup_key] = record
        step = next_step(alert_book[command.dedup_key].get("alert"), ack)
        if step is not None:
            await alerts.send(key=command.dedup_key, value=step)
            metrics.messages_out.labels(AGENT).inc()
