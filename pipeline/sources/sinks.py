"""Where a source's output goes: ``mentions.raw`` and ``mentions.dlq`` on Kafka, or files.

Both sinks write the same bytes: a mention in the ``mentions.raw`` contract keyed by its id (the
rule of every front door, :func:`pipeline.ingest.keys.raw_key`), and a dead letter in the format
the ingest agent writes (:class:`pipeline.records.DeadLetter` as JSON). :meth:`flush` returns once
everything written before it is acknowledged (by the broker, or on disk), which is when the runner
may save the source's checkpoint.
"""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import IO, Any, Protocol

from pipeline.kafka_clients import client_config
from pipeline.records import DeadLetter
from pipeline.settings_kafka import kafka_settings
from pipeline.topology import DLQ, MAX_MESSAGE_BYTES, RAW


class Sink(Protocol):
    async def mention(self, key: bytes, payload: bytes) -> None: ...

    async def dead_letter(self, letter: DeadLetter) -> None: ...

    async def flush(self) -> None: ...

    async def close(self) -> None: ...


def letter_bytes(letter: DeadLetter) -> bytes:
    """The dead letter as the ingest agent's topic holds it (Faust's JSON of the record)."""
    out = letter.dumps()
    return out if isinstance(out, bytes) else json.dumps(out).encode()


class JsonlSink:
    """Mentions to ``output`` (one JSON object per line), dead letters to ``dead_letters``."""

    def __init__(self, output: Path, dead_letters: Path | None = None) -> None:
        self._out: IO[bytes] = output.open("ab")
        self._dlq: IO[bytes] | None = dead_letters.open("ab") if dead_letters else None
        self.mentions = 0
        self.letters = 0

    async def mention(self, key: bytes, payload: bytes) -> None:
        self._out.write(payload.replace(b"\n", b" ") + b"\n")
        self.mentions += 1

    async def dead_letter(self, letter: DeadLetter) -> None:
        self.letters += 1
        if self._dlq is not None:
            self._dlq.write(letter_bytes(letter).replace(b"\n", b" ") + b"\n")

    async def flush(self) -> None:
        for handle in (self._out, self._dlq):
            if handle is not None:
                handle.flush()
                os.fsync(handle.fileno())

    async def close(self) -> None:
        await self.flush()
        self._out.close()
        if self._dlq is not None:
            self._dlq.close()


class KafkaSink:
    """Produces to ``mentions.raw`` and ``mentions.dlq`` with an idempotent, acks=all producer."""

    def __init__(self, bootstrap: str, *, raw_topic: str = RAW.name, dlq_topic: str = DLQ.name):
        self.bootstrap = bootstrap
        self.raw_topic = raw_topic
        self.dlq_topic = dlq_topic
        self._producer: Any = None
        self._pending: list[asyncio.Future[Any]] = []

    async def start(self) -> None:
        from aiokafka import AIOKafkaProducer

        self._producer = AIOKafkaProducer(
            bootstrap_servers=self.bootstrap,
            acks="all",
            enable_idempotence=True,
            linger_ms=20,
            max_request_size=MAX_MESSAGE_BYTES,
            request_timeout_ms=30_000,
            **client_config(kafka_settings()),
        )
        await self._producer.start()

    async def mention(self, key: bytes, payload: bytes) -> None:
        self._pending.append(await self._producer.send(self.raw_topic, key=key, value=payload))

    async def dead_letter(self, letter: DeadLetter) -> None:
        fut = await self._producer.send(self.dlq_topic, value=letter_bytes(letter))
        self._pending.append(fut)

    async def flush(self) -> None:
        pending, self._pending = self._pending, []
        if pending:
            await asyncio.gather(*pending)  # raises if the broker refused any of them

    async def close(self) -> None:
        if self._producer is not None:
            try:
                await self.flush()
            finally:
                await self._producer.stop()
                self._producer = None
