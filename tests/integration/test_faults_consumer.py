"""Fault of the consumer itself: fetched messages that never reach a stream.

CI once lost 8 of 600 mentions after a restart: ``mentions.raw`` partition 2, offsets 95-102 (the
first ones the restarted worker fetched there), never reached ``mentions``, while 103 onwards did;
the group's commit stayed at 95 and nothing fetched them again. The broker's data kept the
evidence. ``TOCSIN_FAULT_SKIP_FETCHED`` (pipeline/redelivery.py) drops such a run in a real worker
on purpose; the hole watch must notice the stuck commit and fetch the run again. CI later lost
16 of 600 at a partition's *tail* (nothing acked after them): the ``tail`` case.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from kafka import KafkaProducer

from pipeline.ops.demo import metric_value, wait_drained
from pipeline.ops.procs import Broker, Worker
from pipeline.redelivery import FAULT_SKIP_ENV, HOLE_CHECK_INTERVAL_S, HOLE_GRACE_S
from tests.integration.conftest import consume
from tests.integration.test_pipeline import CALM, mention

pytestmark = [pytest.mark.integration, pytest.mark.timeout(420)]


@pytest.mark.parametrize(
    ("first", "last"),
    [
        (5, 12),  # later offsets are acked: the hole shows below them
        (52, 59),  # the partition's tail: nothing later is acked, the consumer's position shows it
    ],
    ids=["middle", "tail"],
)
def test_skipped_fetch_is_fetched_again_and_nothing_is_lost(
    broker: Broker, start_worker: Callable[..., Worker], first: int, last: int
) -> None:
    worker = start_worker(**{FAULT_SKIP_ENV: f"mentions.raw:0:{first}-{last}"})
    t0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
    total = 60
    producer = KafkaProducer(bootstrap_servers=broker.bootstrap, acks="all")
    try:
        for i in range(total):  # all on partition 0, so offset n is it:n
            payload = mention(i, t0 + timedelta(seconds=i), f"{CALM[i % 3]} #{i}")
            producer.send("mentions.raw", value=payload, partition=0)
        producer.flush(timeout=30)
    finally:
        producer.close(timeout=10)

    started = time.monotonic()
    deadline = started + 240
    while True:
        out = consume(broker.bootstrap, "mentions.classified", want=total, timeout_s=30, settle_s=1)
        ids = {item["mention"]["id"] for item in out}
        if len(ids) == total or time.monotonic() > deadline:
            break
        time.sleep(3)
    assert ids == {f"it:{i}" for i in range(total)}, "the skipped run was never fetched again"
    took = time.monotonic() - started
    wait_drained(broker.bootstrap, timeout_s=60)  # and the commit moved past the hole
    text = worker.metrics_text()
    assert metric_value(text, "tocsin_consumer_refetches_total", topic="mentions.raw") >= 1
    log = worker.log_path.read_text() if worker.log_path else ""
    assert f"fault injection: dropped mentions.raw[0] offset {first}" in log
    assert f"mentions.raw[0]: offsets {first}..{last} were fetched but never processed" in log
    print(
        f"hole of {last - first + 1} repaired: all {total} classified {took:.0f} s after producing "
        f"(grace {HOLE_GRACE_S:.0f} s, checked every {HOLE_CHECK_INTERVAL_S:.0f} s)"
    )
