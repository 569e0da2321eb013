"""Replay a JSONL file of raw mentions into ``mentions.raw``, paced by their event times.

Lines are sent as they are in the file, byte for byte (a malformed line is part of the test, so it
is not "fixed" on the way in). Pacing follows ``created_at``: with ``speed=1440`` a day of mentions
takes a minute; ``speed=0`` sends as fast as the broker takes them. Lines whose time cannot be read
are sent at once, without pacing. Lines are keyed by mention id, the rule of every front door
(:mod:`pipeline.ingest.keys`); validation is the ingest agent's, the same as HTTP ingest's.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from kafka import KafkaProducer

from pipeline.ingest.keys import raw_key
from pipeline.kafka_clients import client_config
from pipeline.settings_kafka import KafkaSettings, kafka_settings
from pipeline.topology import MAX_MESSAGE_BYTES, RAW


@dataclass(frozen=True)
class ReplayLine:
    payload: bytes
    key: bytes | None
    at: float | None


def read_lines(path: Path) -> Iterator[ReplayLine]:
    """Raw lines of ``path`` with their key (:func:`raw_key` of the id) and event time when read."""
    with path.open("rb") as handle:
        for raw in handle:
            payload = raw.rstrip(b"\r\n")
            if not payload.strip():
                continue
            key: bytes | None = None
            at: float | None = None
            try:
                obj = json.loads(payload)
                if isinstance(obj, dict):
                    if isinstance(obj.get("id"), str):
                        key = raw_key(obj["id"])
                    if isinstance(obj.get("created_at"), str):
                        at = datetime.fromisoformat(
                            obj["created_at"].replace("Z", "+00:00")
                        ).timestamp()
            except (ValueError, UnicodeDecodeError, RecursionError, OverflowError):
                # Not readable here (deep nesting, a huge number, a date past year 9999): sent
                # as it is, and the ingest agent dead-letters it with its reason.
                pass
            yield ReplayLine(payload, key, at)


@dataclass
class ReplayStats:
    sent: int = 0
    seconds: float = 0.0

    @property
    def rate(self) -> float:
        return self.sent / self.seconds if self.seconds > 0 else 0.0


def replay(
    path: Path,
    *,
    bootstrap: str,
    topic: str = RAW.name,
    speed: float = 0.0,
    limit: int | None = None,
    on_sent: Callable[[int], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    producer_factory: Callable[..., Any] = KafkaProducer,
    kafka: KafkaSettings | None = None,
) -> ReplayStats:
    """Send the file's lines to ``topic``; returns how many were sent and how long it took.

    ``kafka``: TLS and SASL of the connection (default: the ``TOCSIN_KAFKA_*`` settings).
    """
    producer = producer_factory(
        bootstrap_servers=bootstrap,
        **client_config(kafka or kafka_settings()),
        acks="all",
        linger_ms=20,
        max_request_size=MAX_MESSAGE_BYTES,
        request_timeout_ms=30_000,
        retries=5,
    )
    stats = ReplayStats()
    started = time.monotonic()
    first_at: float | None = None
    try:
        for line in read_lines(path):
            if limit is not None and stats.sent >= limit:
                break
            if speed > 0 and line.at is not None:
                if first_at is None:
                    first_at = line.at
                due = (line.at - first_at) / speed - (time.monotonic() - started)
                if due > 0:
                    producer.flush()
                    sleep(due)
            producer.send(topic, key=line.key, value=line.payload)
            stats.sent += 1
            if on_sent is not None:
                on_sent(1)
        producer.flush(timeout=60)
    finally:
        producer.close(timeout=10)
    stats.seconds = time.monotonic() - started
    return stats


def count_lines(path: Path) -> int:
    with path.open("rb") as handle:
        return sum(1 for raw in handle if raw.strip())
