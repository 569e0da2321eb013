"""Each agent driven with ``agent.test_context()``: real Faust stream machinery, fake neighbours."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from faust.serializers import codecs
from prometheus_client import CollectorRegistry

from agents import (
    classify_mentions,
    count_mentions,
    dispatch_alerts,
)
from models.classifier import Prediction
from models.textcache import LRUCache
from pipeline import services
from pipeline.counting import buckets as counting
from pipeline.counting import judge
from pipeline.delivery.receivers.base import Receiver
from pipeline.ingest import dedup
from pipeline.ingest.output import ClassifiedEncoder
from pipeline.metrics import TocsinMetrics
from pipeline.oncall import dispatch as dispatch_plan
from pipeline.records import Alert, Author, ClassifiedMention, Mention
from pipeline.settings import make_settings
from pipeline.tables import mention_ids, open_buckets
from tests.fakes import EncodedRecordingTopic, KeywordClassifier, RecordingTopic

T0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
AGENT = classify_mentions.AGENT


@pytest.fixture()
def metrics() -> TocsinMetrics:
    m = TocsinMetrics(CollectorRegistry(), receivers=("console", "recording"))
    services.override(
        metrics=m,
        # a short wait for a partial batch: each put in test_context waits for its batch's ack
        settings=make_settings(batch_within_s=0.05),
        classifier=KeywordClassifier(),
    )
    return m


@pytest.fixture(autouse=True)
def _test_app(
    monkeypatch: pytest.MonkeyPatch, empty_counting: None, empty_ingest: None
) -> Iterator[None]:
    # the counting stage also judges: its signals and alerts go to recording topics
    monkeypatch.setattr(judge, "signals", RecordingTopic())
    monkeypatch.setattr(judge, "alerts", RecordingTopic())
    yield


def topic(monkeypatch: pytest.MonkeyPatch, module: Any, name: str) -> RecordingTopic:
    fake = RecordingTopic()
    monkeypatch.setattr(module, name, fake)
    return fake


def classified_topic(monkeypatch: pytest.MonkeyPatch) -> RecordingTopic:
    """``classify_mentions`` writes encoded records: recorded as counting decodes them."""
    fake = EncodedRecordingTopic()
    monkeypatch.setattr(classify_mentions, "classified", fake)
    return fake


def raw(text: str, **extra: Any) -> bytes:
    obj = {
        "id": extra.pop("id", "x:1"),
        "platform": "x",
        "created_at": "2026-11-20T08:01:00Z",
        "text": text,
        "author": {"id": "u1", "followers": 50},
        **extra,
    }
    return json.dumps(obj).encode()


@pytest.fixture()
def fresh_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(classify_mentions, "_cache", LRUCache(maxsize=100))


async def test_classify_routes_good_bad_and_unbranded_raw_records(
    monkeypatch: pytest.MonkeyPatch, metrics: TocsinMetrics, fresh_cache: None
) -> None:
    good = classified_topic(monkeypatch)
    dlq = topic(monkeypatch, classify_mentions, "dead_letters")
    async with classify_mentions.classify_mentions.test_context() as agent:
        await agent.put(raw("Brenmoor tripled the price of Glytera"))
        await agent.put(b"{broken")
        await agent.put(b"\xff\xfe")
        await agent.put(raw("no brand in here"))
        await agent.put(raw("Valmoreau again", id=""))
    # keyed by brand for counting, classified, the author pseudonymised
    assert [(k, v.mention.brand, v.topics) for k, v in good.sent] == [
        ("brenmoor", "brenmoor", ["pricing"])
    ]
    assert good.values[0].mention.author.id != "u1"
    # where it was read on mentions.raw travels with it (counting uses it to skip re-sent copies)
    assert (good.values[0].mention.raw_partition, good.values[0].mention.raw_offset) == (0, 0)
    assert [v.reason for v in dlq.values] == ["invalid_json", "invalid_utf8", "invalid_value"]
    assert dlq.values[1].payload_encoding == "base64"
    assert dlq.values[0].payload == "{broken"
    reg = metrics.registry
    assert reg.get_sample_value("tocsin_dead_letters_total", {"reason": "invalid_json"}) == 1
    assert reg.get_sample_value("tocsin_mentions_filtered_total", {"reason": "no_brand"}) == 1
    assert reg.get_sample_value("tocsin_agent_messages_in_total", {"agent": AGENT}) == 5
    assert reg.get_sample_value("tocsin_agent_messages_out_total", {"agent": AGENT}) == 1


async def test_classify_dead_letters_mentions_dated_in_the_future(
    monkeypatch: pytest.MonkeyPatch, metrics: TocsinMetrics, fresh_cache: None
) -> None:
    """A broken source clock must not reach the counters (it would drag the watermark ahead)."""
    good = classified_topic(monkeypatch)
    dlq = topic(monkeypatch, classify_mentions, "dead_letters")
    soon = datetime.now(UTC) + timedelta(minutes=30)  # within the default hour of tolerance
    later = datetime.now(UTC) + timedelta(hours=2)
    async with classify_mentions.classify_mentions.test_context() as agent:
        for at in (soon, later):
            await agent.put(raw("Brenmoor tripled the price of Glytera", created_at=f"{at:%FT%TZ}"))
        await agent.put(raw("Brenmoor in 2100", created_at="2100-01-01T00:00:00Z"))
    assert len(good.sent) == 1
    assert [v.reason for v in dlq.values] == ["invalid_value", "invalid_value"]
    assert "past the latest accepted time" in dlq.values[0].detail


async def test_classify_filters_a_resent_id_and_passes_a_redelivered_record(
    monkeypatch: pytest.MonkeyPatch, metrics: TocsinMetrics, fresh_cache: None
) -> None:
    """A copy of an accepted id at a later offset is a duplicate; the same record read again
    (same partition and offset, after a crash) passes, for counting's raw-position check."""
    good = classified_topic(monkeypatch)
    writes: list[tuple[int | None, Any, Any]] = []

    def record(partition: int | None, key: bytes, value: bytes, *args: Any, **kwargs: Any) -> None:
        writes.append((partition, codecs.loads("json", key), codecs.loads("json", value)))

    monkeypatch.setattr(mention_ids, "send_changelog", record)
    text = "Brenmoor tripled the price of Glytera"
    async with classify_mentions.classify_mentions.test_context() as agent:
        await agent.put(raw(text, id="x:7"), key=b"x:7", partition=2)  # offset 0: new
        await agent.put(raw(text, id="x:8"), key=b"x:8", partition=2)  # offset 1: new
        await agent.put(raw(text, id="x:7"), key=b"x:7", partition=2)  # offset 2: re-sent
        agent.sent_offset = 1  # the worker restarts from its commit: offset 1 is read again
        await agent.put(raw(text, id="x:8"), key=b"x:8", partition=2)
    mentions = [v.mention for v in good.values]
    assert [m.id for m in mentions] == ["x:7", "x:8", "x:8"]
    assert [(m.raw_partition, m.raw_offset) for m in mentions] == [(2, 0), (2, 1), (2, 1)]
    # remembered on the raw partition the record was read from, once per id
    assert [(p, k, v[:2]) for p, k, v in writes] == [(2, "x:7", [2, 0]), (2, "x:8", [2, 1])]
    reg = metrics.registry
    assert reg.get_sample_value("tocsin_mentions_filtered_total", {"reason": "duplicate"}) == 1


