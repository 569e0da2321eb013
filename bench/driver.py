"""Produce the stream into ``mentions.raw`` at a controlled rate, stamping each send with wall time.

Two pacing modes:

- **open loop** (``run_rate``): a fixed rate in mentions/s, the way real traffic arrives whether or
  not the pipeline keeps up; used for the sustained and burst phases, where lag is the result;
- **closed loop** (``run_backlog``): keep a fixed number of mentions produced but not yet classified,
  which saturates the workers without building an unbounded backlog; used to probe capacity, so the
  next phase starts seconds (not minutes) after the probe ends.

The stream position only moves forward from ``start``, so ``wall[n - start]`` is the time global
position ``n`` was handed to the producer (``linger_ms`` is 5, so the broker has it a few milliseconds later).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from kafka import KafkaProducer

from bench.stream import LapStream
from pipeline.topology import MAX_MESSAGE_BYTES, RAW


class Driver:
    def __init__(self, stream: LapStream, bootstrap: str, start: int = 0) -> None:
        self.stream = stream
        self.start = start
        self.wall: list[float] = []
        self._producer = KafkaProducer(
            bootstrap_servers=bootstrap,
            acks="all",
            linger_ms=5,
            max_request_size=MAX_MESSAGE_BYTES,
            request_timeout_ms=30_000,
            retries=5,
        )

    @property
    def position(self) -> int:
        """Global stream position of the next mention (``start`` + mentions sent so far)."""
        return self.start + len(self.wall)

    @property
    def sent(self) -> int:
        return len(self.wall)

    def sent_at(self, n: int) -> float | None:
        """Wall time global position ``n`` was produced, None if it was not (yet)."""
        i = n - self.start
        return self.wall[i] if 0 <= i < len(self.wall) else None

    def _send(self) -> None:
        key, value = self.stream.payload(self.position)
        self.wall.append(time.time())
        self._producer.send(RAW.name, key=key, value=value)

    def run_rate(self, rate: float, seconds: float, stop: threading.Event | None = None) -> int:
        """Send at ``rate`` mentions/s for ``seconds``; returns how many were sent."""
        started = time.monotonic()
        first = self.position
        while True:
            elapsed = time.monotonic() - started
            if elapsed >= seconds or (stop is not None and stop.is_set()):
                break
            due = int(rate * elapsed) + 1 - (self.position - first)
            for _ in range(max(0, due)):
                self._send()
            time.sleep(min(0.01, max(0.0, seconds - elapsed)))
        self._producer.flush(timeout=60)
        return self.position - first

    def run_backlog(
        self, backlog: int, seconds: float, done: Callable[[], float], done_at_start: float
    ) -> int:
        """Keep ``backlog`` mentions in flight for ``seconds``; ``done`` counts finished ones."""
        started = time.monotonic()
        first = self.position
        while time.monotonic() - started < seconds:
            in_flight = (self.position - first) - (done() - done_at_start)
            for _ in range(max(0, int(backlog - in_flight))):
                self._send()
            self._producer.flush(timeout=60)
            time.sleep(0.2)
        return self.position - first

    def close(self) -> None:
        self._producer.flush(timeout=60)
        self._producer.close(timeout=10)
