"""Once a second: every worker's counters, the consumer group's lag, CPU and RSS of our processes.

Lag is read by the harness from the broker (log end minus the group's committed offset), not from
each worker's ``tocsin_consumer_lag`` gauge, because a worker only reports the partitions it owns
and partitions move between workers during a scale-out. The Kafka clients are kept open for the
whole run: opening an admin client per sample would itself load the broker we are measuring.
CPU is psutil's ``cpu_percent`` since the previous sample, in % of one core (two cores = 200 %).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import httpx
import psutil
from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition

from pipeline.ops.demo import metric_value

#: Counters read from each worker's /metrics, by the name they get in the samples.
COUNTERS = {
    "classified": ("tocsin_agent_messages_out_total", {"agent": "classify_mentions"}),
    "ingested": ("tocsin_agent_messages_in_total", {"agent": "classify_mentions"}),
    "counted": ("tocsin_agent_messages_in_total", {"agent": "count_mentions"}),
    "model_texts": ("tocsin_model_batch_size_sum", {}),
    "model_calls": ("tocsin_model_batch_size_count", {}),
    "model_busy_s": ("tocsin_model_batch_latency_seconds_sum", {}),
    "dedup_hits": ("tocsin_model_dedup_hits_total", {}),
    "late": ("tocsin_late_mentions_total", {}),
}


class LagReader:
    """Committed-offset lag of one consumer group, per topic, with long-lived clients."""

    def __init__(self, bootstrap: str, group: str, topics: Iterable[str]) -> None:
        self.group = group
        self.topics = list(topics)
        self._admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10_000)
        self._consumer = KafkaConsumer(
            bootstrap_servers=bootstrap, enable_auto_commit=False, request_timeout_ms=15_000
        )
        self._parts: list[TopicPartition] = []

    def read(self) -> dict[str, int]:
        if not self._parts:
            self._parts = [
                TopicPartition(topic, p)
                for topic in self.topics
                for p in sorted(self._consumer.partitions_for_topic(topic) or ())
            ]
        committed = self._admin.list_group_offsets({self.group: None}).get(self.group, {})
        ends = self._consumer.end_offsets(self._parts)
        lag = dict.fromkeys(self.topics, 0)
        for tp in self._parts:
            meta = committed.get(tp)
            done = meta.offset if meta is not None and meta.offset >= 0 else 0
            lag[tp.topic] += max(0, ends.get(tp, 0) - done)
        return lag

    def close(self) -> None:
        self._consumer.close()
        self._admin.close()


def read_counters(url: str) -> dict[str, float] | None:
    """The :data:`COUNTERS` of one worker, or None when its web server does not answer."""
    try:
        text = httpx.get(f"{url}/metrics", timeout=3.0).text
    except httpx.HTTPError:
        return None
    return counter_values(text)


def counter_values(exposition: str) -> dict[str, float]:
    """The :data:`COUNTERS` read from one /metrics exposition."""
    return {
        key: metric_value(exposition, name, **labels) for key, (name, labels) in COUNTERS.items()
    }


@dataclass
class Sampler:
    """Background thread appending one sample dict per ``interval_s`` to ``samples``."""

    lag: LagReader
    produced: Callable[[], int]
    interval_s: float = 1.0
    samples: list[dict[str, Any]] = field(default_factory=list)
    workers: dict[str, str] = field(default_factory=dict)  # name -> base URL
    procs: dict[str, psutil.Process] = field(default_factory=dict)
    phase: str = "setup"
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _counters: dict[str, dict[str, float]] = field(default_factory=dict)

    def watch(self, name: str, pid: int, url: str | None = None) -> None:
        with self._lock:
            proc = psutil.Process(pid)
            proc.cpu_percent(None)  # first call only sets the reference point
            self.procs[name] = proc
            if url is not None:
                self.workers[name] = url

    def unwatch(self, name: str) -> None:
        with self._lock:
            self.procs.pop(name, None)
            self.workers.pop(name, None)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="bench-sampler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def last(self) -> dict[str, Any] | None:
        with self._lock:
            return self.samples[-1] if self.samples else None

    def total(self, key: str) -> float:
        """Sum of one counter over the workers, each at its latest answered sample."""
        with self._lock:
            return float(sum(c[key] for c in self._counters.values()))

    def _run(self) -> None:
        next_at = time.monotonic()
        while not self._stop.is_set():
            self._sample()
            next_at += self.interval_s
            self._stop.wait(max(0.0, next_at - time.monotonic()))

    def _sample(self) -> None:
        with self._lock:
            workers = dict(self.workers)
            procs = dict(self.procs)
            phase = self.phase
        t = time.time()
        counters = {name: read_counters(url) for name, url in workers.items()}
        try:
            lag: dict[str, int] | None = self.lag.read()
        except Exception:  # a missed lag sample is recorded as None, not fatal
            lag = None
        usage: dict[str, dict[str, float]] = {}
        for name, proc in procs.items():
            try:
                with proc.oneshot():
                    usage[name] = {
                        "cpu": proc.cpu_percent(None),
                        "rss_mb": proc.memory_info().rss / 2**20,
                    }
            except psutil.Error:
                continue
        sample = {
            "t": t,
            "phase": phase,
            "produced": self.produced(),
            "workers": counters,
            "lag": lag,
            "proc": usage,
        }
        with self._lock:
            self.samples.append(sample)
            self._counters.update({k: v for k, v in counters.items() if v is not None})