async def test_a_rebalance_makes_ingest_reread_which_ids_to_forget(faust_app: Any) -> None:
    """While a partition was away its new owner remembered ids this worker's queue never saw; the
    revoke signal makes the next check rebuild the queue from the table, so they are forgotten in
    turn instead of outliving the bound."""
    ids = dedup.IdMemory(mention_ids, 3600, 1)
    ids.check("x:1", 0, 1, 1_795_000_000)
    mention_ids.data["x:0"] = [0, 0, 1_795_000_000]  # recovered from the other owner's writes
    await faust_app.on_partitions_revoked.send(set())
    ids.check("x:3", 0, 3, 1_795_000_000)
    assert list(mention_ids.data) == ["x:3"]


def mention(
    text: str, at: datetime = T0, brand: str = "brenmoor", mid: str = "x:1", followers: int = 10
) -> Mention:
    return Mention(
        id=mid,
        platform="x",
        text=text,
        created_at=at,
        brand=brand,
        brands=[brand],
        author=Author(id=f"a-{mid}", followers=followers),
    )


async def test_classify_batches_and_reuses_reposts(
    monkeypatch: pytest.MonkeyPatch, metrics: TocsinMetrics, fresh_cache: None
) -> None:
    out = classified_topic(monkeypatch)
    fake = KeywordClassifier()
    services.override(classifier=fake, settings=make_settings(batch_size=4, batch_within_s=0.05))
    async with classify_mentions.classify_mentions.test_context() as agent:
        for i, text in enumerate(
            [
                "Brenmoor price hike",
                "RT @x: brenmoor price hike",
                "Brenmoor fraud",
                "Brenmoor nausea",
            ]
        ):
            await agent.put(raw(text, id=f"x:{i}"), key=f"x:{i}".encode())
    got = [(v.mention.id, v.topics, v.model_version) for v in out.values]
    assert got == [
        ("x:0", ["pricing"], "fake-keywords-1"),
        ("x:1", ["pricing"], "fake-keywords-1"),
        ("x:2", ["scandal"], "fake-keywords-1"),
        ("x:3", ["adverse_event"], "fake-keywords-1"),
    ]
    assert sum(len(c) for c in fake.calls) == 3  # the repost was answered from the cache
    assert metrics.registry.get_sample_value("tocsin_model_dedup_hits_total") == 1


