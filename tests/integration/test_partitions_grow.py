"""`tocsin topics grow` (pipeline/ops/grow.py) on the real broker: keyed topics and changelogs grow,
single-partition ones stay, and each table key's latest state ends up, alone, where its new hash
puts it. Refused while the group has unread messages, and on an unexpected layout."""

from __future__ import annotations

import json
from collections import defaultdict

import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.structs import OffsetAndMetadata

from pipeline.ops.grow import GrowRefused, grow_partitions, home
from pipeline.ops.topics import ensure_topics
from pipeline.settings_kafka import KafkaSettings
from pipeline.topology import TopicSpec
from tests.integration.test_kafka_broker import _partition_counts
from tests.kafka_fixture import FreshNames, KafkaBroker

pytestmark = pytest.mark.integration

PLAINTEXT = KafkaSettings()


def table_state(bootstrap: str, topic: str, partitions: int) -> dict[int, dict[bytes, bytes]]:
    """What Faust recovers from each changelog partition: the last value per key, minus deletes."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    tps = [TopicPartition(topic, p) for p in range(partitions)]
    state: dict[int, dict[bytes, bytes]] = defaultdict(dict)
    try:
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        ends = consumer.end_offsets(tps)
        while any(consumer.position(tp) < ends[tp] for tp in tps):
            for tp, records in consumer.poll(timeout_ms=1000).items():
                for record in records:
                    if record.value is None:
                        state[tp.partition].pop(record.key, None)
                    else:
                        state[tp.partition][record.key] = record.value
        return state
    finally:
        consumer.close()


def commit(bootstrap: str, group: str, tp: TopicPartition, offset: int) -> None:
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    try:
        consumer.assign([tp])
        consumer.commit({tp: OffsetAndMetadata(offset, "", -1)})
    finally:
        consumer.close()


def test_grow_moves_each_table_key_to_its_new_partition(
    kafka_broker: KafkaBroker, fresh_topics: FreshNames
) -> None:
    bootstrap = kafka_broker.bootstrap
    source = TopicSpec(fresh_topics.topic("mentions.classified"), partitions=2)
    single = TopicSpec(fresh_topics.topic("mentions.dlq"), partitions=1)
    changelog = TopicSpec(
        fresh_topics.topic("open_buckets-changelog"),
        partitions=2,
        config={"cleanup.policy": "compact"},
    )
    specs = (source, single, changelog)
    ensure_topics(bootstrap, specs, kafka=PLAINTEXT)
    keys = [json.dumps(f"brand{i}").encode() for i in range(40)]  # as Faust writes table keys
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    try:
        for version in (1, 2):
            for key in keys:
                value = json.dumps({"v": version, "key": key.decode()}).encode()
                producer.send(changelog.name, key=key, value=value, partition=home(key, 2))
        producer.send(changelog.name, key=keys[0], value=None, partition=home(keys[0], 2))
        for key in keys[:3]:
            producer.send(source.name, key=key, value=b"{}", partition=0)
        producer.flush(timeout=30)
    finally:
        producer.close(timeout=10)
    group = fresh_topics.group("tocsin")
    source_tp = TopicPartition(source.name, 0)

    def grow() -> object:
        return grow_partitions(bootstrap, 5, current=2, specs=specs, group=group, kafka=PLAINTEXT)

    commit(bootstrap, group, source_tp, 1)
    with pytest.raises(GrowRefused, match=rf"unread messages .*{source.name} 2"):
        grow()
    assert _partition_counts(bootstrap, [source.name]) == {source.name: 2}  # nothing changed

    commit(bootstrap, group, source_tp, 3)
    result = grow_partitions(bootstrap, 5, current=2, specs=specs, group=group, kafka=PLAINTEXT)
    names = [s.name for s in specs]
    assert _partition_counts(bootstrap, names) == {
        source.name: 5,
        single.name: 1,
        changelog.name: 5,
    }
    assert result.grown == (source.name, changelog.name)
    live = keys[1:]
    moving = [k for k in live if home(k, 5) != home(k, 2)]
    assert moving and result.moved == {changelog.name: len(moving)}

    state = table_state(bootstrap, changelog.name, 5)
    for key in live:
        new_home = home(key, 5)
        assert new_home is not None
        assert json.loads(state[new_home][key]) == {"v": 2, "key": key.decode()}
        assert [p for p, held in state.items() if key in held] == [new_home], key
    assert not any(keys[0] in held for held in state.values())  # a deleted key stays deleted

    with pytest.raises(GrowRefused, match=rf"expected 2 partitions .*{source.name} has 5"):
        grow()
