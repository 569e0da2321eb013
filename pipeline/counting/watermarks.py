"""Event time per ``mentions.raw`` partition, as one ``mentions.classified`` partition sees it.

A brand's mentions are classified on every raw partition, so by every worker of the group, and
reach counting through the brand's one classified partition. Each raw partition arrives there in
its own order (a worker classifies a raw partition in order and sends in order), but the raw
partitions of two workers do not wait for each other: a worker that restarts, is starved or is
rebalanced away delivers its share of a brand's mentions later than the others deliver theirs.
A bucket closed on the brand's latest event time alone would leave that share out.

So counting closes a bucket only when every raw partition that feeds the classified partition has
moved past the bucket's end plus the allowed lateness (:meth:`RawWatermarks.low`), or is *idle*:
nothing from it has reached this classified partition for ``raw_idle_after_s`` of wall-clock time
(monotonic, on the counting worker). The idle rule keeps a raw partition with no traffic, or one
that no longer exists, from holding every bucket forever; its price is that a raw partition that
goes quiet holds buckets up to that long after its last mention, and that a worker stopped for
longer than that delivers its share late, as every worker did before. A raw partition's
watermark is the latest event time seen from it here (mentions of any brand on the partition:
they share the raw partition's order), so a small brand's buckets close with its busy neighbours'
progress. Nothing new travels between the stages: the raw position each mention already carries
for exactly-once counting is all this needs.

Each brand's state, when it is written (once per batch), keeps its partition's event time per raw
partition (``rt``) next to its counts, so a worker that takes the classified partition over, or
restarts, starts from what was counted (:meth:`RawWatermarks.restore`) and a lagging raw partition
still holds after a restart.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass
class RawWatermarks:
    """Latest event second and last arrival (monotonic seconds) per raw partition."""

    times: dict[int, int] = field(default_factory=dict)
    heard: dict[int, float] = field(default_factory=dict)

    def saw(self, raw_partition: int, event_s: int, now: float) -> None:
        """A mention from ``raw_partition`` dated ``event_s`` arrived at ``now``."""
        self.times[raw_partition] = max(self.times.get(raw_partition, event_s), event_s)
        self.heard[raw_partition] = now

    def restore(self, times: Mapping[str, Any], now: float) -> None:
        """Merge a brand's stored ``rt``; partitions not heard since the start count from ``now``."""
        for key, value in times.items():
            partition = int(key)
            self.times[partition] = max(self.times.get(partition, int(value)), int(value))
            self.heard.setdefault(partition, now)

    def low(self, now: float, idle_after_s: float) -> int | None:
        """The event time every raw partition heard within ``idle_after_s`` has reached.

        None when every known raw partition is idle: nothing holds the buckets back.
        """
        since = now - idle_after_s
        heard = self.heard
        low: int | None = None
        for partition, event_s in self.times.items():
            if heard[partition] > since and (low is None or event_s < low):
                low = event_s
        return low

    def stored(self) -> dict[str, int]:
        """The event times as a brand's state keeps them (``rt``: JSON object keys are strings)."""
        return {str(partition): event_s for partition, event_s in self.times.items()}


def closable_through(watermark: int, width: int, lateness: int) -> int:
    """The start of the last bucket that ``watermark`` closes (its end plus lateness behind it)."""
    return (watermark - lateness) // width * width - width