def classified(text: str, at: datetime, topics: list[str], mid: str) -> ClassifiedMention:
    return ClassifiedMention(
        mention=mention(text, at=at, mid=mid),
        topics=topics,
        scores={t: 0.9 for t in topics},
        stance="critical",
        lang="en",
        model_version="t",
    )


async def test_count_closes_buckets_by_event_time_with_zeros(
    monkeypatch: pytest.MonkeyPatch, metrics: TocsinMetrics
) -> None:
    out = topic(monkeypatch, counting, "buckets")
    services.override(
        settings=make_settings(
            bucket_seconds=300, allowed_lateness_s=60, topics_track=("pricing", "scandal")
        )
    )
    async with count_mentions.count_mentions.test_context() as agent:
        await agent.put(
            classified("p1", T0 + timedelta(seconds=10), ["pricing"], "m1"), key="brenmoor"
        )
        await agent.put(
            classified("p2", T0 + timedelta(seconds=20), ["pricing", "scandal"], "m2"),
            key="brenmoor",
        )
        # 5 min + 60 s lateness later: the 08:00 bucket closes, for both topics
        await agent.put(
            classified("p3", T0 + timedelta(seconds=361), ["other"], "m3"), key="brenmoor"
        )
        # a late mention for the closed bucket is counted as late, not re-opened
        await agent.put(
            classified("late", T0 + timedelta(seconds=30), ["pricing"], "m4"), key="brenmoor"
        )
        # jump 20 minutes: 08:05 .. 08:15 close, the empty ones as zeros
        await agent.put(
            classified("p5", T0 + timedelta(minutes=21), ["pricing"], "m5"), key="brenmoor"
        )
    closed = [(b.start.strftime("%H:%M"), b.topic, b.count) for b in out.values]
    assert closed[:2] == [("08:00", "pricing", 2), ("08:00", "scandal", 1)]
    assert closed[2:] == [
        ("08:05", "pricing", 0),
        ("08:05", "scandal", 0),
        ("08:10", "pricing", 0),
        ("08:10", "scandal", 0),
        ("08:15", "pricing", 0),
        ("08:15", "scandal", 0),
    ]
    assert out.values[0].authors == 2 and out.values[0].stance == {"critical": 2}
    assert metrics.registry.get_sample_value("tocsin_late_mentions_total") == 1


