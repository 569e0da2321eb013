"""manage_silences: silence commands from the API -> the global ``silences`` table.

The API validates a silence and puts a command on the one-partition ``alerts.silences`` topic;
this agent applies it to a global table, so every worker's dispatcher sees every silence.
Expiring sets the silence's end to the command's time, keeping it listed as expired.
"""

from __future__ import annotations

from faust.types import StreamT

from pipeline import services
from pipeline.app import app
from pipeline.oncall.silences import silence_from_dict
from pipeline.records import SilenceCommand
from pipeline.tables import silences
from pipeline.topics import silence_commands

AGENT = "manage_silences"


@app.agent(silence_commands, name=AGENT)
async def manage_silences(stream: StreamT[SilenceCommand]) -> None:
    metrics = services.metrics()
    async for command in stream:
        metrics.messages_in.labels(AGENT).inc()
        if command.action == "create" and command.silence:
            silences[command.id] = dict(command.silence)
        elif command.action == "expire" and silences[command.id]:
            current = silence_from_dict(silences[command.id])
            silences[command.id] = current.expired(command.at).to_dict()
        metrics.messages_out.labels(AGENT).inc()
