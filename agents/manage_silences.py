"""manage_silences: silence commands from the API -> the global ``silences`` table.

The API validates a silence and puts a command on the one-partition ``alerts.silences`` topic;
this agent applies it to a global table, so every worker's dispatcher sees every silence.
Expiring sets the silence's end to the command's time, keeping it listed as expired.

The command is checked again here (:func:`~pipeline.oncall.silences.silence_from_dict`): the
table is read for every alert step on every worker and kept in its changelog, so a silence that
does not read back (anything can produce to the topic) would stop every page until removed by
hand. Such a command goes to ``mentions.dlq`` (``invalid_silence``) and the table is left as it
was.
"""

from __future__ import annotations

from faust.types import StreamT

from pipeline import services
from pipeline.app import app
from pipeline.oncall.silences import SilenceError, silence_from_dict
from pipeline.records import SilenceCommand
from pipeline.tables import silences
from pipeline.topics import dead_letter_message, silence_commands

AGENT = "manage_silences"
INVALID = "invalid_silence"


@app.agent(silence_commands, name=AGENT)
async def manage_silences(stream: StreamT[SilenceCommand]) -> None:
    metrics = services.metrics()
    async for event in stream.events():
        metrics.messages_in.labels(AGENT).inc()
        command: SilenceCommand = event.value
        try:
            if command.action == "create":
                silence = silence_from_dict(command.silence)
                if silence.id != command.id:
                    raise SilenceError(f"id: {silence.id!r} differs from the command's")
                silences[command.id] = silence.to_dict()
            elif command.action == "expire":
                if silences[command.id]:
                    current = silence_from_dict(silences[command.id])
                    silences[command.id] = current.expired(command.at).to_dict()
            else:
                raise SilenceError("action: create or expire")
        except SilenceError as exc:
            await dead_letter_message(event.message, INVALID, str(exc))
            continue
        metrics.messages_out.labels(AGENT).inc()