def for_brand(item: ClassifiedMention, brand: str) -> ClassifiedMention:
    item.mention.brand = item.mention.brands[0] = brand
    return item


async def test_count_closes_a_quiet_brands_buckets_as_its_partition_moves_on(
    monkeypatch: pytest.MonkeyPatch, metrics: TocsinMetrics
) -> None:
    """A brand nobody mentions any more still gets its buckets closed (and its alert resolved)."""
    out = topic(monkeypatch, counting, "buckets")
    services.override(  # quiet at once: the test does not wait ten minutes of wall clock
        settings=make_settings(
            bucket_seconds=300,
            allowed_lateness_s=60,
            topics_track=("pricing",),
            quiet_close_after_s=0,
            count_batch_size=1,  # the test reads what was closed between puts
        )
    )

    def chatter(minutes: range) -> list[ClassifiedMention]:
        return [
            for_brand(
                classified(f"b{m}", T0 + timedelta(minutes=m, seconds=30), ["pricing"], f"b{m}"),
                "brenmoor",
            )
            for m in minutes
        ]

    def closed(brand: str) -> list[tuple[str, int]]:
        return [(b.start.strftime("%H:%M"), b.count) for b in out.values if b.brand == brand]

    async with count_mentions.count_mentions.test_context() as agent:
        for i in (10, 20):  # valmoreau's only mentions, then silence
            item = classified(f"v{i}", T0 + timedelta(seconds=i), ["pricing"], f"v{i}")
            await agent.put(for_brand(item, "valmoreau"), key="valmoreau")
        for item in chatter(range(25)):  # brenmoor keeps talking on the same partition
            await agent.put(item, key="brenmoor")
        # partition event time 08:24:30; a quiet brand is held one bucket behind it (08:19:30),
        # and closes what that watermark closes: buckets ending by 08:18:30, i.e. up to 08:10
        assert closed("valmoreau") == [("08:00", 2), ("08:05", 0), ("08:10", 0)]
        assert closed("brenmoor")[-1] == ("08:15", 5)
        # a restarted worker has no partition clock: it finds valmoreau through the table
        counting.partition_clocks().clear()
        for item in chatter(range(25, 40)):
            await agent.put(item, key="brenmoor")
    assert closed("valmoreau")[3:] == [("08:15", 0), ("08:20", 0), ("08:25", 0)]
    assert metrics.registry.get_sample_value("tocsin_late_mentions_total") == 0


async def test_count_does_not_sweep_a_brand_that_trails_in_a_replay(
    monkeypatch: pytest.MonkeyPatch, metrics: TocsinMetrics
) -> None:
    """A backfill: one brand's mentions an hour behind another's, both arriving every second."""
    out = topic(monkeypatch, counting, "buckets")
    services.override(
        settings=make_settings(bucket_seconds=300, allowed_lateness_s=60, topics_track=("pricing",))
    )
    async with count_mentions.count_mentions.test_context() as agent:
        for m in range(60):
            ahead = classified(f"b{m}", T0 + timedelta(minutes=60 + m), ["pricing"], f"b{m}")
            await agent.put(for_brand(ahead, "brenmoor"), key="brenmoor")
            behind = classified(f"v{m}", T0 + timedelta(minutes=m), ["pricing"], f"v{m}")
            await agent.put(for_brand(behind, "valmoreau"), key="valmoreau")
    counts = [b.count for b in out.values if b.brand == "valmoreau"]
    assert counts == [5] * 11  # every trailing mention counted: 08:00 .. 08:50 closed on its own
    assert metrics.registry.get_sample_value("tocsin_late_mentions_total") == 0


