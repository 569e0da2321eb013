"""Where a source's position is kept between runs: a compacted Kafka topic, a file, or memory.

A checkpoint is the JSON a source's ``checkpoint()`` returned (a Jetstream cursor, Mastodon
``since_id``\\ s, feed ETags and recent entry ids), keyed by the source's name. The runner saves it
only after the sink has acknowledged every mention read before it, so a restart re-reads at most
what came after the last save (at-least-once; mention ids de-duplicate the rest) and loses nothing.

- :class:`KafkaCheckpoints`: ``sources.checkpoints`` (compacted, one partition; the latest value
  per source survives compaction), read from the start on load;
- :class:`FileCheckpoints`: one JSON file, replaced atomically (``sources run --output --state``);
- :class:`MemoryCheckpoints`: nothing survives the process (``--output`` without ``--state``).
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any, Protocol

from pipeline.kafka_clients import client_config
from pipeline.safejson import BadJson, loads
from pipeline.settings_kafka import kafka_settings
from pipeline.topology import SOURCE_CHECKPOINTS


class CheckpointStore(Protocol):
    async def load(self, source: str) -> dict[str, Any] | None: ...

    async def save(self, source: str, state: dict[str, Any]) -> None: ...

    async def close(self) -> None: ...


class MemoryCheckpoints:
    def __init__(self) -> None:
        self.saved: dict[str, dict[str, Any]] = {}

    async def load(self, source: str) -> dict[str, Any] | None:
        return self.saved.get(source)

    async def save(self, source: str, state: dict[str, Any]) -> None:
        self.saved[source] = state

    async def close(self) -> None:
        return None


class FileCheckpoints:
    """All sources' checkpoints in one JSON object, written to a temporary file and renamed."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._all: dict[str, dict[str, Any]] = {}
        if path.exists():
            try:
                found = loads(path.read_bytes())
            except (OSError, BadJson):
                found = None
            if isinstance(found, dict):
                self._all = {k: v for k, v in found.items() if isinstance(v, dict)}

    async def load(self, source: str) -> dict[str, Any] | None:
        return self._all.get(source)

    async def save(self, source: str, state: dict[str, Any]) -> None:
        self._all[source] = state
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(self._all, handle, sort_keys=True)
        os.replace(tmp, self.path)

    async def close(self) -> None:
        return None


class KafkaCheckpoints:
    """Checkpoints in a compacted topic; :meth:`start` reads every source's latest one."""

    def __init__(self, bootstrap: str, topic: str = SOURCE_CHECKPOINTS.name) -> None:
        self.bootstrap = bootstrap
        self.topic = topic
        self._latest: dict[str, dict[str, Any]] = {}
        self._producer: Any = None

    async def start(self) -> None:
        from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

        security = client_config(kafka_settings())
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap, enable_auto_commit=False, group_id=None, **security
        )
        await consumer.start()
        try:
            partitions = consumer.partitions_for_topic(self.topic) or {0}
            tps = [TopicPartition(self.topic, p) for p in sorted(partitions)]
            consumer.assign(tps)
            await consumer.seek_to_beginning(*tps)
            ends = await consumer.end_offsets(tps)
            for tp in tps:
                while await consumer.position(tp) < ends[tp]:
                    batch = await consumer.getmany(tp, timeout_ms=1000)
                    for record in batch.get(tp, []):
                        self._apply(record.key, record.value)
        finally:
            await consumer.stop()
        self._producer = AIOKafkaProducer(
            bootstrap_servers=self.bootstrap, acks="all", enable_idempotence=True, **security
        )
        await self._producer.start()

    def _apply(self, key: bytes | None, value: bytes | None) -> None:
        if key is None:
            return
        name = key.decode("utf-8", "replace")
        if value is None:  # a tombstone: the source's checkpoint was deleted
            self._latest.pop(name, None)
            return
        try:
            state = loads(value)
        except BadJson:
            return  # not ours; the source starts from its default position
        if isinstance(state, dict):
            self._latest[name] = state

    async def load(self, source: str) -> dict[str, Any] | None:
        return self._latest.get(source)

    async def save(self, source: str, state: dict[str, Any]) -> None:
        value = json.dumps(state, sort_keys=True).encode()
        await self._producer.send_and_wait(self.topic, key=source.encode(), value=value)
        self._latest[source] = state

    async def close(self) -> None:
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None
