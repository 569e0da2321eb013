"""The console store on a real PostgreSQL server: the SQLite store's behaviours, and its own.

The server is Debian's, started once per session on 127.0.0.1 (``postgres_server``), with a fresh
database per test. The backend-free store tests of ``tests/unit/console/test_console_store.py``
run here again against PostgreSQL (imported below, with this module's ``store`` fixture); the
tests after them cover what only PostgreSQL has: the one-writer lock, its migrations under a
lock, the DSN kept out of messages, and the feed on the real broker writing into it with its
metrics.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from datetime import timedelta

import psycopg
import pytest
from kafka import KafkaProducer
from prometheus_client import CollectorRegistry

from pipeline.console.feed import ConsoleFeed
from pipeline.console.pgstore import PgConsoleStore, migrate, schema_version
from pipeline.console.rows import FED_TOPICS, InboxFilter, MentionQuery, StoreError
from pipeline.console.schema import PG_LATEST, PG_MIGRATIONS, Migration
from pipeline.metrics import TocsinMetrics
from pipeline.ops.topics import ensure_topics
from pipeline.topology import TopicSpec
from tests.kafka_fixture import FreshNames, KafkaBroker
from tests.unit.console.records import T0, alert, bucket, feed, mention, signal
from tests.unit.console.test_console_store import (  # the same behaviours, on PostgreSQL
    _mentions,
    test_a_malformed_record_is_skipped_and_counted_not_fatal,
    test_a_reclassified_mention_is_found_by_its_new_topic_only,
    test_an_older_step_redelivered_late_does_not_undo_a_newer_one,
    test_inbox_is_newest_first_and_filters_exactly,
    test_mentions_of_one_millisecond_are_all_kept_newest_first,
    test_offsets_advance_with_the_rows_and_never_go_back,
    test_search_by_text_brand_topic_platform_language_and_time,
    test_search_input_is_searched_for_never_interpreted,
    test_series_joins_the_band_and_the_bucket,
    test_the_inbox_version_moves_with_every_alert_record_whatever_its_time,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

__all__ = [
    "test_a_malformed_record_is_skipped_and_counted_not_fatal",
    "test_a_reclassified_mention_is_found_by_its_new_topic_only",
    "test_an_older_step_redelivered_late_does_not_undo_a_newer_one",
    "test_inbox_is_newest_first_and_filters_exactly",
    "test_mentions_of_one_millisecond_are_all_kept_newest_first",
    "test_offsets_advance_with_the_rows_and_never_go_back",
    "test_search_by_text_brand_topic_platform_language_and_time",
    "test_search_input_is_searched_for_never_interpreted",
    "test_series_joins_the_band_and_the_bucket",
    "test_the_inbox_version_moves_with_every_alert_record_whatever_its_time",
]
TABLES = ("alerts", "alert_steps", "mentions", "signals", "buckets", "feed_offsets")


@pytest.fixture()
def store(postgres_dsn: str) -> Iterator[PgConsoleStore]:
    s = PgConsoleStore.open(postgres_dsn)
    assert s.claim_writer()
    try:
        yield s
    finally:
        s.close()


def _dump(dsn: str) -> dict[str, list[tuple[object, ...]]]:
    with psycopg.connect(dsn) as conn:
        return {
            t: sorted(conn.execute(f"SELECT * FROM {t}").fetchall(), key=repr)  # type: ignore[call-overload]
            for t in TABLES
        }


def test_redelivered_batch_leaves_the_same_rows(store: PgConsoleStore, postgres_dsn: str) -> None:
    batch = [
        *feed("alerts", [alert(), alert(state="acknowledged", updated=T0 + timedelta(minutes=9))]),
        *feed("mentions.classified", [mention("x:1", "Zentavo price up 40%")]),
        *feed("signals", [signal(T0, 42)]),
        *feed("mentions.buckets", [bucket(T0, 42)]),
    ]
    first = store.write(batch)
    before = _dump(postgres_dsn)
    again = store.write(batch)
    assert (first.stored, first.rejected) == (5, 0)
    assert first.stored_by == {"alert": 2, "mention": 1, "signal": 1, "bucket": 1}
    assert again.stored == 5
    assert _dump(postgres_dsn) == before
    assert [a["state"] for a in store.inbox(InboxFilter())] == ["acknowledged"]
    assert len(store.search(MentionQuery(text="zentavo"))) == 1


@pytest.mark.parametrize(
    "attack",
    [
        "x'; DROP TABLE mentions; --",
        "zentavo' OR '1'='1",
        "zentavo | glytera",
        "zentavo & !price",
        "zentavo:*",
        "'); DELETE FROM alerts; --",
        "\\x00\ud800'",
    ],
)
def test_sql_and_tsquery_injection_in_every_search_field_is_searched_for(
    store: PgConsoleStore, postgres_dsn: str, attack: str
) -> None:
    _mentions(store)
    store.write(feed("alerts", [alert()], first=10))
    before = _dump(postgres_dsn)
    for query in (
        MentionQuery(text=attack, brand=attack),
        MentionQuery(text=attack, topic=attack),
        MentionQuery(text=attack, platform=attack),
        MentionQuery(text=attack, lang=attack),
    ):
        assert store.search(query) == []
    assert store.inbox(InboxFilter(brand=attack, topic=attack, state=attack)) == []
    assert store.alert(attack) is None
    assert store.mentions_for(attack, attack, 0, 2e9) == []
    # Operators are read as words: "zentavo | glytera" needs both words, as typed.
    found = {m["id"] for m in store.search(MentionQuery(text=attack))}
    assert found <= {"x:1", "x:2", "x:5"}
    assert _dump(postgres_dsn) == before


def test_accents_are_folded_on_both_sides(store: PgConsoleStore) -> None:
    store.write(feed("mentions.classified", [mention("x:1", "Le prix élevé du Zentavo")]))
    assert [m["id"] for m in store.search(MentionQuery(text="ELEVE"))] == ["x:1"]
    assert [m["id"] for m in store.search(MentionQuery(text="élevé zentavo"))] == ["x:1"]
    assert store.search(MentionQuery(text="élevé glytera")) == []


def test_retention_deletes_old_mentions_and_readings(store: PgConsoleStore) -> None:
    _mentions(store)
    store.write(feed("signals", [signal(T0 - timedelta(days=9), 1), signal(T0, 2)]))
    gone = store.purge(mentions_before=(T0 + timedelta(minutes=90)).timestamp(), batch=1)
    assert gone == 3
    assert [m["id"] for m in store.search(MentionQuery(text="zentavo"))] == ["x:5"]
    assert store.counts()["mentions"] == 2
    assert store.counts()["signals"] == 0


def test_one_writer_at_a_time_and_another_takes_over(postgres_dsn: str) -> None:
    first = PgConsoleStore.open(postgres_dsn)
    second = PgConsoleStore.open(postgres_dsn)
    try:
        assert first.claim_writer()
        assert not second.claim_writer()
        with pytest.raises(StoreError, match="writer lock"):
            second.write(feed("alerts", [alert()]))
        first.write(feed("alerts", [alert()]))
        assert [a["dedup_key"] for a in second.inbox(InboxFilter())] == [alert()["dedup_key"]]
        first.close()  # the writer's worker stops: its session, and the lock, go with it
        deadline = time.monotonic() + 10  # the server ends the session just after the close
        while not second.claim_writer():
            assert time.monotonic() < deadline, "the lock was not released"
            time.sleep(0.1)
        second.write(feed("alerts", [alert("b", started=T0 + timedelta(hours=1))], first=1))
        assert second.offsets() == {("alerts", 0): 2}
    finally:
        first.close()
        second.close()


def test_migrations_run_once_and_a_newer_store_is_refused(postgres_dsn: str) -> None:
    PgConsoleStore.open(postgres_dsn).close()
    PgConsoleStore.open(postgres_dsn).close()  # again: nothing to apply
    with psycopg.connect(postgres_dsn, autocommit=True, row_factory=psycopg.rows.dict_row) as conn:
        assert schema_version(conn) == PG_LATEST
        assert migrate(conn) == []
        conn.execute("INSERT INTO schema_migrations VALUES (99, 'future', 0)")
    with pytest.raises(StoreError, match="newer"):
        PgConsoleStore.open(postgres_dsn)


def test_a_failing_migration_leaves_nothing_half_applied(postgres_dsn: str) -> None:
    broken = (*PG_MIGRATIONS, Migration(2, "broken", ("CREATE TABLE extra (a int)", "NOT SQL")))
    with pytest.raises(StoreError):
        PgConsoleStore.open(postgres_dsn, migrations=broken)
    with psycopg.connect(postgres_dsn, autocommit=True, row_factory=psycopg.rows.dict_row) as conn:
        assert schema_version(conn) == PG_LATEST
        assert conn.execute("SELECT to_regclass('extra') AS t").fetchone() == {"t": None}


def test_the_dsn_and_its_password_stay_out_of_messages(postgres_server: object) -> None:
    from pipeline.ops.postgres import Postgres

    assert isinstance(postgres_server, Postgres)
    wrong = postgres_server.dsn().replace(postgres_server.password, "not-the-password-4711")
    with pytest.raises(StoreError) as refused:
        PgConsoleStore.open(wrong)
    assert "4711" not in str(refused.value)
    assert refused.value.__cause__ is None and refused.value.__suppress_context__
    store = PgConsoleStore.open(postgres_server.dsn())
    try:
        assert postgres_server.password not in repr(store)
    finally:
        store.close()


async def test_feed_writes_into_postgres_with_its_metrics(
    kafka_broker: KafkaBroker, fresh_topics: FreshNames, postgres_dsn: str
) -> None:
    names = {fresh_topics.topic(t): t for t in FED_TOPICS}
    ensure_topics(kafka_broker.bootstrap, [TopicSpec(n, partitions=2) for n in names], timeout_s=30)
    producer = KafkaProducer(bootstrap_servers=kafka_broker.bootstrap, acks="all")
    try:
        for i in range(4):
            value = alert(f"valmoreau:pricing:{i}", started=T0 + timedelta(minutes=i))
            producer.send(fresh_topics.topic("alerts"), json.dumps(value).encode(), partition=i % 2)
        producer.send(fresh_topics.topic("alerts"), b'{"dedup_key": 1}', partition=0)
        producer.send(
            fresh_topics.topic("mentions.classified"),
            json.dumps(mention("x:1", "Zentavo price up")).encode(),
            partition=1,
        )
        producer.flush(timeout=30)
    finally:
        producer.close(timeout=10)
    metrics = TocsinMetrics(CollectorRegistry())
    store = PgConsoleStore.open(postgres_dsn)
    feed_ = ConsoleFeed(store, [kafka_broker.bootstrap], topics=names, metrics=metrics)
    task = asyncio.create_task(feed_.run())
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 30
        while feed_.stats.stored + feed_.stats.rejected < 6:
            assert not task.done(), task.exception()
            assert loop.time() < deadline, f"feed stats: {feed_.stats}"
            await asyncio.sleep(0.2)
        await asyncio.sleep(0.6)  # one more loop turn, so the end offsets are measured
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    def sample(name: str, **labels: str) -> float | None:
        return metrics.registry.get_sample_value(name, labels)

    assert sample("tocsin_console_records_total", kind="alert", outcome="stored") == 4
    assert sample("tocsin_console_records_total", kind="alert", outcome="rejected") == 1
    assert sample("tocsin_console_records_total", kind="mention", outcome="stored") == 1
    assert sample("tocsin_console_store_writer") == 1
    assert sample("tocsin_console_feed_behind_records") == 0
    lag = sample("tocsin_console_store_lag_seconds")
    assert lag is not None and 0 < lag < 60
    assert len(store.inbox(InboxFilter())) == 4
    assert await feed_.purge() == 0  # nothing is 30 days old
    store.close()


def test_search_finds_rare_words_beyond_the_newest_window_newest_first(
    store: PgConsoleStore,
) -> None:
    """The first step tests only the newest SEARCH_WINDOW mentions; words found only further
    back come from the second step, in the same order."""
    from pipeline.console.pgstore import SEARCH_WINDOW

    n = SEARCH_WINDOW + 200
    batch = [
        mention(
            f"m:{i}",
            ("zentavo recall" if i < 10 else "zentavo price") + f" {i}",
            at=T0 + timedelta(seconds=i),
        )
        for i in range(n)
    ]
    store.write(feed("mentions.classified", batch))
    rare = [m["id"] for m in store.search(MentionQuery(text="recall", limit=50))]
    assert rare == [f"m:{i}" for i in range(9, -1, -1)]
    common = [m["id"] for m in store.search(MentionQuery(text="zentavo", limit=50))]
    assert common == [f"m:{i}" for i in range(n - 1, n - 51, -1)]
    old = store.search(MentionQuery(text="price", until=(T0 + timedelta(seconds=20)).timestamp()))
    assert [m["id"] for m in old] == [f"m:{i}" for i in range(19, 9, -1)]


def test_search_widens_the_window_for_sparse_words_in_order(store: PgConsoleStore) -> None:
    """A word in one mention of 150: a third of a page among the newest window, a page in the
    wider one; the page is the 50 newest, as the full-text path would give."""
    n = 12_000
    batch = [
        mention(f"m:{i}", "zentavo " + ("shortage" if i % 150 == 0 else "price"), at=T0)
        for i in range(n)
    ]
    for i, record in enumerate(batch):
        record["mention"]["created_at"] = (T0 + timedelta(seconds=i)).isoformat()
    store.write(feed("mentions.classified", batch))
    found = [m["id"] for m in store.search(MentionQuery(text="shortage", limit=50))]
    assert found == [f"m:{i}" for i in range(n - 1, -1, -1) if i % 150 == 0][:50]
