"""De-duplication by mention id: ingest drops a copy of a mention it has already accepted.

The same mention can reach ``mentions.raw`` twice at different offsets: a live source resumes
from its last checkpoint after a crash and re-sends what followed it, an HTTP client retries a
batch after a timeout, a vendor re-pushes an export. Counting is exactly-once by *raw position*
(:func:`pipeline.counting.buckets.already_counted`), so such a copy, at a new position, used to be
counted again. Every front door keys ``mentions.raw`` by mention id (:mod:`pipeline.ingest.keys`),
so every copy of an id is read from one raw partition, by one worker, in offset order: ingest
remembers, per id, where it first accepted it, and filters a later copy as ``duplicate``.

The rule (:func:`judge`), for an accepted mention read at ``partition``/``offset``:

- no memory of the id on this partition, or a memory older than the horizon: **new**, remembered;
- a memory at this very offset, or at a later one: **redelivered**, passed on as before: the
  same record read again after a crash or rebalance (or, for a later offset, a reprocessed record
  whose first copy's memory was forgotten). Counting's raw-position check decides about it, as it
  did before ids were remembered, so the exactly-once path is unchanged;
- a memory at an earlier offset within the horizon: **duplicate**, filtered.

The memory is the ``mention_ids`` table (mention id -> ``[partition, offset, arrival second]``),
written to the changelog partition of the raw partition the record came from, named explicitly
as :class:`pipeline.counting.buckets.BatchStates` does. (Faust itself puts a table write in the
current event's partition and hashes the key only with ``use_partitioner``; the raw partition is
the one the id hashes to when the record was keyed by id, and the one its copies arrive on in any
case.) A restarted or rebalanced worker recovers the memory with the partition; ``tocsin topics
grow`` leaves it where it is (:mod:`pipeline.ops.grow`).

It expires, so it cannot grow without end: *arrival time* is the record's Kafka timestamp (the
time it reached ``mentions.raw``, the same on every redelivery, unlike the worker's clock), and
each partition's clock is the latest arrival seen on it. After each new id, the partition's
oldest ids are forgotten (a tombstone, so the compacted changelog shrinks too) while they are
older than ``TOCSIN_DEDUP_HORIZON_S`` or the partition remembers more than
``TOCSIN_DEDUP_MAX_IDS``. The bound is what keeps memory fixed at high rates: there the horizon
shrinks to bound / rate, and ``tocsin_dedup_forgotten_total{reason="bound"}`` says so.

Each partition's ids in offset order (:class:`IdMemory`'s index) are memory only, rebuilt from the
table on first use and after every rebalance (:func:`rebalanced`), when another worker may have
changed the partition's memory.
"""

from __future__ import annotations

import json
import time
from collections import deque
from collections.abc import Callable, MutableMapping
from enum import Enum
from typing import Any, NamedTuple, Protocol

__all__ = [
    "Entry",
    "IdMemory",
    "Verdict",
    "arrival",
    "changelog_key",
    "judge",
    "rebalanced",
]


class Verdict(Enum):
    """What ingest does with an accepted mention, given what it remembers of the id."""

    NEW = "new"  # first copy (or the memory expired): passed on and remembered
    REDELIVERED = "redelivered"  # the same raw record again: passed on, counting decides
    DUPLICATE = "duplicate"  # a later copy within the horizon: filtered


class Entry(NamedTuple):
    """Where and when ingest accepted an id: raw partition, offset, arrival (epoch seconds).

    The table value is the plain list ``[partition, offset, arrived]``, the smallest shape (every
    entry is kept in memory); this is how it is read. A named tuple, not a dataclass: one is
    built per accepted mention and per id forgotten.
    """

    partition: int
    offset: int
    arrived: int

    @classmethod
    def load(cls, value: Any) -> Entry | None:
        """The entry a table value holds; None for anything else (treated as no memory)."""
        if type(value) in (list, tuple) and len(value) == 3:
            partition, offset, arrived = value
            if type(partition) is int and type(offset) is int and type(arrived) is int:
                return cls(partition, offset, arrived)
        return None


def judge(entry: Entry | None, partition: int, offset: int, clock: int, horizon_s: int) -> Verdict:
    """The rule (module docstring) for the record at ``partition``/``offset``.

    ``clock`` is the partition's arrival clock (latest arrival second seen on it); a memory from
    another partition says nothing about this one's offsets (the id was produced with another
    key, or partitions grew) and is treated as none.
    """
    if entry is None or entry.partition != partition:
        return Verdict.NEW
    if entry.offset >= offset:
        return Verdict.REDELIVERED
    if clock - entry.arrived > horizon_s:
        return Verdict.NEW
    return Verdict.DUPLICATE


