"""A raw backlog does not starve counting: ``count_mentions`` runs while ``classify_mentions`` works.

Faust's fetch loop delivers every topic, and waits whenever the agent a record is for has a full
buffer. Unbounded, one poll held a partition's whole ``mentions.raw`` backlog, so counting got
nothing until ``classify_mentions`` had taken all but one buffer (4096) of it, at the model's pace
(the loaded benchmark: ``mentions.classified`` lag 29,000 and growing). Bounded and shared polls
(``pipeline.app.poll_records``, ``pipeline.fair_poll``) keep counting just behind the model.
Real broker, one real worker, the real model; the backlog is produced before the worker starts.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from pipeline.ingest.keys import raw_key
from pipeline.ops.demo import metric_value
from pipeline.ops.procs import Broker, Worker
from tests.integration.conftest import produce
from tests.integration.test_pipeline import PRICING, mention

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

BACKLOG = 12_000
#: What ``classify_mentions`` must have taken, at most, when counting has counted ``COUNTED``:
#: the backlog less one stream buffer (Faust's ``STREAM_BUFFER_MAXSIZE``, 4096). Without the poll
#: bound counting receives its first record only after this much.
BEFORE = BACKLOG - 4096
COUNTED = 1000
T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def taken(text: str, agent: str) -> float:
    return metric_value(text, "tocsin_agent_messages_in_total", agent=agent)


def test_counting_keeps_up_with_classification_through_a_raw_backlog(
    broker: Broker, start_worker: Callable[..., Worker]
) -> None:
    # distinct texts, so every mention goes through the model (no repost-cache shortcut)
    ids = [f"it:{i}" for i in range(BACKLOG)]
    payloads = [
        mention(i, T0 + timedelta(seconds=i), f"{PRICING[i % 4]} #{i}") for i in range(BACKLOG)
    ]
    produce(broker.bootstrap, "mentions.raw", payloads, keys=[raw_key(i) for i in ids])
    worker = start_worker(TOCSIN_CONSOLE_ALERTS="false")

    deadline = time.monotonic() + 300
    while True:
        text = worker.metrics_text()
        classified, counted = taken(text, "classify_mentions"), taken(text, "count_mentions")
        if counted >= COUNTED or classified >= BEFORE or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    print(f"count_mentions took {counted:.0f} when classify_mentions had taken {classified:.0f}")
    assert counted >= COUNTED, f"counting starved: {counted:.0f} counted, {classified:.0f} taken"
    assert classified < BEFORE
