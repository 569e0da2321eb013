"""The console feed: one consumer that reads every partition of the fed topics into the store.

Why a plain consumer and not a Faust agent: an agent gets the partitions the consumer group gives
its worker, so with two workers each store would hold half the alerts. The feed assigns itself
every partition of every fed topic (no group, no committed offsets) and keeps its position in
the store, written in the same transaction as the rows (:meth:`ConsoleStore.write`): after a
restart it resumes right after the last stored record, and a record read twice is an upsert of
the same row. Each worker keeps its own complete store.

Writes run on a thread (SQLite would otherwise hold the event loop); a malformed record is
counted and skipped, never fatal. Retention runs on the same thread every ``PURGE_EVERY_S``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

from pipeline import safejson
from pipeline.console.store import FED_TOPICS, ConsoleStore, Incoming, Written

log = logging.getLogger(__name__)

PURGE_EVERY_S = 600.0
REFRESH_EVERY_S = 10.0  # how soon a new topic or partition is read
MAX_RECORDS = 2000
DAY_S = 86400.0


def decode(
    records: Iterable[ConsumerRecord[bytes, bytes]], names: Mapping[str, str]
) -> tuple[list[Incoming], int]:
    """Records as store input (under the store's topic ``names``), and how many were not a JSON
    object (kept as offsets only)."""
    out, bad = [], 0
    for record in records:
        try:
            value = safejson.loads(record.value or b"")
        except ValueError:
            value = None
        if not isinstance(value, dict):
            bad += 1
            value = {}  # the store skips it as malformed but still moves its offset on
        topic = names.get(record.topic, record.topic)
        out.append(Incoming(topic, record.partition, record.offset, value))
    return out, bad


@dataclass
class FeedStats:
    """What the feed has done since start (logged, and read by tests)."""

    stored: int = 0
    rejected: int = 0
    purged: int = 0
    partitions: int = 0
    last_batch_at: float = 0.0


class ConsoleFeed:
    """Reads every partition of the fed topics from ``bootstrap`` into ``store`` until cancelled."""

    def __init__(
        self,
        store: ConsoleStore,
        bootstrap: Sequence[str],
        *,
        topics: Mapping[str, str] | None = None,
        retention_days: float = 30.0,
        client_options: dict[str, Any] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.bootstrap = list(bootstrap)
        #: topic to read -> the fed topic it is (tests read prefixed copies of the topics)
        self.topics = dict(topics or {t: t for t in FED_TOPICS})
        self.retention_s = retention_days * DAY_S
        self.client_options = dict(client_options or {})
        self.clock = clock
        self.stats = FeedStats()

    async def run(self) -> None:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap,
            group_id=None,  # no group: aiokafka assigns every partition, new ones included
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            client_id="tocsin-console-feed",
            metadata_max_age_ms=int(REFRESH_EVERY_S * 1000),
            **self.client_options,
        )
        await consumer.start()
        try:
            positions = self.store.offsets()
            known: set[TopicPartition] = set()
            subscribed: list[str] = []
            purged = checked = 0.0
            while True:
                if time.monotonic() - purged >= PURGE_EVERY_S:
                    await self.purge()
                    purged = time.monotonic()
                if time.monotonic() - checked >= REFRESH_EVERY_S:
                    checked = time.monotonic()
                    # Only topics that exist: a metadata request naming a missing topic would
                    # have a broker with auto.create.topics.enable create it with its default
                    # partition count, not Tocsin's (pipeline/topology.py).
                    existing = await consumer.topics()
                    wanted = sorted(t for t in self.topics if t in existing)
                    if wanted != subscribed:
                        consumer.subscribe(topics=wanted)
                        subscribed, known = wanted, set()  # every partition is sought again
                if not subscribed:
                    await asyncio.sleep(1.0)
                    continue
                fetched = await consumer.getmany(timeout_ms=500, max_records=MAX_RECORDS)
                fresh = consumer.assignment() - known
                for tp in fresh:  # a partition seen for the first time starts where the store is
                    offset = positions.get((self.topics[tp.topic], tp.partition))
                    if offset is not None:
                        consumer.seek(tp, offset)
                known |= fresh
                self.stats.partitions = len(known)
                # Whatever was fetched before that seek and is already stored is left out.
                batch = [
                    r
                    for records in fetched.values()
                    for r in records
                    if r.offset >= positions.get((self.topics[r.topic], r.partition), 0)
                ]
                if batch:
                    await self.write(batch)
                    for r in batch:
                        where = (self.topics[r.topic], r.partition)
                        positions[where] = max(positions.get(where, 0), r.offset + 1)
        finally:
            await consumer.stop()

    async def write(self, batch: list[ConsumerRecord[bytes, bytes]]) -> Written:
        items, undecodable = decode(batch, self.topics)
        written = await asyncio.to_thread(self.store.write, items)
        self.stats.stored += written.stored
        self.stats.rejected += written.rejected
        self.stats.last_batch_at = self.clock()
        if written.rejected:
            log.warning(
                "console feed skipped %d malformed record(s) (%d not JSON objects)",
                written.rejected,
                undecodable,
            )
        return written

    async def purge(self) -> int:
        cutoff = self.clock() - self.retention_s
        gone = await asyncio.to_thread(self.store.purge, mentions_before=cutoff)
        self.stats.purged += gone
        if gone:
            log.info("console store: %d mention(s) past retention deleted", gone)
        return gone
