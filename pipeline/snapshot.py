"""Read a whole topic as it stands: the records up to its end offsets when the read starts.

Exports (``tocsin audit export``, ``tocsin pv cases export``) and ``tocsin privacy erase`` read
topics with a plain kafka-python consumer and no consumer group (reading must not move anyone's
offsets), up to the end offsets seen when they started, so the read is a consistent snapshot that
terminates while workers keep appending. ``timeout_s`` bounds the whole read: a broker that stops
answering is an error, not a hang.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

from pipeline.kafka_clients import client_config
from pipeline.settings_kafka import KafkaSettings, kafka_settings


def read_snapshot(
    bootstrap: str,
    topic: str,
    *,
    timeout_s: float = 30.0,
    consumer_factory: Callable[..., Any] | None = None,
    kafka: KafkaSettings | None = None,
) -> Iterator[Any]:
    """Every record (kafka-python ``ConsumerRecord``) of ``topic`` up to its end offsets at call
    time, partition by partition in offset order.

    Raises TimeoutError if the snapshot cannot be read within ``timeout_s`` and LookupError if the
    topic does not exist. ``kafka``: TLS and SASL (default: the ``TOCSIN_KAFKA_*`` settings).
    """
    from kafka import KafkaConsumer, TopicPartition

    factory = consumer_factory or KafkaConsumer
    consumer = factory(
        bootstrap_servers=bootstrap,
        **client_config(kafka or kafka_settings()),
        group_id=None,
        enable_auto_commit=False,
        request_timeout_ms=int(min(timeout_s, 30.0) * 1000) + 1000,
    )
    try:
        deadline = time.monotonic() + timeout_s
        partitions = consumer.partitions_for_topic(topic)
        while not partitions and time.monotonic() < deadline:
            time.sleep(0.2)  # metadata may not be loaded on the first call
            partitions = consumer.partitions_for_topic(topic)
        if not partitions:
            raise LookupError(f"topic {topic!r} not found on {bootstrap}")
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        end = consumer.end_offsets(tps)
        remaining = {tp for tp in tps if consumer.position(tp) < end[tp]}
        while remaining:
            if time.monotonic() > deadline:
                raise TimeoutError(f"reading {topic} did not finish within {timeout_s:.0f} s")
            batch = consumer.poll(timeout_ms=500)
            for tp, messages in batch.items():
                for message in messages:
                    if message.offset < end[tp]:
                        yield message
            remaining = {tp for tp in remaining if consumer.position(tp) < end[tp]}
    finally:
        consumer.close()
