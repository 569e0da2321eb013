"""At-least-once across rebalances: never let Faust skip a message it has not processed.

Faust's fetch loop remembers, per partition, the offset of the last message it *handed to a
stream* (``Consumer._read_offset``) and silently drops any later message at or below it
("DROPPED MESSAGE ROFF"), to avoid handing the same message over twice. Handing over is not
processing: on a rebalance Faust clears the agents' queues, seeks back to the committed offsets
and fetches again, and a batch fetched before the seek can move the remembered offset past the
committed one. The refetched messages are then dropped although nobody processed them: they are
never classified, never acknowledged, and the group's commit stays stuck below them for good.

This happens to a restarted worker evicted under load (a busy model thread on few cores): its
debug log shows the refetched messages dropped after its second assignment.

The fix keeps Faust's bookkeeping but never answers with a remembered offset, so every fetched
message goes to its stream. The price is the duplicate the at-least-once contract already
allows (a message handed over before the rebalance and processed is processed again after it);
downstream is idempotent where it matters (alert dedup keys, per-receiver delivery book).
Faust's gap tracking reads the same mapping; it only matters for transactional or compacted
input, and Tocsin's input topics are neither.

Two more guards close what remains: after a restart, a run of one raw partition's offsets can be
fetched but never reach the stream, so it is never acked, the commit sits below it and nothing
fetches it again until the next rebalance.

* :func:`commit_only_what_was_acked`: Faust's commit step lets the commit move past a missing
  offset right at the committed position (its check is ``min(acked) - committed > 1``, one off):
  a one-message hole there would be committed over, i.e. lost silently. The guard refuses that.
* :class:`HoleWatch` with :func:`refetch_holes` (run by the app every few seconds): a partition
  whose commit has sat for a while below offsets that are already acked, with nothing in that
  range still being processed, has a hole no stream will ever fill; it is fetched again from
  the committed offset. Streams ack a partition in order, so this never fires in normal flow;
  when it does it logs the range and counts it (``tocsin_consumer_refetches_total``).
  The same watch covers a hole at a partition's *tail*, where nothing later was acked to show
  it: the consumer's position (the next offset its fetcher returns) has sat above the commit
  with nothing of that partition acked or in flight. This is what a worker restarted after a
  SIGKILL can leave: it fetches a partition's last messages during start-up and never hands them
  to a stream.

Fault injection, for tests only: ``TOCSIN_FAULT_SKIP_FETCHED=topic:partition:first-last`` makes
the consumer drop the first delivery of those offsets, which is exactly the failure above, so a
test can show the hole watch repairing it in a real worker.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from faust.types import TP, ConsumerT, Message

from pipeline import services

log = logging.getLogger(__name__)

#: How long a partition's commit may sit below acked offsets, with nothing in between being
#: processed, before its hole is fetched again. Normal flow acks in order and never waits here.
HOLE_GRACE_S = 15.0
#: How often the app looks for holes.
HOLE_CHECK_INTERVAL_S = 5.0
#: Tests only: ``topic:partition:first-last`` offsets whose first delivery the consumer drops.
FAULT_SKIP_ENV = "TOCSIN_FAULT_SKIP_FETCHED"


class DeliveredOffsets(dict[TP, int | None]):
    """Faust's read-offset mapping, kept for its writers but never used to skip a message."""

    def __getitem__(self, tp: TP) -> None:
        return None


def redeliver_after_rebalance(consumer: ConsumerT) -> ConsumerT:
    """Install :class:`DeliveredOffsets` and :func:`commit_only_what_was_acked` on a consumer."""
    state: Any = consumer
    state._read_offset = DeliveredOffsets()
    faust_new_offset = state._new_offset

    def new_offset(tp: TP) -> int | None:
        return commit_only_what_was_acked(
            state._acked[tp], state._committed_offset[tp], lambda: faust_new_offset(tp)
        )

    state._new_offset = new_offset
    spec = os.environ.get(FAULT_SKIP_ENV)
    if spec:
        state.callback = skip_first_delivery(state.callback, spec)
    return consumer


def skip_first_delivery(
    callback: Callable[[Message], Awaitable[None]], spec: str
) -> Callable[[Message], Awaitable[None]]:
    """Fault injection: drop the first delivery of ``topic:partition:first-last`` (see above)."""
    try:
        topic, partition, span = spec.rsplit(":", 2)
        first, last = (int(x) for x in span.split("-"))
        tp = TP(topic, int(partition))
    except ValueError as exc:
        raise ValueError(
            f"{FAULT_SKIP_ENV} must be topic:partition:first-last, got {spec!r}"
        ) from exc
    dropped: set[int] = set()

    async def deliver(message: Message) -> None:
        offset = message.offset
        if message.tp == tp and first <= offset <= last and offset not in dropped:
            dropped.add(offset)
            log.warning("fault injection: dropped %s[%d] offset %d", topic, tp.partition, offset)
            return
        await callback(message)

    return deliver


