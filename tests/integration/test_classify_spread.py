"""A single brand's burst spreads over two workers: the classify work splits, the counts stay exact.

``mentions.raw`` is keyed by mention id (every front door, :mod:`pipeline.ingest.keys`), and
``classify_mentions`` reads it directly, so one brand's mentions are classified on every partition
and so by every worker of the group; only ``mentions.classified`` is keyed by brand, for counting.
Real broker, two real worker processes in one consumer group, the real model.
"""

from __future__ import annotations

import json
import signal
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
#: Mentions of one bucket sent while one worker is stopped (spread over every raw partition).
STOPPED_SHARE = 40


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


def settled(read: Callable[[], tuple[float, ...]], quiet_s: float, timeout_s: float) -> None:
    """Wait until ``read()`` has changed from its first value and then stayed put for ``quiet_s``."""
    first = last = read()
    since = time.monotonic()
    deadline = since + timeout_s
    while time.monotonic() < deadline:
        time.sleep(1.0)
        now = read()
        if now != last:
            last, since = now, time.monotonic()
        elif now != first and time.monotonic() - since >= quiet_s:
            return
    raise AssertionError(f"no settled progress after {timeout_s:.0f} s: {first} -> {last}")


def bucket_counts(broker: Broker, start: datetime) -> dict[str, int]:
    """brenmoor's closed bucket starting at ``start``: its count per topic (empty until closed)."""
    found = consume(broker.bootstrap, "mentions.buckets", want=1, timeout_s=10)
    return {
        b["topic"]: b["count"]
        for b in found
        if b["brand"] == "brenmoor" and b["start"].startswith(start.strftime("%Y-%m-%dT%H:%M"))
    }


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

    # counts exact: a mention an hour later on every raw partition (a bucket waits for each of
    # them) closes the burst's bucket, whose count per watched topic is the number of classified
    # mentions carrying that topic
    closers = [mention(99_000 + p, T0 + timedelta(hours=1), CALM[0]) for p in range(partitions)]
    send(broker.bootstrap, [(raw_key(f"it:{99_000 + p}"), p) for p in range(partitions)], closers)
    watched = make_settings().topics_track
    expected = {t: sum(t in r["topics"] for r in ours) for t in watched}
    wait_for(
        lambda: set(bucket_counts(broker, T0)) == set(watched), 120, "the burst's bucket to close"
    )
    assert bucket_counts(broker, T0) == expected
    assert sum(expected.values()) > 0
    for worker in workers:
        text = worker.metrics_text()
        assert metric_value(text, "tocsin_late_mentions_total") == 0
        assert metric_value(text, "tocsin_recounts_skipped_total") == 0
        assert httpx.get(f"{worker.url}/healthz", timeout=5).status_code == 200
    print(json.dumps({"split": done, "shares": shares, "bucket_counts": expected}))

    # One worker stopped (SIGSTOP) while the other races twenty minutes of event time ahead on
    # its raw partitions: the bucket waits for the stopped worker's raw partitions instead of
    # closing on the running worker's event time, and counts every mention once it resumes
    # (before watermarks per raw partition it closed with the running worker's share only).
    counted_in = [
        metric_value(w.metrics_text(), "tocsin_agent_messages_in_total", agent="count_mentions")
        for w in workers
    ]
    counter, stopped = workers if counted_in[0] >= BURST else workers[::-1]
    assert stopped.proc is not None
    t1 = T0 + timedelta(hours=2)
    share_ids = [f"it:{200_000 + i}" for i in range(STOPPED_SHARE)]
    share = [
        mention(200_000 + i, t1 + timedelta(seconds=2 * i), f"{PRICING[i % 4]} #{i}")
        for i in range(STOPPED_SHARE)
    ]
    ahead = [mention(300_000 + p, t1 + timedelta(minutes=20), CALM[1]) for p in range(partitions)]

    def counter_progress() -> tuple[float, ...]:
        text = counter.metrics_text()
        return (
            metric_value(text, "tocsin_agent_messages_out_total", agent="classify_mentions"),
            metric_value(text, "tocsin_agent_messages_in_total", agent="count_mentions"),
        )

    stopped.proc.send_signal(signal.SIGSTOP)
    try:
        send(
            broker.bootstrap,
            [(raw_key(m), i % partitions) for i, m in enumerate(share_ids)],
            share,
        )
        send(
            broker.bootstrap,
            [(raw_key(f"it:{300_000 + p}"), p) for p in range(partitions)],
            ahead,
        )
        settled(counter_progress, quiet_s=5, timeout_s=60)  # its share classified and counted
        held = bucket_counts(broker, t1)
    finally:
        stopped.proc.send_signal(signal.SIGCONT)
    assert held == {}, f"the bucket closed without the stopped worker's share: {held}"
    out = consume(
        broker.bootstrap,
        "mentions.classified",
        want=3 * partitions + BURST + STOPPED_SHARE,
        timeout_s=120,
        settle_s=2,
    )
    mine = {r["mention"]["id"]: r for r in out if r["mention"]["id"] in set(share_ids)}
    assert sorted(mine) == sorted(share_ids)
    expected = {t: sum(t in r["topics"] for r in mine.values()) for t in watched}
    wait_for(
        lambda: set(bucket_counts(broker, t1)) == set(watched), 120, "the held bucket to close"
    )
    assert bucket_counts(broker, t1) == expected
    for worker in workers:
        assert metric_value(worker.metrics_text(), "tocsin_late_mentions_total") == 0
    print(json.dumps({"stopped_worker_bucket": expected}))
