"""The one way an acknowledgement or a silence enters the stream, whoever asked for it.

The API, Slack, PagerDuty and the console all call these: an acknowledgement becomes an
``AckCommand`` on ``alerts.acks`` (``acknowledge_alerts`` turns it into the alert's next step),
a silence is validated by :func:`~pipeline.oncall.silences.parse_silence` and becomes a
``SilenceCommand`` on ``alerts.silences`` (tables are written from streams only).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pipeline.oncall.escalation import Ack
from pipeline.oncall.silences import Silence, parse_silence
from pipeline.records import AckCommand, SilenceCommand
from pipeline.topics import ack_commands, silence_commands


async def send_ack(ack: Ack) -> None:
    await ack_commands.send(
        key=ack.dedup_key,
        value=AckCommand(
            dedup_key=ack.dedup_key,
            action=ack.action,
            by=ack.by,
            via=ack.via,
            at=ack.at,
            event_id=ack.event_id,
        ),
    )


async def create_silence(body: Any, *, now: datetime) -> Silence:
    """Validate an Alertmanager v2 silence body and send it; ``SilenceError`` names a bad field."""
    silence = parse_silence(body, silence_id=str(uuid.uuid4()), now=now)
    await silence_commands.send(
        key=silence.id,
        value=SilenceCommand(id=silence.id, action="create", at=now, silence=silence.to_dict()),
    )
    return silence
