"""Is the mention path moving? A liveness input that notices a consumer frozen with work waiting.

A Faust worker can stop consuming without failing anything: the process answers HTTP, the
consumer group keeps its members, the broker answers metadata, yet an agent sits idle with a
backlog (seen once in the loaded benchmark: classify at ~2 % CPU with 113,000 mentions waiting).
Readiness does not help (the pod is taken out of a Service it does not need); a restart does,
and a restart is safe because every stage resumes from its committed offsets and delivery is
idempotent.

Only the mention path is watched (``mentions.raw`` -> classify, ``mentions.classified`` ->
counting): those agents wait on nothing but Kafka and the model, so a partition with records
waiting and no committed progress for ``TOCSIN_STALL_AFTER_S`` is frozen, not waiting. Agents
that call receivers (delivery, publish) legitimately wait out an outage with records pending and
are not judged here. While the consumer rebalances or recovers its tables, the model loads, or the
broker does not answer, nothing is judged and the clocks start again afterwards.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from pipeline.topology import CLASSIFIED, RAW

#: The topics whose partitions are judged: the mention path, which waits on no outside service.
WATCHED_TOPICS = frozenset({RAW.name, CLASSIFIED.name})

#: How often the worker feeds the watch (seconds).
WATCH_INTERVAL_S = 15.0

log = logging.getLogger(__name__)

Partition = tuple[str, int]


@dataclass
class ProgressWatch:
    """Per partition: the committed offset last seen and since when it has not moved with lag."""

    stall_after_s: float
    clock: Callable[[], float] = time.monotonic
    _since: dict[Partition, tuple[int, float]] = field(default_factory=dict)
    _reported: frozenset[Partition] = frozenset()

    def observe(self, committed: Mapping[Partition, int], lag: Mapping[Partition, int]) -> None:
        """Record one reading of committed offsets and lag for the assigned partitions."""
        now = self.clock()
        seen: dict[Partition, tuple[int, float]] = {}
        for tp, offset in committed.items():
            if tp[0] not in WATCHED_TOPICS:
                continue
            before = self._since.get(tp)
            if lag.get(tp, 0) <= 0 or before is None or before[0] != offset:
                seen[tp] = (offset, now)
            else:
                seen[tp] = before
        self._since = seen

    def pause(self) -> None:
        """Forget every clock (rebalance, model loading, broker away): nothing is judged now."""
        self._since = {}

    def stalled(self) -> list[Partition]:
        """Partitions with records waiting and no committed progress for the limit; logs changes."""
        if self.stall_after_s <= 0:
            return []
        now = self.clock()
        found = sorted(tp for tp, (_, t) in self._since.items() if now - t >= self.stall_after_s)
        current = frozenset(found)
        if current != self._reported:
            if current:
                log.error(
                    "mention path stalled for over %.0f s with records waiting on %s",
                    self.stall_after_s,
                    ", ".join(f"{t}[{p}]" for t, p in found),
                )
            else:
                log.warning("mention path moving again")
            self._reported = current
        return found
