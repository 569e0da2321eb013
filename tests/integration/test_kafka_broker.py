"""The local broker (deploy/kafka/kafka.sh) and pipeline.ops.topics against it, for real."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.admin import ConfigResource, ConfigResourceType

from pipeline.ops.topics import PartitionCountMismatch, ensure_topics, wait_for_broker
from pipeline.topology import ALL_TOPICS, TopicSpec
from tests.kafka_fixture import KAFKA_SH, FreshNames, KafkaBroker

pytestmark = pytest.mark.integration


def _partition_counts(bootstrap: str, names: list[str]) -> dict[str, int]:
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10_000)
    try:
        return {
            str(t["name"]): len(t["partitions"])
            for t in admin.describe_topics(names)
            if t["error_code"] == 0
        }
    finally:
        admin.close()


def test_broker_is_ready_and_loopback_only(kafka_broker: KafkaBroker) -> None:
    assert kafka_broker.bootstrap.startswith("127.0.0.1:")
    assert kafka_broker.url == f"kafka://{kafka_broker.bootstrap}"
    wait_for_broker(kafka_broker.bootstrap, timeout_s=10)


def test_status_and_idempotent_start(kafka_broker: KafkaBroker) -> None:
    if kafka_broker.data_dir is None:
        pytest.skip("external broker: the fixture did not start it")
    env = dict(os.environ)
    env.update(KAFKA_PORT=str(kafka_broker.port), KAFKA_DATA_DIR=str(kafka_broker.data_dir))
    status = subprocess.run(
        ["bash", str(KAFKA_SH), "status"], env=env, capture_output=True, text=True, timeout=30
    )
    assert status.returncode == 0, status.stdout + status.stderr
    assert f"pid {kafka_broker.pid}" in status.stdout
    again = subprocess.run(
        ["bash", str(KAFKA_SH), "start"], env=env, capture_output=True, text=True, timeout=60
    )
    assert again.returncode == 0, again.stdout + again.stderr
    assert "already running" in again.stdout
    assert Path(kafka_broker.data_dir, "kafka.pid").read_text().strip() == str(kafka_broker.pid)


def test_ensure_topics_creates_all_with_spec_partitions(
    kafka_broker: KafkaBroker, fresh_topics: FreshNames
) -> None:
    specs = fresh_topics.specs(ALL_TOPICS)
    names = [s.name for s in specs]

    first = ensure_topics(kafka_broker.bootstrap, specs, timeout_s=60)
    assert sorted(first.created) == sorted(names)
    assert first.existing == ()
    counts = _partition_counts(kafka_broker.bootstrap, names)
    assert counts == {s.name: s.partitions for s in specs}
    # The topology is not uniform (the DLQ has one partition), so this checks real counts.
    assert len(set(counts.values())) > 1

    second = ensure_topics(kafka_broker.bootstrap, specs, timeout_s=60)
    assert second.created == ()
    assert sorted(second.existing) == sorted(names)
    assert _partition_counts(kafka_broker.bootstrap, names) == counts


def test_ensure_topics_refuses_partition_mismatch(
    kafka_broker: KafkaBroker, fresh_topics: FreshNames
) -> None:
    name = fresh_topics.topic("mentions")
    ensure_topics(kafka_broker.bootstrap, [TopicSpec(name, partitions=2)], timeout_s=60)
    missing = fresh_topics.topic("not.yet")

    with pytest.raises(PartitionCountMismatch) as info:
        ensure_topics(
            kafka_broker.bootstrap,
            [TopicSpec(name, partitions=4), TopicSpec(missing, partitions=1)],
            timeout_s=60,
        )
    assert info.value.mismatches == {name: (4, 2)}
    assert name in str(info.value) and "2 partitions" in str(info.value)
    # Nothing was created or changed by the refused call.
    assert _partition_counts(kafka_broker.bootstrap, [name, missing]) == {name: 2}


def test_ensure_topics_applies_topic_config(
    kafka_broker: KafkaBroker, fresh_topics: FreshNames
) -> None:
    spec = TopicSpec(
        fresh_topics.topic("compacted"), partitions=1, config={"cleanup.policy": "compact"}
    )
    ensure_topics(kafka_broker.bootstrap, [spec], timeout_s=60)
    admin = KafkaAdminClient(bootstrap_servers=kafka_broker.bootstrap, request_timeout_ms=10_000)
    try:
        described = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, spec.name)])
    finally:
        admin.close()
    assert "'cleanup.policy'" in repr(described) and "'compact'" in repr(described)


def test_produce_consume_round_trip(kafka_broker: KafkaBroker, fresh_topics: FreshNames) -> None:
    topic = fresh_topics.topic("roundtrip")
    ensure_topics(kafka_broker.bootstrap, [TopicSpec(topic, partitions=2)], timeout_s=60)

    producer = KafkaProducer(bootstrap_servers=kafka_broker.bootstrap, acks="all")
    try:
        sent = producer.send(topic, key=b"brenmoor", value=b'{"id": "m1"}').get(timeout=30)
    finally:
        producer.close(timeout=10)

    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=kafka_broker.bootstrap,
        group_id=fresh_topics.group(),
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        consumer_timeout_ms=1_000,
    )
    received: list[Any] = []
    deadline = time.monotonic() + 30
    try:
        while not received and time.monotonic() < deadline:
            received.extend(consumer)
    finally:
        consumer.close()
    assert [(m.key, m.value, m.partition, m.offset) for m in received] == [
        (b"brenmoor", b'{"id": "m1"}', sent.partition, sent.offset)
    ]
