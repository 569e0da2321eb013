"""The console feed on a real broker: every partition read, restart resumes, redelivery is harmless.

Prefixed copies of the fed topics (``fresh_topics``) on the session's broker; the feed runs in
this process as it does in the worker (``agents/feed_console.py``).
"""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from pathlib import Path

import pytest
from kafka import KafkaAdminClient, KafkaProducer

from pipeline.console.feed import ConsoleFeed
from pipeline.console.store import FED_TOPICS, ConsoleStore, InboxFilter, MentionQuery
from pipeline.ops.topics import ensure_topics
from pipeline.topology import TopicSpec
from tests.kafka_fixture import FreshNames, KafkaBroker
from tests.unit.console.records import T0, alert, mention

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


def _produce(
    bootstrap: str, topic: str, values: list[tuple[int, dict[str, object] | bytes]]
) -> None:
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    try:
        for partition, value in values:
            raw = value if isinstance(value, bytes) else json.dumps(value).encode()
            producer.send(topic, value=raw, key=b"k", partition=partition)
        producer.flush(timeout=30)
    finally:
        producer.close(timeout=10)


async def _run_until(feed: ConsoleFeed, done: object, timeout_s: float = 30.0) -> None:
    task = asyncio.create_task(feed.run())
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while not done():  # type: ignore[operator]
            assert not task.done(), task.exception()
            assert loop.time() < deadline, f"feed stats: {feed.stats}"
            await asyncio.sleep(0.2)
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


async def test_feed_reads_every_partition_and_resumes_after_restart(
    kafka_broker: KafkaBroker, fresh_topics: FreshNames, tmp_path: Path
) -> None:
    names = {fresh_topics.topic(t): t for t in FED_TOPICS}
    missing = fresh_topics.topic("responses.drafts")  # never created: the feed must not create it
    specs = [TopicSpec(n, partitions=3) for n in names if n != missing]
    ensure_topics(kafka_broker.bootstrap, specs, timeout_s=30)
    alerts_topic = fresh_topics.topic("alerts")
    keys = [f"valmoreau:pricing:{i}" for i in range(6)]
    _produce(
        kafka_broker.bootstrap,
        alerts_topic,
        [(i % 3, alert(k, started=T0 + timedelta(minutes=i))) for i, k in enumerate(keys)]
        + [(0, b"not json"), (1, b'{"dedup_key": 1}')],
    )
    _produce(
        kafka_broker.bootstrap,
        fresh_topics.topic("mentions.classified"),
        [(2, mention("x:1", "Zentavo price up 40%"))],
    )
    store = ConsoleStore.open(tmp_path / "console.sqlite3")
    feed = ConsoleFeed(store, [kafka_broker.bootstrap], topics=names)
    await _run_until(feed, lambda: feed.stats.stored + feed.stats.rejected >= 9)
    assert feed.stats.partitions == 3 * (len(FED_TOPICS) - 1)
    assert [a["dedup_key"] for a in store.inbox(InboxFilter())] == keys[::-1]
    assert feed.stats.rejected == 2
    assert store.offsets()[("alerts", 0)] == 3  # two alerts and the line that is not JSON

    # A new feed on the same store resumes after what it stored: only the new step arrives.
    _produce(
        kafka_broker.bootstrap,
        alerts_topic,
        [(0, alert(keys[0], state="acknowledged", updated=T0 + timedelta(hours=1)))],
    )
    again = ConsoleFeed(store, [kafka_broker.bootstrap], topics=names)
    await _run_until(again, lambda: again.stats.stored >= 1)
    await asyncio.sleep(1.0)  # anything re-read would show up as more than one stored record
    assert again.stats.stored == 1
    assert store.alert(keys[0])["state"] == "acknowledged"  # type: ignore[index]
    assert len(store.inbox(InboxFilter())) == 6
    assert [m["id"] for m in store.search(MentionQuery(text="zentavo"))] == ["x:1"]
    admin = KafkaAdminClient(bootstrap_servers=kafka_broker.bootstrap)
    try:
        assert missing not in admin.list_topics()
    finally:
        admin.close()
