"""The console store: idempotent upserts, migrations, retention, and search (injection included)."""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest

from pipeline.console.rows import Store
from pipeline.console.schema import LATEST, MIGRATIONS
from pipeline.console.store import (
    ConsoleStore,
    InboxFilter,
    MentionQuery,
    StoreError,
    fts_query,
    migrate,
    schema_version,
)
from tests.unit.console.records import T0, alert, bucket, feed, mention, signal


@pytest.fixture()
def store(tmp_path: Path) -> ConsoleStore:
    return ConsoleStore.open(tmp_path / "console.sqlite3")


def _dump(store: ConsoleStore) -> dict[str, list[tuple[object, ...]]]:
    conn = sqlite3.connect(store.path)
    try:
        return {
            t: sorted(conn.execute(f"SELECT * FROM {t}").fetchall(), key=repr)
            for t in ("alerts", "alert_steps", "mentions", "signals", "buckets", "feed_offsets")
        }
    finally:
        conn.close()


def test_redelivered_batch_leaves_the_same_rows(store: ConsoleStore) -> None:
    batch = [
        *feed("alerts", [alert(), alert(state="acknowledged", updated=T0 + timedelta(minutes=9))]),
        *feed("mentions.classified", [mention("x:1", "Zentavo price up 40%")]),
        *feed("signals", [signal(T0, 42)]),
        *feed("mentions.buckets", [bucket(T0, 42)]),
    ]
    first = store.write(batch)
    before = _dump(store)
    again = store.write(batch)
    assert (first.stored, first.rejected) == (5, 0)
    assert again.stored == 5
    assert _dump(store) == before
    assert [a["state"] for a in store.inbox(InboxFilter())] == ["acknowledged"]
    assert len(store.search(MentionQuery(text="zentavo"))) == 1


def test_an_older_step_redelivered_late_does_not_undo_a_newer_one(store: ConsoleStore) -> None:
    store.write(feed("alerts", [alert(state="resolved", updated=T0 + timedelta(minutes=30))]))
    store.write(feed("alerts", [alert(state="firing")], first=5))
    found = store.alert("valmoreau:pricing:20261121T1400Z")
    assert found is not None
    assert found["state"] == "resolved"
    assert [s["state"] for s in found["steps"]] == ["firing", "resolved"]


def test_offsets_advance_with_the_rows_and_never_go_back(store: ConsoleStore) -> None:
    store.write(feed("alerts", [alert()], partition=2, first=10))
    store.write(feed("alerts", [alert()], partition=2, first=3))
    assert store.offsets() == {("alerts", 2): 11}


def test_a_malformed_record_is_skipped_and_counted_not_fatal(store: ConsoleStore) -> None:
    bad = [{"dedup_key": "k"}, {**alert(), "observed": "lots"}, {**alert(), "started_at": "soon"}]
    written = store.write(feed("alerts", [*bad, alert()]))
    assert (written.stored, written.rejected) == (1, 3)
    assert store.offsets() == {("alerts", 0): 4}


def test_inbox_is_newest_first_and_filters_exactly(store: ConsoleStore) -> None:
    store.write(
        feed(
            "alerts",
            [
                alert("a", started=T0, topic="pricing"),
                alert("b", started=T0 + timedelta(hours=1), topic="boycott", severity="warning"),
                alert("c", started=T0 + timedelta(hours=2), brand="brenmoor", state="resolved"),
            ],
        )
    )
    assert [a["dedup_key"] for a in store.inbox(InboxFilter())] == ["c", "b", "a"]
    assert [a["dedup_key"] for a in store.inbox(InboxFilter(brand="valmoreau"))] == ["b", "a"]
    assert [a["dedup_key"] for a in store.inbox(InboxFilter(severity="warning"))] == ["b"]
    assert [a["dedup_key"] for a in store.inbox(InboxFilter(state="firing", topic="pricing"))] == [
        "a"
    ]
    assert store.inbox(InboxFilter(brand="' OR 1=1 --")) == []
    assert store.inbox(InboxFilter(brand="\ud800\x00")) == []
    assert store.alert("\ud800") is None