def changelog_key(mention_id: str) -> bytes:
    """The table's key as its JSON key serializer writes it, encoded here once.

    Entries are written pre-encoded (``raw``): Faust's codec path for the two small records of an
    id took 12 of the rule's 72 µs per mention (``bench/dedup_cost.py``). Recovery reads them back
    with the table's ``json`` serializers, and an entry and its tombstone carry the same bytes,
    so compaction pairs them.
    """
    return json.dumps(mention_id).encode()


def arrival(timestamp: float | None, now: Callable[[], float] = time.time) -> int:
    """Arrival second of a raw record from its Kafka timestamp; the worker's clock without one."""
    return int(timestamp) if timestamp is not None and timestamp > 0 else int(now())


class ChangelogTable(Protocol):
    """What :class:`IdMemory` uses of a Faust table: its local data and its changelog writer."""

    @property
    def data(self) -> MutableMapping[Any, Any]: ...

    def send_changelog(
        self,
        partition: int | None,
        key: Any,
        value: Any,
        key_serializer: Any = None,
        value_serializer: Any = None,
    ) -> Any: ...


_rebalances = 0


def rebalanced() -> None:
    """Mark every partition's index stale: called on each rebalance (see ``classify_mentions``)."""
    global _rebalances
    _rebalances += 1


class IdMemory:
    """The remembered ids of the raw partitions this worker reads, and their expiry.

    ``table`` holds the entries (the source of truth, changelog-backed); the per-partition
    ``(offset, id)`` queues, oldest first, only say which to forget next. A queue may hold an id
    twice (remembered again after it expired): forgetting checks the table entry is still the
    queued one before deleting it, so a live entry is never forgotten by a stale place in line.
    """

    def __init__(
        self,
        table: ChangelogTable,
        horizon_s: int,
        max_ids: int,
        on_forget: Callable[[str], None] = lambda reason: None,
    ) -> None:
        self.table = table
        self.horizon_s = horizon_s
        self.max_ids = max_ids
        self.on_forget = on_forget
        self._queues: dict[int, deque[tuple[int, str]]] = {}
        self._clocks: dict[int, int] = {}
        self._built_at: int | None = None

    @property
    def enabled(self) -> bool:
        return self.horizon_s > 0

    def check(self, mention_id: str, partition: int, offset: int, arrived: int) -> Verdict:
        """Judge an accepted mention; a new one is remembered and old ids forgotten."""
        if not self.enabled:
            return Verdict.NEW
        queue = self._queue(partition)
        clock = max(self._clocks.get(partition, arrived), arrived)
        self._clocks[partition] = clock
        verdict = judge(
            Entry.load(self.table.data.get(mention_id)), partition, offset, clock, self.horizon_s
        )
        if verdict is Verdict.NEW:
            value = [partition, offset, arrived]
            self.table.send_changelog(
                partition,
                changelog_key(mention_id),
                f"[{partition},{offset},{arrived}]".encode(),
                key_serializer="raw",
                value_serializer="raw",
            )
            self.table.data[mention_id] = value
            queue.append((offset, mention_id))
            self._forget(partition, queue, clock)
        return verdict

    def remembered(self, partition: int) -> int:
        """Places in the partition's queue: at least its live entries, at most ``max_ids``."""
        return len(self._queue(partition))

    def _queue(self, partition: int) -> deque[tuple[int, str]]:
        if self._built_at != _rebalances:
            self._rebuild()
        queue = self._queues.get(partition)
        if queue is None:
            queue = self._queues[partition] = deque()
        return queue

    def _rebuild(self) -> None:
        """Every partition's queue from the table, in offset order (one pass over the table)."""
        found: dict[int, list[tuple[int, str]]] = {}
        for key, value in list(self.table.data.items()):
            entry = Entry.load(value)
            if entry is not None and isinstance(key, str):
                found.setdefault(entry.partition, []).append((entry.offset, key))
        self._queues = {p: deque(sorted(items)) for p, items in found.items()}
        self._clocks = {}
        self._built_at = _rebalances

    def _forget(self, partition: int, queue: deque[tuple[int, str]], clock: int) -> None:
        """Forget the partition's oldest ids while over the bound or past the horizon."""
        data = self.table.data
        while queue:
            offset, key = queue[0]
            entry = Entry.load(data.get(key))
            live = entry is not None and entry.partition == partition and entry.offset == offset
            over = len(queue) > self.max_ids
            if entry is not None and live and not over and clock - entry.arrived <= self.horizon_s:
                return
            queue.popleft()
            if live:
                self.table.send_changelog(
                    partition,
                    changelog_key(key),
                    None,
                    key_serializer="raw",
                    value_serializer="raw",
                )
                data.pop(key, None)
                self.on_forget("bound" if over else "expired")