async def test_count_writes_each_brands_state_once_per_batch_to_its_own_partition(
    monkeypatch: pytest.MonkeyPatch, metrics: TocsinMetrics
) -> None:
    """Counting a batch re-writes a brand's whole state once, not once per mention, and a batch
    mixing partitions writes each state to its own partition (not the last event's)."""
    out = topic(monkeypatch, counting, "buckets")
    writes: list[tuple[int | None, str, int]] = []

    def record(partition: int | None, key: Any, value: Any, *args: Any, **kwargs: Any) -> None:
        writes.append((partition, key, value["open"][str(int(T0.timestamp()))]["pricing"]["n"]))

    monkeypatch.setattr(open_buckets, "send_changelog", record)
    services.override(
        settings=make_settings(
            bucket_seconds=300,
            allowed_lateness_s=60,
            topics_track=("pricing",),
            count_batch_size=100,
            count_within_s=0.2,
        )
    )
    async with count_mentions.count_mentions.test_context() as agent:
        for i in range(6):  # interleaved: brenmoor on partition 1, valmoreau on partition 3
            brand, partition = ("brenmoor", 1) if i % 2 == 0 else ("valmoreau", 3)
            item = classified(f"t{i}", T0 + timedelta(seconds=i), ["pricing"], f"w{i}")
            await agent.put(for_brand(item, brand), key=brand, partition=partition)
        for _ in range(50):  # the batch closes after count_within_s
            if writes:
                break
            await asyncio.sleep(0.05)
    assert sorted(writes) == [(1, "brenmoor", 3), (3, "valmoreau", 3)]
    assert open_buckets.data["valmoreau"]["p"] == 3
    assert out.values == []  # nothing closed yet: the state, not a bucket, holds the counts


def at_raw(item: ClassifiedMention, partition: int, offset: int) -> ClassifiedMention:
    item.mention.raw_partition, item.mention.raw_offset = partition, offset
    item.mention.brand = item.mention.brands[0] = "ostrel"  # the app's table outlives a test
    return item


async def test_count_skips_copies_resent_after_a_crash(
    monkeypatch: pytest.MonkeyPatch, metrics: TocsinMetrics
) -> None:
    """A worker killed before committing re-sends mentions it had passed on: count them once."""
    out = topic(monkeypatch, counting, "buckets")
    services.override(
        settings=make_settings(bucket_seconds=300, allowed_lateness_s=0, topics_track=("pricing",))
    )
    first = [
        at_raw(classified(f"p{i}", T0 + timedelta(seconds=i), ["pricing"], f"m{i}"), 0, i)
        for i in range(5)
    ]
    async with count_mentions.count_mentions.test_context() as agent:
        for item in first:
            await agent.put(item, key="ostrel")
        # the restarted worker re-sends raw 0/2..4 (ingest and classify had not committed)
        for item in first[2:]:
            await agent.put(item, key="ostrel")
        # raw partition 1 has its own positions; a mention with no raw position always counts
        await agent.put(
            at_raw(classified("q", T0 + timedelta(seconds=9), ["pricing"], "q1"), 1, 3),
            key="ostrel",
        )
        direct = at_raw(classified("direct", T0 + timedelta(seconds=10), ["pricing"], "d1"), 0, 0)
        direct.mention.raw_partition = direct.mention.raw_offset = None
        await agent.put(direct, key="ostrel")
        # new input after the copies on both raw partitions: counted, and it closes 08:00
        await agent.put(
            at_raw(classified("next", T0 + timedelta(seconds=301), ["pricing"], "m5"), 0, 5),
            key="ostrel",
        )
        await agent.put(
            at_raw(classified("next1", T0 + timedelta(seconds=302), ["pricing"], "q2"), 1, 4),
            key="ostrel",
        )
    assert [(b.start.strftime("%H:%M"), b.count) for b in out.values] == [("08:00", 7)]
    assert metrics.registry.get_sample_value("tocsin_recounts_skipped_total") == 3