def test_series_joins_the_band_and_the_bucket(store: ConsoleStore) -> None:
    starts = [T0 + timedelta(minutes=5 * i) for i in range(4)]
    store.write(feed("signals", [signal(s, float(i * 10)) for i, s in enumerate(starts)]))
    store.write(feed("mentions.buckets", [bucket(starts[3], 30)]))
    rows = store.series("valmoreau", "pricing", starts[1].timestamp(), starts[3].timestamp() + 1)
    assert [r["observed"] for r in rows] == [10.0, 20.0, 30.0]
    assert rows[-1]["upper"] == 7.0
    assert rows[-1]["stance"] == {"critical": 30, "neutral": 0, "supportive": 0}
    assert rows[0]["stance"] == {}


def _mentions(store: Store) -> None:
    store.write(
        feed(
            "mentions.classified",
            [
                mention("x:1", "Zentavo price up 40%?!", at=T0),
                mention("x:2", "Le prix du Zentavo explose", lang="fr", at=T0 + timedelta(hours=1)),
                mention("r:3", "Boycott Valmoreau now", topics=("boycott",), platform="reddit"),
                mention(
                    "x:4", "Glytera price is fine", brand="brenmoor", at=T0 + timedelta(hours=2)
                ),
                mention(
                    "x:5",
                    "adverse reaction to zentavo",
                    topics=("adverse_event", "pricing"),
                    at=T0 + timedelta(hours=3),
                ),
            ],
        )
    )


def test_search_by_text_brand_topic_platform_language_and_time(store: ConsoleStore) -> None:
    _mentions(store)

    def ids(**kw: object) -> list[str]:
        return [m["id"] for m in store.search(MentionQuery(**kw))]  # type: ignore[arg-type]

    assert ids(text="zentavo") == ["x:5", "x:2", "x:1"]
    assert ids(text="PRICE") == ["x:4", "x:1"]
    assert ids(text="price", brand="valmoreau") == ["x:1"]
    assert ids(topic="boycott") == ["r:3"]
    assert ids(topic="adverse_event") == ["x:5"]
    assert ids(platform="reddit") == ["r:3"]
    assert ids(lang="fr") == ["x:2"]
    assert ids(text="zentavo", since=(T0 + timedelta(minutes=30)).timestamp()) == ["x:5", "x:2"]
    assert ids(until=(T0 + timedelta(minutes=30)).timestamp()) in (["x:1", "r:3"], ["r:3", "x:1"])
    assert ids(brand="brenmoor", limit=10) == ["x:4"]


@pytest.mark.parametrize(
    "attack",
    [
        "x'; DROP TABLE mentions; --",
        '" OR 1=1 --',
        "zentavo OR glytera",
        "text : price",
        "NEAR(zentavo price)",
        "*",
        '"unbalanced',
        "\x00\ud800",
    ],
)
def test_search_input_is_searched_for_never_interpreted(store: ConsoleStore, attack: str) -> None:
    _mentions(store)
    found = store.search(MentionQuery(text=attack, brand=attack, platform=attack))
    assert found == []
    assert store.search(MentionQuery(text=attack, topic=attack)) == []
    assert store.counts()["mentions"] == 5
    assert len(store.search(MentionQuery(text="zentavo"))) == 3


def test_fts_query_quotes_every_term() -> None:
    assert fts_query('zen" OR x', {"brand": 'a"b', "lang": None}) == (
        '"zen" AND "OR" AND "x" AND brand : "a""b"'
    )


def test_retention_deletes_old_mentions_from_the_table_and_the_index(store: ConsoleStore) -> None:
    _mentions(store)
    store.write(feed("signals", [signal(T0 - timedelta(days=9), 1), signal(T0, 2)]))
    gone = store.purge(mentions_before=(T0 + timedelta(minutes=90)).timestamp(), batch=1)
    assert gone == 3
    assert [m["id"] for m in store.search(MentionQuery(text="zentavo"))] == ["x:5"]
    assert store.counts()["mentions"] == 2
    assert store.counts()["signals"] == 0
    conn = sqlite3.connect(store.path)
    try:
        conn.execute("INSERT INTO mentions_fts (mentions_fts) VALUES ('integrity-check')")
    finally:
        conn.close()


