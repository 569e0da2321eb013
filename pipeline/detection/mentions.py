"""One series' mentions -> event-time buckets -> the detector, as the stream does it.

:class:`SeriesCounter` is the order of operations the counting stage follows for every mention, in
one place, so that ``tocsin backtest`` on a mention file pages on exactly the mention the stream
would page on:

1. the watermark (latest event time seen) moves to the mention's time;
2. every open bucket whose end plus the allowed lateness the watermark has passed closes, in
   order, and the detector judges it (a page at close goes out on this mention);
3. a mention older than a closed bucket is late: counted as late, not in a bucket;
4. otherwise it is counted in its bucket, and the detector judges that bucket while it fills
   (an early page goes out on this mention).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from pipeline.detection.detector import Reading, SeriesDetector


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
        self.lateness = lateness_seconds
        self.window = detector.config.early_window_seconds
        self.open: dict[int, int] = {}
        self.arrivals: list[float] = []
        self.watermark = -math.inf
        self.closed_until = -math.inf  # end of the last closed bucket
        self.late = 0

    def add(self, ts: float) -> MentionOutcome:
        """Count a mention posted at ``ts`` (epoch seconds)."""
        out = MentionOutcome()
        self.watermark = max(self.watermark, ts)
        out.readings.extend(self.close_due())
        start = int(ts - ts % self.width)
        if start < self.closed_until:
            self.late += 1
            out.late = True
            return out
        self.open[start] = self.open.get(start, 0) + 1
        self.arrivals.append(ts)
        self.arrivals.sort()
        cut = self.watermark - self.window
        while self.arrivals and self.arrivals[0] <= cut:
            del self.arrivals[0]
        bucket = datetime.fromtimestamp(start, UTC)
        early = self.detector.judge_filling(bucket, self.open[start], self.arrivals, ts)
        if early is not None:
            out.readings.append(early)
        out.score = self.detector.score_filling(bucket, self.open[start])
        return out

    def close_due(self) -> list[Reading]:
        """Close the open buckets the watermark has passed (end + lateness), oldest first."""
        readings: list[Reading] = []
        for start in sorted(self.open):
            if start + self.width + self.lateness > self.watermark:
                break
            readings.extend(self._close(start))
        return readings

    def flush(self) -> list[Reading]:
        """Close every open bucket (the end of a finite input)."""
        readings: list[Reading] = []
        for start in sorted(self.open):
            readings.extend(self._close(start))
        return readings

    def _close(self, start: int) -> Iterable[Reading]:
        count = self.open.pop(start)
        self.closed_until = start + self.width
        return self.detector.update_all(datetime.fromtimestamp(start, UTC), float(count))