async def test_count_stage_pages_early_on_a_surge_and_resolves_once(
    monkeypatch: pytest.MonkeyPatch, metrics: TocsinMetrics
) -> None:
    """Detection runs in the counting stage: two quiet days, then 15 mentions a minute for ten
    minutes pages while the bucket fills (early, with the tipping mention), once, and resolves."""
    out_alerts = topic(monkeypatch, judge, "alerts")
    topic(monkeypatch, counting, "buckets")
    services.override(settings=make_settings(bucket_seconds=300, topics_track=("pricing",)))
    start = datetime(2026, 11, 20, 0, 0, tzinfo=UTC)
    times = [start + timedelta(minutes=5 * i, seconds=37) for i in range(2 * 288)]
    surge_at = start + timedelta(days=2, hours=14, minutes=2)
    times += [surge_at + timedelta(seconds=4 * k) for k in range(150)]
    times += [surge_at + timedelta(minutes=30 + 5 * i) for i in range(40)]
    async with count_mentions.count_mentions.test_context() as agent:
        for i, at in enumerate(times):
            item = classified(f"p{i}", at, ["pricing"], f"d{i}")
            item.mention.brand = item.mention.brands[0] = "quillon"
            await agent.put(item, key="quillon")
    steps = [(a.state, a.dedup_key, a.early) for a in out_alerts.values if isinstance(a, Alert)]
    assert [s for s, _, _ in steps] == ["firing", "resolved"], steps
    assert steps[0][1] == steps[1][1] == "quillon:pricing:20261122T1400Z"
    firing: Alert = out_alerts.values[0]
    assert firing.early and firing.fired_at is not None and firing.tipping_mention is not None
    assert firing.fired_at - surge_at <= timedelta(seconds=90)
    assert firing.why is not None and firing.why["language"] == "en"
    assert metrics.registry.get_sample_value("tocsin_early_pages_total") == 1


def alert(state: str) -> Alert:
    return Alert(
        dedup_key="brenmoor:pricing:20261121T1400Z",
        state=state,
        severity="critical",
        brand="brenmoor",
        topic="pricing",
        started_at=T0,
        updated_at=T0,
        observed=40,
        expected=3,
        score=0.999,
        summary="s",
    )


async def test_dispatch_delivers_each_step_once(
    monkeypatch: pytest.MonkeyPatch,
    metrics: TocsinMetrics,
    recording_receiver: Callable[..., Any],
) -> None:
    from pipeline.errors import RetryableDelivery

    receipts = topic(monkeypatch, dispatch_plan, "deliveries")
    receiver = recording_receiver(errors=[RetryableDelivery("flaky", status_code=503)])
    services.override(
        receivers=[receiver],
        settings=make_settings(delivery_backoff_s=0.01, delivery_backoff_max_s=0.02),
    )
    async with dispatch_alerts.dispatch_alerts.test_context() as agent:
        await agent.put(alert("firing"), key="k")
        await agent.put(alert("firing"), key="k")  # redelivered after a restart: no second page
        await agent.put(alert("resolved"), key="k")
    assert receiver.sent == [
        ("brenmoor:pricing:20261121T1400Z", "firing"),
        ("brenmoor:pricing:20261121T1400Z", "resolved"),
    ]
    assert [(r.attempt, r.outcome) for r in receipts.values] == [
        (1, "retried"),
        (2, "delivered"),
        (1, "delivered"),
    ]
    reg = metrics.registry
    assert (
        reg.get_sample_value(
            "tocsin_deliveries_total", {"receiver": "recording", "outcome": "skipped_duplicate"}
        )
        == 1
    )


def test_routing_picks_receivers_and_keeps_the_console(
    recording_receiver: Callable[..., Any],
) -> None:
    from pipeline.oncall.routing import parse_routing

    tree = parse_routing(
        "route:\n"
        "  receiver: slack\n"
        "  routes:\n"
        "    - match: {severity: critical}\n"
        "      receivers: [pagerduty, slack]\n",
        known_receivers={"slack", "pagerduty", "console"},
    )
    receivers: list[Receiver] = [recording_receiver(n) for n in ("console", "slack", "pagerduty")]
    critical = alert("firing")
    names = [r.name for r in dispatch_plan.select_receivers(critical, receivers, tree)]
    assert names == ["console", "slack", "pagerduty"]
    info = critical.derive(severity="info")
    names = [r.name for r in dispatch_plan.select_receivers(info, receivers, tree)]
    assert names == ["console", "slack"]
    assert dispatch_plan.select_receivers(info, receivers, None) == receivers


