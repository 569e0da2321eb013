"""The console feed: one consumer that reads every partition of the fed topics into the store.

Why a plain consumer and not a Faust agent: an agent gets the partitions the consumer group gives
its worker, so with two workers each store would hold half the alerts. The feed assigns itself
every partition of every fed topic (no group, no committed offsets) and keeps its position in
the store, written in the same transaction as the rows (``Store.write``): after a
restart it resumes right after the last stored record, and a record read twice is an upsert of
the same row. With SQLite each worker keeps its own complete store; with PostgreSQL every worker
shares one, and only the feed that holds the store's writer lock (``Store.claim_writer``) reads
and writes: the others ask again every ``CLAIM_EVERY_S`` and take over when it goes.

Writes run on a thread (the database call would otherwise hold the event loop); a malformed
record is counted and skipped, never fatal. Retention runs on the same thread every
``PURGE_EVERY_S``. Metrics (``tocsin_console_*``, docs/console.md): records stored and rejected
by kind, the last batch's lag, records not stored yet, failures, mentions deleted by retention.
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
from pipeline.console.rows import FED_TOPICS, Incoming, Store, Written
from pipeline.metrics import TocsinMetrics

log = logging.getLogger(__name__)

PURGE_EVERY_S = 600.0
REFRESH_EVERY_S = 10.0  # how soon a new topic or partition is read
CLAIM_EVERY_S = 5.0  # how often a worker that does not write asks for the writer lock again
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
        store: Store,
        bootstrap: Sequence[str],
        *,
        topics: Mapping[str, str] | None = None,
        retention_days: float = 30.0,
        client_options: dict[str, Any] | None = None,
        clock: Callable[[], float] = time.time,
        metrics: TocsinMetrics | None = None,
    ) -> None:
        self.store = store
        self.bootstrap = list(bootstrap)
        #: topic to read -> the fed topic it is (tests read prefixed copies of the topics)
        self.topics = dict(topics or {t: t for t in FED_TOPICS})
        self.retention_s = retention_days * DAY_S
        self.client_options = dict(client_options or {})
        self.clock = clock
        self.metrics = metrics
        self.stats = FeedStats()

    async def claim(self) -> None:
        """Wait until this feed may write the store (at once with SQLite)."""
        while not await asyncio.to_thread(self.store.claim_writer):
            if self.metrics is not None:
                self.metrics.console_writer.set(0)
                self.metrics.console_behind.set(0)
            await asyncio.sleep(CLAIM_EVERY_S)
        if self.metrics is not None:
            self.metrics.console_writer.set(1)
        log.info("console feed: this worker writes the console store")

    async def run(self) -> None:
        await self.claim()
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
                self.measure_behind(consumer, known, positions)
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

    def measure_behind(
        self,
        consumer: AIOKafkaConsumer,
        partitions: set[TopicPartition],
        positions: Mapping[tuple[str, int], int],
    ) -> None:
        """Records on the fed partitions past the stored position (from the fetch's end offsets)."""
        if self.metrics is None:
            return
        behind = 0
        for tp in partitions:
            end = consumer.highwater(tp)
            if end is not None:
                behind += max(0, end - positions.get((self.topics[tp.topic], tp.partition), 0))
        self.metrics.console_behind.set(behind)

    async def write(self, batch: list[ConsumerRecord[bytes, bytes]]) -> Written:
        items, undecodable = decode(batch, self.topics)
        try:
            written = await asyncio.to_thread(self.store.write, items)
        except Exception:
            if self.metrics is not None:
                self.metrics.console_errors.labels("write").inc()
            raise
        self.stats.stored += written.stored
        self.stats.rejected += written.rejected
        self.stats.last_batch_at = self.clock()
        if self.metrics is not None:
            for kind, n in written.stored_by.items():
                self.metrics.console_records.labels(kind, "stored").inc(n)
            for kind, n in written.rejected_by.items():
                self.metrics.console_records.labels(kind, "rejected").inc(n)
            appended = [r.timestamp for r in batch if r.timestamp is not None and r.timestamp > 0]
            if appended:
                self.metrics.console_lag.set(max(0.0, self.clock() - min(appended) / 1000))
        if written.rejected:
            log.warning(
                "console feed skipped %d malformed record(s) (%d not JSON objects)",
                written.rejected,
                undecodable,
            )
        return written

    async def purge(self) -> int:
        """Delete what is past retention; a failure is counted and logged, and tried again at
        the next pass (a failing write, not a late purge, is what stops the feed)."""
        cutoff = self.clock() - self.retention_s
        try:
            gone = await asyncio.to_thread(self.store.purge, mentions_before=cutoff)
        except Exception as exc:
            if self.metrics is not None:
                self.metrics.console_errors.labels("purge").inc()
            log.error("console store: retention pass failed (%s)", type(exc).__name__)
            return 0
        self.stats.purged += gone
        if self.metrics is not None:
            self.metrics.console_retention_deleted.inc(gone)
        if gone:
            log.info("console store: %d mention(s) past retention deleted", gone)
        return gone
