"""A single brand's burst spreads over two workers: the classify work splits, the counts stay exact.

``mentions.raw`` is keyed by mention id (every front door, :mod:`pipeline.ingest.keys`), and
``classify_mentions`` reads it directly, so one brand's mentions are classified on every partition
and so by every worker of the group; only ``mentions.classified`` is keyed by brand, for counting.
Real broker, two real worker processes in one consumer group, the real model.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from kafka import KafkaProducer

from pipeline.ingest.keys import raw_key
from pipeline.ops.demo import metric_value
from pipeline.ops.procs import Broker, Worker
from pipeline.settings import make_settings
from pipeline.topology import RAW
from tests.integration.conftest import consume
from tests.integration.test_pipeline import CALM, PRICING, mention

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
BURST = 600
#: One 5-minute bucket holds the whole burst (0.4 s apart: 240 s), so no mention can arrive after
#: its bucket closed, whatever order the four raw partitions deliver in; the closer ends it.
BUCKET_S = 300
WARM_UP = "Valmoreau is hiring pharmacists in Lyon"


def classified_out(worker: Worker) -> float:
    return metric_value(
        worker.metrics_text(), "tocsin_agent_messages_out_total", agent="classify_mentions"
    )


def wait_for(condition: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")
        time.sleep(1.0)


def send(bootstrap: str, records: list[tuple[bytes, int | None]], values: list[bytes]) -> None:
    """Produce ``values`` to ``mentions.raw`` with their ``(key, partition)`` (None: by key)."""
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    try:
        for (key, partition), value in zip(records, values, strict=True):
            producer.send("mentions.raw", key=key, value=value, partition=partition)
        producer.flush(timeout=30)
    finally:
        producer.close(timeout=10)


def test_a_single_brand_burst_is_classified_by_both_workers_and_counted_once(
    broker: Broker, start_worker: Callable[..., Worker]
) -> None:
    env = {
        "TOCSIN_BUCKET_SECONDS": str(BUCKET_S),
        "TOCSIN_ALLOWED_LATENESS_S": "60",
        "TOCSIN_CONSOLE_ALERTS": "false",
    }
    workers = [start_worker(**env), start_worker(**env)]
    partitions = RAW.partitions
    # one other brand's mention on every raw partition: once both workers have classified some,
    # both own raw partitions (the group has settled), and the burst starts from there
    warm = [mention(90_000 + p, T0 - timedelta(hours=1), WARM_UP) for p in range(partitions)]
    send(broker.bootstrap, [(b"warm-up", p) for p in range(partitions)], warm)
    wait_for(
        lambda: (
            [classified_out(w) > 0 for w in workers] == [True, True]
            and sum(classified_out(w) for w in workers) == partitions
        ),
        180,
        "both workers to classify part of the warm-up",
    )
    before = [classified_out(w) for w in workers]

    # the burst: one brand, every mention keyed by its id as every front door keys it
    ids = [f"it:{i}" for i in range(BURST)]
    wanted = set(ids)
    texts = [f"{PRICING[i % 4]} #{i}" if i % 3 else CALM[i % len(CALM)] for i in range(BURST)]
    burst = [mention(i, T0 + timedelta(seconds=i * 0.4), text) for i, text in enumerate(texts)]
    send(broker.bootstrap, [(raw_key(i), None) for i in ids], burst)
    out = consume(
        broker.bootstrap, "mentions.classified", want=partitions + BURST, timeout_s=300, settle_s=3
    )
    ours = [r for r in out if r["mention"]["id"] in wanted]
    # every mention classified exactly once, keyed for counting by its one brand
    assert Counter(r["mention"]["id"] for r in ours) == Counter(ids)
    assert {r["mention"]["brand"] for r in ours} == {"brenmoor"}

    done = [classified_out(w) - b for w, b in zip(workers, before, strict=True)]
    shares = [round(d / BURST, 3) for d in done]
    print(f"classify split over two workers: {done} of {BURST} ({shares})")
    assert sum(done) == BURST
    assert all(0.4 <= s <= 0.6 for s in shares), shares

    # counts exact: a mention an hour later closes the burst's bucket, whose count per watched
    # topic is the number of classified mentions carrying that topic
    closer = mention(99_999, T0 + timedelta(hours=1), CALM[0])
    send(broker.bootstrap, [(raw_key("it:99999"), None)], [closer])
    watched = make_settings().topics_track
    expected = {t: sum(t in r["topics"] for r in ours) for t in watched}

    def burst_buckets() -> dict[str, int]:
        found = consume(broker.bootstrap, "mentions.buckets", want=1, timeout_s=10)
        return {
            b["topic"]: b["count"]
            for b in found
            if b["brand"] == "brenmoor" and b["start"].startswith(T0.strftime("%Y-%m-%dT%H:%M"))
        }

    wait_for(lambda: set(burst_buckets()) == set(watched), 120, "the burst's bucket to close")
    assert burst_buckets() == expected
    assert sum(expected.values()) > 0
    for worker in workers:
        text = worker.metrics_text()
        assert metric_value(text, "tocsin_late_mentions_total") == 0
        assert metric_value(text, "tocsin_recounts_skipped_total") == 0
        assert httpx.get(f"{worker.url}/healthz", timeout=5).status_code == 200
    print(json.dumps({"split": done, "shares": shares, "bucket_counts": expected}))