async def test_predictions_chunk_fresh_texts_and_keep_order(
    monkeypatch: pytest.MonkeyPatch, metrics: TocsinMetrics
) -> None:
    """Fresh texts reach the model in chunks; reposts and in-batch duplicates never do; the
    predictions come back in input order."""
    from models.textcache import LRUCache

    monkeypatch.setattr(classify_mentions, "_cache", LRUCache(maxsize=100))
    fake = KeywordClassifier()
    services.override(classifier=fake)
    texts = [f"Brenmoor price {i}" for i in range(10)] + ["Brenmoor fraud", "brenmoor PRICE 3"]
    got = [p.topics async for p in classify_mentions.batch_classifier().predictions(texts, chunk=4)]
    assert got == [("pricing",)] * 10 + [("scandal",), ("pricing",)]
    assert [len(c) for c in fake.calls] == [4, 4, 3]  # 11 distinct texts, chunks of 4
    again = await classify_mentions.batch_classifier().predict(
        ["RT @x: Brenmoor fraud", "Brenmoor price 0"]
    )
    assert [p.topics for p in again] == [("scandal",), ("pricing",)]
    assert len(fake.calls) == 3  # both answered from the cache
    assert metrics.registry.get_sample_value("tocsin_model_batch_size_count") == 3


async def test_predictions_send_a_group_while_the_model_runs_the_next(
    monkeypatch: pytest.MonkeyPatch, metrics: TocsinMetrics
) -> None:
    """With ``group``, the first group's predictions come out while a later group is still in
    the model: the event loop sends records instead of waiting for the whole take batch."""
    import threading

    monkeypatch.setattr(classify_mentions, "_cache", LRUCache(maxsize=100))
    release = threading.Event()

    class Gated(KeywordClassifier):
        def classify(self, texts: Sequence[str]) -> list[Prediction]:
            if any("fraud" in t for t in texts):  # the second group's texts wait for the test
                assert release.wait(10)
            return super().classify(texts)

    fake = Gated()
    services.override(classifier=fake)
    first = [f"Brenmoor price hike {'x' * (4 - i)}" for i in range(4)]  # longest first
    second = [f"Brenmoor fraud {i}" for i in range(4)]
    stream = classify_mentions.batch_classifier().predictions(first + second, chunk=2, group=4)
    early = [await anext(stream) for _ in first]
    assert [p.topics for p in early] == [("pricing",)] * 4 and not release.is_set()
    release.set()
    late = [p async for p in stream]
    assert [p.topics for p in late] == [("scandal",)] * 4
    # each group length-sorted on its own and cut into chunks of 2, the shortest two together
    pairs = sorted(tuple(c) for c in fake.calls[:2])
    assert pairs == sorted([(first[3], first[2]), (first[1], first[0])])


def test_the_repost_cache_and_the_encoders_tails_are_bounded_by_the_settings(
    monkeypatch: pytest.MonkeyPatch, fresh_cache: None
) -> None:
    services.override(settings=make_settings(repost_cache_entries=3, repost_cache_mb=0.5))
    monkeypatch.setattr(classify_mentions, "encoder", ClassifiedEncoder(maxsize=100))
    for i in range(10):
        classify_mentions._cache.put(f"text {i}", Prediction(("other",), {}, "neutral", {}, "en"))
    classify_mentions.batch_classifier()
    assert len(classify_mentions._cache) == 3
    assert classify_mentions._cache.maxbytes == 2**19
    assert classify_mentions.encoder.maxsize == 3
