"""Grow the partitions of Tocsin's keyed topics and table changelogs, moving table state to match.

Why a tool, and not ``kafka-topics --alter --partitions``: a key's partition is its hash modulo
the partition count, so growing a topic moves keys. A brand's counting state lives in the
partition of ``open_buckets``' changelog its mentions arrived on; after the change its mentions
arrive on another partition, whose worker would start that brand from nothing (the detector's
baseline lost, an open alert never resolved) while the old copy lingers where it was.
So, with every worker stopped and nothing left unread:

1. every topic and changelog that has the keyed count (``TOCSIN_KAFKA_PARTITIONS``) grows to
   the new count; the single-partition ones (dead letters, silences) stay as they are;
2. each changelog is read to its end, and the latest value of every key whose stream key now
   hashes to another partition is written to that partition, with a tombstone where it was.

A table's changelog key is the stream's key JSON-encoded (Faust's table key serializer is
``json``, Tocsin's topics keep the app's ``raw``: ``"brenmoor"`` in the changelog for
``brenmoor`` on the stream), and the stream's partition is Kafka's default partitioner's hash of
the raw bytes. It checks what it relies on and refuses otherwise (:class:`GrowRefused`): the
group has no members and no unread messages; every topic has the current count; every live key
of a changelog sits in the partition its stream key hashes to at the current count.

Ingest's remembered mention ids (``mention_ids``, :mod:`pipeline.ingest.dedup`) are not moved:
an entry is a raw *offset*, which means nothing on another partition, and a raw record need not be
keyed by its id. Each entry stays where it was read (still right for the ids whose partition did
not change) and expires there; a copy of a moved id re-sent within the horizon after the change
is counted again.

Run it with the old ``TOCSIN_KAFKA_PARTITIONS`` still set, then set the new count for every
worker and command (docs/operations.md, "Partitions").
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewPartitions

from pipeline.kafka_clients import client_config
from pipeline.ops.topics import TopicAdminError, _connect, _partition_counts
from pipeline.settings_kafka import KafkaSettings, kafka_settings
from pipeline.topology import (
    ALL_TOPICS,
    APP_ID,
    CHANGELOG_TOPICS,
    DEFAULT_PARTITIONS,
    TopicSpec,
    changelog_name,
    partition_of,
)

#: Changelogs grown but whose entries stay on their partition (see the module docstring).
NOT_REHOMED = (changelog_name("mention_ids"),)


class GrowRefused(TopicAdminError):
    """Growing would lose or split state: workers running, unread messages, unexpected layout."""


@dataclass(frozen=True)
class GrowResult:
    """Topics grown, and per changelog how many keys moved to another partition."""

    grown: tuple[str, ...]
    moved: dict[str, int]


def stream_key(changelog_key: bytes) -> bytes:
    """The stream's raw key behind a table's JSON-encoded changelog key (ValueError otherwise)."""
    key = json.loads(changelog_key)
    if not isinstance(key, str):
        raise ValueError(f"not a JSON string: {changelog_key!r}")
    return key.encode()


def home(changelog_key: bytes, partitions: int) -> int | None:
    """Partition of a changelog key's stream key; None if it is not a JSON string."""
    try:
        return partition_of(stream_key(changelog_key), partitions)
    except ValueError:
        return None


def _unread(
    admin: Any, consumer: KafkaConsumer, group: str, names: Sequence[str]
) -> dict[str, int]:
    """Messages the group has not committed, per topic it has committed offsets on."""
    committed = admin.list_group_offsets({group: None}).get(group, {})
    read = {tp.topic for tp in committed if tp.topic in names}
    partitions = [
        TopicPartition(topic, p)
        for topic in sorted(read)
        for p in sorted(consumer.partitions_for_topic(topic) or ())
    ]
    ends = consumer.end_offsets(partitions) if partitions else {}
    out: dict[str, int] = {}
    for tp in partitions:
        meta = committed.get(tp)
        done = meta.offset if meta is not None and meta.offset >= 0 else 0
        if ends.get(tp, 0) > done:
            out[tp.topic] = out.get(tp.topic, 0) + ends[tp] - done
    return out


