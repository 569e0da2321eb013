"""Re-sent mentions on a real broker and worker: a copy of an id already accepted is not counted.

A live source that resumes from its last checkpoint after a crash re-sends what followed it; an
HTTP client retries a batch. Those copies reach ``mentions.raw`` at new offsets, where counting's
raw-position check cannot tell them from new mentions: ingest filters them by id
(``pipeline/ingest/dedup.py``).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from pipeline.ingest.keys import raw_key
from pipeline.ops.demo import metric_value, wait_drained
from pipeline.ops.procs import Broker, Worker
from tests.integration.conftest import consume, produce
from tests.integration.test_faults_restart import surge_stream
from tests.integration.test_pipeline import CALM, mention

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

RESENT = 50


def minute(iso: str) -> datetime:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).replace(second=0, microsecond=0)


def test_mentions_sent_twice_are_counted_and_page_once(
    broker: Broker, start_worker: Callable[..., Worker]
) -> None:
    """The surge's first 50 mentions are re-sent right after them (a source resuming from a
    checkpoint taken before them): every closed bucket counts each mention once, one alert fires,
    and the duplicate metric reads 50."""
    worker = start_worker(TOCSIN_BUCKET_SECONDS="60", TOCSIN_ALLOWED_LATENESS_S="30")
    once = surge_stream("brenmoor", 0)
    surge = 180  # the first surge mention's index (three calm hours of one a minute before it)
    payloads = once[: surge + RESENT] + once[surge : surge + RESENT] + once[surge + RESENT :]
    # one raw partition keeps event order = processing order (see test_pipeline); the copies
    # share it with their originals, as they do when keyed by id
    produce(broker.bootstrap, "mentions.raw", payloads, keys=[b"brenmoor"] * len(payloads))

    classified = consume(broker.bootstrap, "mentions.classified", want=len(once), timeout_s=240)
    alerts = consume(broker.bootstrap, "alerts", want=1, timeout_s=120)
    wait_drained(broker.bootstrap, timeout_s=120)
    classified = consume(broker.bootstrap, "mentions.classified", want=len(once), settle_s=2)

    # each closed bucket holds what the distinct mentions of its minute and topic add up to
    distinct = {item["mention"]["id"]: item for item in classified}
    assert len(distinct) == len(once)
    expected: Counter[tuple[str, datetime]] = Counter()
    for item in distinct.values():
        for topic in item["topics"]:
            expected[topic, minute(item["mention"]["created_at"])] += 1
    buckets = consume(broker.bootstrap, "mentions.buckets", want=1, settle_s=3)
    counted = {(b["topic"], minute(b["start"])): b["count"] for b in buckets}
    surge_minutes = {minute(json.loads(p)["created_at"]) for p in once[surge : surge + RESENT]}
    assert {("pricing", m) for m in surge_minutes} <= set(counted), "the surge buckets closed"
    wrong = {key: (n, expected[key]) for key, n in counted.items() if n != expected[key]}
    assert not wrong, f"(counted, distinct) per bucket: {wrong}"

    alerts = consume(broker.bootstrap, "alerts", want=1, settle_s=3)
    firing = [(a["brand"], a["topic"]) for a in alerts if a["state"] == "firing"]
    assert firing == [("brenmoor", "pricing")]

    # the copies stopped at ingest: nothing downstream saw them
    ids = Counter(item["mention"]["id"] for item in classified)
    assert set(ids.values()) == {1}, ids.most_common(3)

    text = worker.metrics_text()
    assert metric_value(text, "tocsin_mentions_filtered_total", reason="duplicate") == RESENT
    assert metric_value(text, "tocsin_recounts_skipped_total") == 0
    assert metric_value(text, "tocsin_dedup_forgotten_total") == 0


def test_a_restarted_worker_still_knows_the_ids_it_accepted(
    broker: Broker, start_worker: Callable[..., Worker]
) -> None:
    """The memory is the ``mention_ids`` table: SIGKILL the worker after it accepted 50 mentions
    keyed by id (spread over every raw partition, as in production), and the next worker, having
    recovered the table from its changelog, filters the 50 copies a source re-sends."""
    first = start_worker()
    t0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
    payloads = [mention(i, t0 + timedelta(seconds=i), f"{CALM[i % 3]} #{i}") for i in range(RESENT)]
    keys: list[bytes | None] = [raw_key(f"it:{i}") for i in range(RESENT)]
    produce(broker.bootstrap, "mentions.raw", payloads, keys=keys)
    consume(broker.bootstrap, "mentions.classified", want=RESENT, timeout_s=180)
    wait_drained(broker.bootstrap, timeout_s=120)
    first.kill()
    second = start_worker()
    produce(broker.bootstrap, "mentions.raw", payloads, keys=keys)
    wait_drained(broker.bootstrap, timeout_s=180)
    text = second.metrics_text()
    assert metric_value(text, "tocsin_mentions_filtered_total", reason="duplicate") == RESENT
    classified = consume(broker.bootstrap, "mentions.classified", want=RESENT, settle_s=3)
    assert len(classified) == RESENT


def test_a_worker_taking_partitions_over_knows_their_ids(
    broker: Broker, start_worker: Callable[..., Worker]
) -> None:
    """A second worker joins the group after the first accepted 50 mentions keyed by id: the raw
    partitions it takes over come with their remembered ids (recovered from the changelog
    partitions that go with them), so the copies are filtered whichever worker reads them."""
    first = start_worker()
    t0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
    payloads = [mention(i, t0 + timedelta(seconds=i), f"{CALM[i % 3]} #{i}") for i in range(RESENT)]
    keys: list[bytes | None] = [raw_key(f"it:{i}") for i in range(RESENT)]
    produce(broker.bootstrap, "mentions.raw", payloads, keys=keys)
    consume(broker.bootstrap, "mentions.classified", want=RESENT, timeout_s=180)
    wait_drained(broker.bootstrap, timeout_s=120)
    second = start_worker()  # joins the group: a rebalance splits the partitions
    first.wait_ready()  # ready = not rebalancing: the split is done before the copies arrive
    produce(broker.bootstrap, "mentions.raw", payloads, keys=keys)
    wait_drained(broker.bootstrap, timeout_s=180)
    texts = [first.metrics_text(), second.metrics_text()]
    read = [
        metric_value(t, "tocsin_agent_messages_in_total", agent="classify_mentions") for t in texts
    ]
    assert read[1] > 0, f"the second worker read no raw partition: {read}"
    duplicates = [
        metric_value(t, "tocsin_mentions_filtered_total", reason="duplicate") for t in texts
    ]
    # a copy read again after a late rebalance is filtered again by whoever reads it: at least 50
    assert sum(duplicates) >= RESENT, duplicates
    classified = consume(broker.bootstrap, "mentions.classified", want=RESENT, settle_s=3)
    assert len(classified) == RESENT  # no copy got through