def test_migrations_run_once_in_order_and_index_existing_rows(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    old = ConsoleStore.open(path, migrations=MIGRATIONS[:1])
    old.write(feed("mentions.classified", [mention("x:1", "Zentavo price up")]))
    old.close()

    store = ConsoleStore.open(path)
    assert [m["id"] for m in store.search(MentionQuery(text="zentavo"))] == ["x:1"]
    conn = sqlite3.connect(path)
    try:
        assert schema_version(conn) == LATEST
        assert migrate(conn) == []
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        conn.close()


def test_a_store_newer_than_the_code_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "new.sqlite3"
    ConsoleStore.open(path).close()
    conn = sqlite3.connect(path)
    with conn:
        conn.execute("INSERT INTO schema_migrations VALUES (99, 'future', 0)")
    conn.close()
    with pytest.raises(StoreError, match="newer"):
        ConsoleStore.open(path)


def test_a_failing_migration_leaves_nothing_half_applied(tmp_path: Path) -> None:
    from pipeline.console.schema import Migration

    broken = (*MIGRATIONS, Migration(3, "broken", ("CREATE TABLE extra (a)", "NOT SQL")))
    path = tmp_path / "s.sqlite3"
    with pytest.raises(StoreError):
        ConsoleStore.open(path, migrations=broken)
    conn = sqlite3.connect(path)
    try:
        assert schema_version(conn) == LATEST
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
        assert "extra" not in tables
    finally:
        conn.close()


def test_mentions_of_one_millisecond_are_all_kept_newest_first(store: ConsoleStore) -> None:
    same = [mention(f"x:{i}", f"zentavo post {i}") for i in range(300)]
    later = mention("x:late", "zentavo later", at=T0 + timedelta(milliseconds=1))
    store.write(feed("mentions.classified", [*same, later]))
    assert store.counts()["mentions"] == 301
    found = store.search(MentionQuery(text="zentavo", limit=500))
    assert found[0]["id"] == "x:late"
    assert sorted(m["id"] for m in found[1:]) == sorted(m["mention"]["id"] for m in same)


def test_a_reclassified_mention_is_found_by_its_new_topic_only(store: ConsoleStore) -> None:
    store.write(feed("mentions.classified", [mention("x:1", "Zentavo price up")]))
    store.write(
        feed("mentions.classified", [mention("x:1", "Zentavo price up", topics=("boycott",))])
    )
    assert store.search(MentionQuery(topic="pricing")) == []
    assert [m["id"] for m in store.search(MentionQuery(topic="boycott"))] == ["x:1"]
    assert store.counts()["mentions"] == 1


def test_the_inbox_version_moves_with_every_alert_record_whatever_its_time(
    store: ConsoleStore,
) -> None:
    assert store.alerts_version() == 0
    store.write(feed("alerts", [alert("a", state="acknowledged", updated=T0 + timedelta(days=9))]))
    first = store.alerts_version()
    store.write(feed("alerts", [alert("b", started=T0 - timedelta(days=1))], partition=1))
    assert store.alerts_version() > first  # an older event time still shows as a change
    store.write(feed("signals", [signal(T0, 1)]))
    assert store.alerts_version() == first + 1


def test_every_fed_topic_is_a_kind_the_metrics_know() -> None:
    from pipeline.console.rows import FED_TOPICS, KINDS
    from pipeline.metrics import CONSOLE_KINDS

    assert sorted(KINDS[t] for t in FED_TOPICS) == sorted(CONSOLE_KINDS)


def test_a_batch_counts_what_it_stored_and_skipped_by_kind(store: ConsoleStore) -> None:
    written = store.write(
        [
            *feed("alerts", [alert(), {"dedup_key": "k"}]),
            *feed("mentions.classified", [mention("x:1", "Zentavo")]),
        ]
    )
    assert written.stored_by == {"alert": 1, "mention": 1}
    assert written.rejected_by == {"alert": 1}
