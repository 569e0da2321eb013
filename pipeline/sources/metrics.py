"""Per-source metrics, on an explicit registry (a ``tocsin sources run`` process has its own).

Labels are the source's configured name and kind (a handful per deployment) and, for errors, a
fixed ``type``: ``dead_letter`` (an event refused with a reason) or ``connection`` (a failed or
dropped connection). ``tocsin_source_last_event_timestamp_seconds`` is what the "source silent"
rule reads (``deploy/prometheus/rules/tocsin.rules.yml``); ``..._seconds_since_last_event`` is the
same, computed at scrape time, for a human reading ``/metrics``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

ERROR_TYPES = ("dead_letter", "connection")


class _SinceLast(Collector):
    def __init__(self, last: dict[tuple[str, str], float], clock: Callable[[], float]) -> None:
        self._last = last
        self._clock = clock

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "tocsin_source_seconds_since_last_event",
            "Seconds since the source's last event arrived (since start if none yet).",
            labels=["source", "kind"],
        )
        now = self._clock()
        for (source, kind), at in sorted(self._last.items()):
            family.add_metric([source, kind], max(0.0, now - at))
        yield family


class SourceMetrics:
    """Events in, matched, unmatched, produced, errors and the last event's time, per source."""

    def __init__(
        self,
        registry: CollectorRegistry,
        sources: Iterable[tuple[str, str]] = (),
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.registry = registry
        self.clock = clock
        labels = ["source", "kind"]
        self.events_in = Counter(
            "tocsin_source_events_in_total",
            "Protocol events a source received (posts, deletes, identity updates, feed entries).",
            labels,
            registry=registry,
        )
        self.matched = Counter(
            "tocsin_source_mentions_matched_total",
            "Valid mentions that named a tracked brand.",
            labels,
            registry=registry,
        )
        self.unmatched = Counter(
            "tocsin_source_mentions_unmatched_total",
            "Valid mentions that named no tracked brand (counted, not sent).",
            labels,
            registry=registry,
        )
        self.produced = Counter(
            "tocsin_source_mentions_produced_total",
            "Mentions written to mentions.raw (or to the --output file).",
            labels,
            registry=registry,
        )
        self.errors = Counter(
            "tocsin_source_errors_total",
            "Events dead-lettered with a reason, and failed or dropped connections.",
            [*labels, "type"],
            registry=registry,
        )
        self.last_event = Gauge(
            "tocsin_source_last_event_timestamp_seconds",
            "Unix time of the source's last event (its start time until one arrives).",
            labels,
            registry=registry,
        )
        self._last: dict[tuple[str, str], float] = {}
        registry.register(_SinceLast(self._last, clock))
        for source, kind in sources:
            self.register(source, kind)

    def register(self, source: str, kind: str) -> None:
        """Pre-create a source's series at zero; its silence is measured from now."""
        for counter in (self.events_in, self.matched, self.unmatched, self.produced):
            counter.labels(source, kind)
        for kind_of_error in ERROR_TYPES:
            self.errors.labels(source, kind, kind_of_error)
        now = self.clock()
        self._last[(source, kind)] = now
        self.last_event.labels(source, kind).set(now)

    def event(self, source: str, kind: str) -> None:
        now = self.clock()
        self.events_in.labels(source, kind).inc()
        self._last[(source, kind)] = now
        self.last_event.labels(source, kind).set(now)
