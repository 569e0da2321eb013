"""One series' mentions -> event-time buckets -> the detector, as the stream does it.

:class:`SeriesCounter` is the order of operations the counting stage follows for every mention, in
one place, so that ``tocsin backtest`` on a mention file pages on exactly the mention the stream
would page on:

1. a mention whose bucket has closed is late: counted as late, not in a bucket;
2. otherwise it is counted in its bucket and the watermark (latest event time seen, whole
   seconds) moves to its time;
3. every bucket whose end plus the allowed lateness the watermark has passed closes, in order,
   empty ones included, and the detector judges it (a page at close goes out on this mention);
4. the detector judges the mention's bucket while it fills (an early page goes out on this
   mention).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import pairwise

from pipeline.detection.detector import SeriesDetector
from pipeline.detection.reading import Reading


def peak_two_minutes(minutes: list[int]) -> float | None:
    """Most mentions in any two adjacent minutes of a bucket (None without per-minute counts)."""
    if not minutes:
        return None
    if len(minutes) == 1:
        return float(minutes[0])
    return float(max(a + b for a, b in pairwise(minutes)))


def count_minute(minutes: list[int] | None, width: int, ts: float, start: int) -> list[int]:
    """Per-minute counts of a bucket starting at ``start`` with the mention at ``ts`` added."""
    slots = minutes if minutes is not None else [0] * max(1, width // 60)
    slots[min(len(slots) - 1, (int(ts) - start) // 60)] += 1
    return slots


def recent_arrivals(arrivals: list[float], ts: float, window: float) -> list[float]:
    """The arrival times within ``window`` seconds before ``ts``, with ``ts`` added, sorted."""
    kept = [a for a in arrivals if a > ts - window]
    kept.append(ts)
    kept.sort()
    return kept


@dataclass
class MentionOutcome:
    """What one mention did: the readings it produced and its bucket's score so far."""

    readings: list[Reading] = field(default_factory=list)
    score: float = 0.0
    late: bool = False

    @property
    def paged(self) -> bool:
        return any(r.transition == "fired" for r in self.readings)


class SeriesCounter:
    """Counts one series' mentions into buckets and asks its detector as they come."""

    def __init__(self, detector: SeriesDetector, lateness_seconds: float) -> None:
        self.detector = detector
        self.width = detector.config.bucket_seconds
        self.lateness = int(lateness_seconds)
        self.window = detector.config.early_window_seconds
        self.open: dict[int, int] = {}
        self.minutes: dict[int, list[int]] = {}  # per open bucket: mentions per minute
        self.arrivals: list[float] = []
        self.watermark = 0  # whole seconds, as the stream keeps it
        self.closed: int | None = None  # start of the last closed bucket
        self.late = 0

    def add(self, ts: float) -> MentionOutcome:
        """Count a mention posted at ``ts`` (epoch seconds)."""
        out = MentionOutcome()
        start = int(ts) - int(ts) % self.width
        if self.closed is not None and start <= self.closed:
            self.late += 1
            out.late = True
            return out
        if self.closed is None:
            self.closed = start - self.width
        self.watermark = max(self.watermark, int(ts))
        self.open[start] = self.open.get(start, 0) + 1
        self.minutes[start] = count_minute(self.minutes.get(start), self.width, ts, start)
        out.readings.extend(self.close_due())
        self.arrivals = recent_arrivals(self.arrivals, ts, self.window)
        bucket = datetime.fromtimestamp(start, UTC)
        early = self.detector.judge_filling(bucket, self.open[start], self.arrivals, ts)
        if early is not None:
            out.readings.append(early)
        out.score = self.detector.score_filling(bucket, self.open[start])
        return out

    def close_due(self, final: bool = False) -> list[Reading]:
        """Close every bucket whose end + lateness the watermark has passed (all of them when
        ``final``), oldest first, empty ones included, as the stream closes them."""
        if self.closed is None:
            return []
        last = (
            max(self.open, default=self.closed)
            if final
            else ((self.watermark - self.lateness) // self.width * self.width - self.width)
        )
        readings: list[Reading] = []
        start = self.closed + self.width
        while start <= last:
            count = self.open.pop(start, 0)
            peak = peak_two_minutes(self.minutes.pop(start, []))
            readings.extend(
                self.detector.update_all(datetime.fromtimestamp(start, UTC), float(count), peak)
            )
            self.closed = start
            start += self.width
        return readings

    def flush(self) -> list[Reading]:
        """Close every open bucket (the end of a finite input)."""
        return self.close_due(final=True)
