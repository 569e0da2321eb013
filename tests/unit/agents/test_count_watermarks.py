"""Watermarks per raw partition: a bucket waits for every ``mentions.raw`` partition feeding it.

The agent is driven with ``agent.test_context()`` (real Faust stream machinery); wall-clock idleness
uses an injected monotonic clock. About 2 s for the file.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from agents import count_mentions
from pipeline import services
from pipeline.counting import buckets as counting
from pipeline.counting import judge
from pipeline.counting.watermarks import RawWatermarks
from pipeline.metrics import TocsinMetrics
from pipeline.records import Author, ClassifiedMention, Mention
from pipeline.settings import make_settings
from tests.fakes import RecordingTopic

T0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)


class Clock:
    """Monotonic seconds that move only when the test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now


@pytest.fixture()
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(counting, "time", SimpleNamespace(monotonic=fake.monotonic))
    return fake


@pytest.fixture()
def metrics() -> TocsinMetrics:
    m = TocsinMetrics(CollectorRegistry(), receivers=("console",))
    services.override(
        metrics=m,
        settings=make_settings(
            bucket_seconds=300,
            allowed_lateness_s=60,
            topics_track=("pricing",),
            raw_idle_after_s=300,
            count_batch_size=1,  # the tests read what was closed between puts
        ),
    )
    return m


@pytest.fixture()
def out(monkeypatch: pytest.MonkeyPatch, empty_counting: None) -> Iterator[RecordingTopic]:
    monkeypatch.setattr(judge, "signals", RecordingTopic())
    monkeypatch.setattr(judge, "alerts", RecordingTopic())
    closed = RecordingTopic()
    monkeypatch.setattr(counting, "buckets", closed)
    yield closed


_offsets: dict[int, int] = {}


def at(seconds: float, raw: int, brand: str = "ostrel") -> ClassifiedMention:
    """A pricing mention of ``brand`` dated T0 + ``seconds``, read from raw partition ``raw``."""
    offset = _offsets[raw] = _offsets.get(raw, -1) + 1
    mid = f"r{raw}:{offset}"
    mention = Mention(
        id=mid,
        platform="x",
        text=mid,
        created_at=T0 + timedelta(seconds=seconds),
        brand=brand,
        brands=[brand],
        author=Author(id=f"a-{mid}", followers=10),
        raw_partition=raw,
        raw_offset=offset,
    )
    return ClassifiedMention(
        mention=mention,
        topics=["pricing"],
        scores={"pricing": 0.9},
        stance="neutral",
        lang="en",
        model_version="t",
    )


def closed(out: RecordingTopic, brand: str = "ostrel") -> list[tuple[str, int]]:
    return [(b.start.strftime("%H:%M"), b.count) for b in out.values if b.brand == brand]


def late(metrics: TocsinMetrics) -> float | None:
    return metrics.registry.get_sample_value("tocsin_late_mentions_total")


async def test_a_lagging_raw_partition_holds_the_bucket_until_its_share_arrives(
    clock: Clock, metrics: TocsinMetrics, out: RecordingTopic
) -> None:
    """Raw 0's worker races 20 minutes ahead while raw 1's is stopped: 08:00 waits for raw 1.

    Before watermarks per raw partition, raw 0 alone closed 08:00 .. 08:10 and raw 1's three
    mentions of 08:01 were counted late.
    """
    async with count_mentions.count_mentions.test_context() as agent:
        await agent.put(at(10, raw=0), key="ostrel")
        await agent.put(at(20, raw=1), key="ostrel")
        for minute in range(1, 21):  # raw 0 races on, a mention a minute
            clock.now += 1
            await agent.put(at(60 * minute + 30, raw=0), key="ostrel")
        assert closed(out) == []  # raw 1 last seen at 08:00:20 holds everything
        counting.partition_clocks().clear()  # a restarted worker: raw 1 is found in the table
        await agent.put(at(21 * 60, raw=0), key="ostrel")
        assert closed(out) == []
        for second in (60, 70, 80):  # raw 1's worker resumes: its share of 08:01
            await agent.put(at(second, raw=1), key="ostrel")
        await agent.put(at(21 * 60 + 5, raw=1), key="ostrel")  # and catches up
    assert closed(out) == [("08:00", 9), ("08:05", 5), ("08:10", 5), ("08:15", 5)]
    assert late(metrics) == 0