def _latest(consumer: KafkaConsumer, topic: str, partitions: int) -> dict[bytes, tuple[int, Any]]:
    """The last record of each key over the topic's partitions: key -> (partition, record)."""
    tps = [TopicPartition(topic, p) for p in range(partitions)]
    consumer.assign(tps)
    consumer.seek_to_beginning(*tps)
    ends = consumer.end_offsets(tps)
    latest: dict[bytes, tuple[int, Any]] = {}
    pending = {tp for tp in tps if ends[tp] > 0}
    while pending:
        for tp, records in consumer.poll(timeout_ms=1000).items():
            for record in records:
                if record.key is not None:
                    latest[record.key] = (tp.partition, record)
        pending = {tp for tp in pending if consumer.position(tp) < ends[tp]}
    return latest


def _rehome(bootstrap: str, topic: str, old: int, new: int, auth: dict[str, Any]) -> int:
    """Move each live key of a changelog to its partition at ``new``; tombstone the old copy."""
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None, **auth
    )
    try:
        latest = _latest(consumer, topic, old)
    finally:
        consumer.close()
    live = {key: found for key, found in latest.items() if found[1].value is not None}
    misplaced = sorted(key for key, (p, _) in live.items() if home(key, old) != p)
    if misplaced:
        raise GrowRefused(
            f"{topic}: {len(misplaced)} keys are not where their stream key hashes to "
            f"(first: {misplaced[0]!r}); not moving this table's state"
        )
    moves = [(key, p, record) for key, (p, record) in live.items() if home(key, new) != p]
    if not moves:
        return 0
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", **auth)
    try:
        for key, was, record in moves:
            headers = list(record.headers or [])
            producer.send(
                topic, key=key, value=record.value, partition=partition_of(stream_key(key), new),
                headers=headers,
            )  # fmt: skip
            producer.send(topic, key=key, value=None, partition=was)
        producer.flush(timeout=60)
    finally:
        producer.close(timeout=10)
    return len(moves)


def grow_partitions(
    bootstrap: str,
    to: int,
    *,
    current: int = DEFAULT_PARTITIONS,
    specs: Sequence[TopicSpec] = ALL_TOPICS + CHANGELOG_TOPICS,
    group: str = APP_ID,
    kafka: KafkaSettings | None = None,
    timeout_s: float = 60.0,
) -> GrowResult:
    """Grow every spec with ``current`` partitions to ``to``, and move its tables' state.

    Changelogs are the specs whose config compacts (``cleanup.policy=compact``). Raises
    :class:`GrowRefused` before changing anything if a worker of ``group`` is running, the group
    has unread messages, or a topic does not have ``current`` partitions.
    """
    if current <= 1:
        raise GrowRefused(
            "with TOCSIN_KAFKA_PARTITIONS=1 the keyed topics cannot be told from the "
            "single-partition ones; recreate the topics instead"
        )
    if to <= current:
        raise GrowRefused(f"--to {to}: partitions only grow (now {current})")
    scaled = [spec for spec in specs if spec.partitions == current]
    names = [spec.name for spec in scaled]
    settings = kafka or kafka_settings()
    auth = client_config(settings)
    admin = _connect(bootstrap, time.monotonic() + timeout_s, settings)
    try:
        counts = _partition_counts(admin, names)
        absent = [name for name in names if name not in counts]
        if absent:
            raise GrowRefused(f"topics missing (run `tocsin topics create`): {', '.join(absent)}")
        odd = {name: n for name, n in counts.items() if n != current}
        if odd:
            raise GrowRefused(
                f"expected {current} partitions (TOCSIN_KAFKA_PARTITIONS) on every keyed topic: "
                + ", ".join(f"{name} has {n}" for name, n in sorted(odd.items()))
            )
        members = admin.describe_groups([group]).get(group, {}).get("members") or []
        if members:
            raise GrowRefused(f"{len(members)} consumers are in group {group!r}: stop every worker")
        consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, **auth)
        try:
            unread = _unread(admin, consumer, group, names)
        finally:
            consumer.close()
        if unread:
            raise GrowRefused(
                "unread messages (let the workers drain, with sources paused, then stop them): "
                + ", ".join(f"{topic} {n}" for topic, n in sorted(unread.items()))
            )
        admin.create_partitions({name: NewPartitions(total_count=to) for name in names})
        deadline = time.monotonic() + timeout_s
        while any(n != to for n in _partition_counts(admin, names).values()):
            if time.monotonic() > deadline:
                raise TopicAdminError(f"partitions not grown to {to} in time")
            time.sleep(0.2)
    finally:
        admin.close()
    moved = {
        spec.name: _rehome(bootstrap, spec.name, current, to, auth)
        for spec in scaled
        if spec.config.get("cleanup.policy") == "compact" and spec.name not in NOT_REHOMED
    }
    return GrowResult(grown=tuple(names), moved=moved)