def commit_only_what_was_acked(
    acked: Sequence[int], committed: int | None, faust_new_offset: Any
) -> int | None:
    """Faust's next commit for a partition, unless the offset at the committed position is unacked.

    ``committed`` is the next offset to process; if the lowest acked offset is above it, that
    offset has not been processed and committing past it would lose it. Faust checks
    ``min(acked) - committed > 1``, which lets a one-message hole through.
    """
    if acked and committed is not None and min(acked) > committed:
        return None
    result: int | None = faust_new_offset()
    return result


@dataclass(frozen=True)
class Hole:
    """Offsets ``[start, end)`` of a partition that were skipped while later ones were acked."""

    tp: TP
    start: int
    end: int


@dataclass
class HoleWatch:
    """Finds partitions whose commit is stuck below acked offsets with nothing in flight there.

    Pure bookkeeping, fed by :func:`refetch_holes`: a hole must be seen with the same committed
    offset for ``grace_s`` before it is reported, and is reported once per observation.
    """

    grace_s: float = HOLE_GRACE_S
    _since: dict[TP, tuple[int, float]] = field(default_factory=dict)

    def check(
        self,
        acked: Mapping[TP, Sequence[int]],
        committed: Mapping[TP, int | None],
        in_flight: Iterable[tuple[TP, int]],
        now: float,
        positions: Mapping[TP, int | None] | None = None,
    ) -> list[Hole]:
        """Holes seen for ``grace_s`` with the same commit: below acked offsets, or (with
        ``positions``, the consumer's next offset per partition) fetched past with nothing of
        the partition acked or in flight."""
        busy: dict[TP, int] = {}
        for tp, offset in in_flight:
            busy[tp] = min(offset, busy.get(tp, offset))
        candidates: dict[TP, tuple[int, int]] = {}
        for tp, offsets in acked.items():
            start = committed.get(tp)
            if not offsets or start is None:
                continue
            end = min(offsets)
            if end <= start or busy.get(tp, end) < end:
                continue  # no hole, or the missing offsets are still being processed
            candidates[tp] = (start, end)
        for tp, position in (positions or {}).items():
            start = committed.get(tp)
            if tp in candidates or acked.get(tp) or tp in busy:
                continue  # acked or in-flight offsets: the rule above, or work in progress
            if start is None or position is None or position <= start:
                continue  # nothing fetched past the commit
            candidates[tp] = (start, position)
        due: list[Hole] = []
        for tp, (start, end) in candidates.items():
            first = self._since.get(tp)
            if first is None or first[0] != start:
                self._since[tp] = (start, now)
            elif now - first[1] >= self.grace_s:
                due.append(Hole(tp, start, end))
                del self._since[tp]
        for tp in [tp for tp in self._since if tp not in candidates]:
            del self._since[tp]
        return due


async def _position(consumer: ConsumerT, tp: TP) -> int | None:
    """The consumer's next offset for ``tp``, or None while it has none (e.g. mid-rebalance)."""
    try:
        return await consumer.position(tp)
    except Exception:  # a watch must never take the worker down; asked again in 5 s
        log.debug("no position for %s yet", tp, exc_info=True)
        return None


async def refetch_holes(consumer: ConsumerT, watch: HoleWatch) -> list[Hole]:
    """Fetch every stale hole again from its committed offset (duplicates after it are fine)."""
    state: Any = consumer
    assigned = consumer.assignment()
    in_flight = [(m.tp, m.offset) for m in list(state._unacked_messages)]
    acked = {tp: list(offsets) for tp, offsets in state._acked.items() if tp in assigned}
    # partitions this consumer commits (stream input; table changelogs have no commit here)
    watched = [tp for tp in assigned if state._committed_offset.get(tp) is not None]
    committed = {tp: state._committed_offset.get(tp) for tp in {*acked, *watched}}
    # (``_acked`` keeps an empty list for a partition whose acks were all committed)
    positions = {tp: await _position(consumer, tp) for tp in watched if not acked.get(tp)}
    holes = watch.check(acked, committed, in_flight, time.monotonic(), positions)
    refetches = services.metrics().consumer_refetches
    for topic in {tp.topic for tp in acked}:
        refetches.labels(topic)  # every watched topic is exported, at 0 until a refetch
    for hole in holes:
        log.warning(
            "%s[%d]: offsets %d..%d were fetched but never processed; fetching again from %d",
            hole.tp.topic,
            hole.tp.partition,
            hole.start,
            hole.end - 1,
            hole.start,
        )
        refetches.labels(hole.tp.topic).inc()
        await consumer.seek(hole.tp, hole.start)
    return holes