async def test_an_idle_raw_partition_stops_holding_and_a_later_record_is_late(
    clock: Clock, metrics: TocsinMetrics, out: RecordingTopic
) -> None:
    """Raw 1 goes silent: after ``raw_idle_after_s`` of wall clock it no longer holds 08:00;
    a raw-1 mention of 08:01 arriving after that close is counted late, as before."""
    async with count_mentions.count_mentions.test_context() as agent:
        await agent.put(at(10, raw=0), key="ostrel")
        await agent.put(at(20, raw=1), key="ostrel")
        await agent.put(at(12 * 60, raw=0), key="ostrel")
        assert closed(out) == []
        clock.now += 299
        await agent.put(at(12 * 60 + 1, raw=0), key="ostrel")
        assert closed(out) == []  # silent for 299 s: still holding
        clock.now += 1
        await agent.put(at(12 * 60 + 2, raw=0), key="ostrel")
        assert closed(out) == [("08:00", 2), ("08:05", 0)]
        await agent.put(at(61, raw=1), key="ostrel")  # raw 1 again, too late for 08:00
    assert closed(out) == [("08:00", 2), ("08:05", 0)]
    assert late(metrics) == 1


async def test_a_held_brand_closes_when_the_raw_partition_moves_on_without_it(
    clock: Clock, metrics: TocsinMetrics, out: RecordingTopic
) -> None:
    """valmoreau's 08:00 is held by raw 1; a brenmoor mention on raw 1 (same classified
    partition) releases it, without waiting for valmoreau's own next mention."""
    async with count_mentions.count_mentions.test_context() as agent:
        await agent.put(at(10, raw=0, brand="valmoreau"), key="valmoreau")
        await agent.put(at(20, raw=1, brand="valmoreau"), key="valmoreau")
        await agent.put(at(10 * 60, raw=0, brand="valmoreau"), key="valmoreau")
        assert closed(out, "valmoreau") == []
        await agent.put(at(10 * 60, raw=1, brand="brenmoor"), key="brenmoor")
    assert closed(out, "valmoreau") == [("08:00", 2)]
    assert late(metrics) == 0


def test_low_watermark_ignores_idle_partitions_and_restores_the_latest_times() -> None:
    marks = RawWatermarks()
    marks.saw(0, 500, now=0.0)
    marks.saw(1, 200, now=0.0)
    marks.saw(1, 100, now=5.0)  # out of order within the partition: the watermark stays
    assert marks.low(now=5.0, idle_after_s=10) == 200
    assert marks.low(now=10.0, idle_after_s=10) == 200  # raw 1 heard at 5 s
    assert marks.low(now=12.0, idle_after_s=10) == 200  # raw 0 idle since 10 s, raw 1 not
    assert marks.low(now=15.0, idle_after_s=10) is None  # everything idle: nothing holds
    marks.restore({"1": 300, "2": 50}, now=15.0)
    assert marks.times == {0: 500, 1: 300, 2: 50}
    assert marks.low(now=15.0, idle_after_s=10) == 50  # a restored partition counts from now


def test_closing_waits_for_the_limit(metrics: TocsinMetrics) -> None:
    """``close_due`` with a limit closes what min(brand watermark, limit) closes."""
    start = int(T0.timestamp())
    state: dict[str, Any] = {"closed": start - 300, "wm": start + 1200, "open": {}}
    assert counting.close_due(state, "b", ("pricing",), 300, 60, limit=start + 200) == []
    due = counting.close_due(state, "b", ("pricing",), 300, 60, limit=start + 400)
    assert [b.start for b in due] == [T0]
