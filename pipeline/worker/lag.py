"""Consumer lag of a group, per topic, read with kafka-python's admin and consumer APIs.

The clients connect with the ``TOCSIN_KAFKA_*`` TLS and SASL settings, like every other.
"""

from __future__ import annotations

from collections.abc import Iterable

from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition

from pipeline.kafka_clients import client_config
from pipeline.settings_kafka import kafka_settings


def group_lag(bootstrap: str, group: str, topics: Iterable[str]) -> dict[str, int]:
    """Messages not yet committed by ``group`` on each topic (uncommitted partitions count whole)."""
    topics = list(topics)
    auth = client_config(kafka_settings())
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10_000, **auth)
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, **auth)
    try:
        committed = admin.list_group_offsets({group: None}).get(group, {})
        partitions = [
            TopicPartition(topic, p)
            for topic in topics
            for p in sorted(consumer.partitions_for_topic(topic) or ())
        ]
        ends = consumer.end_offsets(partitions) if partitions else {}
        lag: dict[str, int] = dict.fromkeys(topics, 0)
        for tp in partitions:
            meta = committed.get(tp)
            done = meta.offset if meta is not None and meta.offset >= 0 else 0
            lag[tp.topic] += max(0, ends.get(tp, 0) - done)
        return lag
    finally:
        consumer.close()
        admin.close()


def topic_size(bootstrap: str, topic: str) -> int:
    """Messages ever written to ``topic`` (sum of end offsets; no retention deletes in tests)."""
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, **client_config(kafka_settings())
    )
    try:
        parts = [
            TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())
        ]
        return sum(consumer.end_offsets(parts).values()) if parts else 0
    finally:
        consumer.close()
