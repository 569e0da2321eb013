"""The PostgreSQL console store: one store that several workers (replicas) show the same from.

Chosen when ``TOCSIN_CONSOLE_DSN`` is set (docs/console.md). The same interface as the SQLite
store (:class:`pipeline.console.rows.Store`), the same rows (:mod:`pipeline.console.rows`) and
the same guarantees:

- **One writer.** Every worker runs the feed, but only the one holding the session-level
  advisory lock ``WRITER_LOCK`` writes (:meth:`PgConsoleStore.claim_writer`); the others serve
  pages and try again. When the writer's worker stops, its connection closes, the lock is free,
  and another worker's feed takes over from the offsets stored with the rows.
- **Idempotent.** Every write is an ``INSERT ... ON CONFLICT`` keyed by the record's ids; an
  alert row only moves forward in time; the feed's offsets are written in the same transaction
  as the rows (``GREATEST``, so they never go back).
- **Parameterised.** Every value is bound by the driver; SQL text is only ever fixed strings
  and fixed column names. Free text for search goes through ``plainto_tsquery``, which reads
  words and ignores operators, so neither SQL nor tsquery syntax can be injected.
- **Full-text search** is a GIN index over a ``tsvector`` ('simple' configuration, no stemming,
  so every language is treated alike) of the accent-folded text (:func:`pipeline.brands.fold`,
  applied to the query too), topics, brand, platform and language.

Migrations (:data:`pipeline.console.schema.PG_MIGRATIONS`) run at open under an advisory lock,
so workers starting together apply each one once. The DSN is a secret: it is never logged nor
put into an error message.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import psycopg
from psycopg.rows import dict_row

from pipeline.console.pg_rows import MENTION_COLUMNS, OFFSETS, PARSERS, UPSERTS, words
from pipeline.console.rows import (
    KINDS,
    MAX_LIMIT,
    BadRecord,
    InboxFilter,
    Incoming,
    MentionQuery,
    StoreError,
    Written,
    alert_result,
    clean,
    from_json,
)
from pipeline.console.schema import PG_MIGRATIONS, Migration
from pipeline.topology import ALERTS

#: Advisory lock held by the one feed that writes (``tocsin`` in ASCII, then 1).
WRITER_LOCK = 0x746F6373696E01
#: Advisory lock held while migrations run (``tocsin`` in ASCII, then 2).
MIGRATION_LOCK = 0x746F6373696E02
CONNECT_TIMEOUT_S = 10
#: How many of the newest mentions a search tests first, and at most in its second try.
SEARCH_WINDOW = 5_000
MAX_SEARCH_WINDOW = 200_000
APPLICATION_NAME = "tocsin-console"

Connection = psycopg.Connection[dict[str, Any]]


def connect(dsn: str) -> Connection:
    """A connection in autocommit mode (writes open explicit transactions), rows as dicts."""
    return psycopg.connect(
        dsn,
        autocommit=True,
        row_factory=dict_row,
        connect_timeout=CONNECT_TIMEOUT_S,
        application_name=APPLICATION_NAME,
    )


class PgConsoleStore:
    """The PostgreSQL console store; :meth:`open` connects and applies the migrations it lacks."""

    def __init__(self, dsn: str, writer: Connection) -> None:
        self._dsn = dsn
        self._writer = writer
        self._write_lock = threading.Lock()
        self._local = threading.local()
        self._owned: list[Connection] = []
        self._owned_lock = threading.Lock()
        self.is_writer = False

    def __repr__(self) -> str:  # never the DSN: it holds the password
        return "PgConsoleStore(<dsn hidden>)"

    @classmethod
    def open(cls, dsn: str, *, migrations: Sequence[Migration] = PG_MIGRATIONS) -> PgConsoleStore:
        """Connect to the store at ``dsn`` and apply the migrations it lacks."""
        try:
            writer = connect(dsn)
        except psycopg.Error as exc:
            raise StoreError(
                f"console store (PostgreSQL): cannot connect: {_reason(exc)}"
            ) from None
        try:
            migrate(writer, migrations)
        except psycopg.Error as exc:
            writer.close()
            raise StoreError(f"console store (PostgreSQL): {_reason(exc)}") from None
        except StoreError:
            writer.close()
            raise
        return cls(dsn, writer)

    def close(self) -> None:
        with self._write_lock:
            self._writer.close()
        with self._owned_lock:
            for conn in self._owned:
                conn.close()
            self._owned.clear()

    # -- the one writer --------------------------------------------------------------------------
    def claim_writer(self) -> bool:
        """Whether this store may write: True once this connection holds ``WRITER_LOCK``.

        A broken writer connection (the server restarted, the network dropped) is replaced
        first; the lock it held went with it, so it is asked for again.
        """
        with self._write_lock:
            if self._writer.closed or self._writer.broken:
                self._writer = connect(self._dsn)
                self.is_writer = False
            if not self.is_writer:
                row = self._writer.execute(
                    "SELECT pg_try_advisory_lock(%s) AS held", (WRITER_LOCK,)
                ).fetchone()
                self.is_writer = bool(row and row["held"])
            return self.is_writer

    def write(self, batch: Iterable[Incoming]) -> Written:
        """Store a batch and the offsets after it, in one transaction; malformed records skip.

        Rows go in with one ``executemany`` per topic (pipelined by the driver). A row the server
        refuses (a number out of range, say) would abort the whole transaction: then the batch
        is written again record by record, each in a savepoint, and the refused ones are skipped.
        """
        if not self.is_writer:
            raise StoreError("this worker does not hold the console store's writer lock")
        stored: Counter[str] = Counter()
        rejected: Counter[str] = Counter()
        ends: dict[tuple[str, int], int] = {}
        rows: dict[str, list[dict[str, Any]]] = {}
        for item in batch:
            where = (item.topic, item.partition)
            ends[where] = max(item.offset + 1, ends.get(where, 0))
            parser = PARSERS.get(item.topic)
            if parser is None:
                continue
            try:
                rows.setdefault(item.topic, []).append(parser(item.value))
            except (BadRecord, KeyError, TypeError, ValueError, AttributeError):
                rejected[KINDS[item.topic]] += 1
        offsets = [{"topic": t, "partition": p, "next": o} for (t, p), o in ends.items()]
        with self._write_lock:
            try:
                with self._writer.transaction(), self._writer.cursor() as cur:
                    for topic, found in rows.items():
                        for sql in UPSERTS[topic]:
                            cur.executemany(sql, found)
                        stored[KINDS[topic]] += len(found)
                    cur.executemany(OFFSETS, offsets)
            except (psycopg.DataError, psycopg.IntegrityError):
                stored.clear()
                self._write_one_by_one(rows, offsets, stored, rejected)
        return Written(stored.total(), rejected.total(), dict(stored), dict(rejected))

    def _write_one_by_one(
        self,
        rows: Mapping[str, list[dict[str, Any]]],
        offsets: list[dict[str, Any]],
        stored: Counter[str],
        rejected: Counter[str],
    ) -> None:
        with self._writer.transaction(), self._writer.cursor() as cur:
            for topic, found in rows.items():
                for row in found:
                    try:
                        with self._writer.transaction():  # a savepoint
                            for sql in UPSERTS[topic]:
                                cur.execute(sql, row)
                        stored[KINDS[topic]] += 1
                    except (psycopg.DataError, psycopg.IntegrityError):
                        rejected[KINDS[topic]] += 1
            cur.executemany(OFFSETS, offsets)

    def offsets(self) -> dict[tuple[str, int], int]:
        """The next offset to read per (topic, partition)."""
        rows = self._query("SELECT topic, partition, next_offset FROM feed_offsets", ())
        return {(r["topic"], r["partition"]): r["next_offset"] for r in rows}

    def purge(self, *, mentions_before: float, batch: int = 5000) -> int:
        """Delete mentions (and bucket rows) older than ``mentions_before``; returns mentions gone.

        In batches of ``batch`` rows, each its own transaction, so no lock is held for long.
        """
        gone = 0
        while True:
            with self._write_lock, self._writer.transaction():
                n = self._writer.execute(
                    "DELETE FROM mentions WHERE id IN "
                    "(SELECT id FROM mentions WHERE created_at < %s LIMIT %s)",
                    (mentions_before, batch),
                ).rowcount
                self._writer.execute("DELETE FROM buckets WHERE start < %s", (mentions_before,))
                self._writer.execute("DELETE FROM signals WHERE start < %s", (mentions_before,))
            gone += n
            if n < batch:
                return gone

    # -- reading ---------------------------------------------------------------------------------
    def inbox(self, filters: InboxFilter, *, limit: int = 100) -> list[dict[str, Any]]:
        """Alerts newest first (by episode start), filtered by exact brand/topic/severity/state."""
        where: list[str] = []
        args: list[Any] = []
        for column in ("brand", "topic", "severity", "state"):
            value = clean(getattr(filters, column))
            if value:
                where.append(f"{column} = %s")
                args.append(value)
        sql = "SELECT * FROM alerts"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY started_at DESC LIMIT %s"
        args.append(max(1, min(limit, MAX_LIMIT)))
        return [alert_result(r) for r in self._query(sql, args)]

    def alerts_version(self) -> int:
        """Grows with every alert record stored (the feed's position on ``alerts``)."""
        rows = self._query(
            "SELECT coalesce(sum(next_offset), 0) AS n FROM feed_offsets WHERE topic = %s",
            (ALERTS.name,),
        )
        return int(rows[0]["n"])

    def alert(self, dedup_key: str) -> dict[str, Any] | None:
        """One alert with its steps, delivery receipts and drafts; None if unknown."""
        dedup_key = clean(dedup_key)
        rows = self._query("SELECT * FROM alerts WHERE dedup_key = %s", (dedup_key,))
        if not rows:
            return None
        alert = alert_result(rows[0])
        alert["steps"] = self._query(
            'SELECT state, at, "by" FROM alert_steps WHERE dedup_key = %s ORDER BY at',
            (dedup_key,),
        )
        alert["receipts"] = self._query(
            "SELECT receiver, state, attempt, outcome, status_code, at, error FROM receipts "
            "WHERE dedup_key = %s ORDER BY at, receiver",
            (dedup_key,),
        )
        alert["drafts"] = self._query(
            "SELECT draft_id, lang, template, created_at FROM drafts WHERE alert_key = %s "
            "ORDER BY created_at",
            (dedup_key,),
        )
        return alert

    def series(self, brand: str, topic: str, since: float, until: float) -> list[dict[str, Any]]:
        """Closed buckets of one brand x topic with the detector's expected value and band."""
        rows = self._query(
            "SELECT s.start, s.end_at, s.observed, s.expected, s.lower, s.upper, s.score, "
            "s.firing, b.stance, b.top_authors, b.reach FROM signals s LEFT JOIN buckets b "
            "ON b.brand = s.brand AND b.topic = s.topic AND b.start = s.start "
            "WHERE s.brand = %s AND s.topic = %s AND s.start >= %s AND s.start < %s "
            "ORDER BY s.start",
            (clean(brand), clean(topic), since, until),
        )
        for row in rows:
            row["stance"] = from_json(row["stance"]) or {}
            row["top_authors"] = from_json(row["top_authors"]) or []
        return rows

    def latest_signal(self) -> float | None:
        """The start of the newest detector reading in the store (event time moves with it)."""
        rows = self._query("SELECT max(start) AS latest FROM signals", ())
        latest = rows[0]["latest"]
        return None if latest is None else float(latest)

    def readings_since(self, since: float) -> list[dict[str, Any]]:
        """Every series' detector readings from ``since``, by brand, topic and time."""
        return self._query(
            "SELECT brand, topic, start, observed, expected, upper, score, firing FROM signals "
            "WHERE start >= %s ORDER BY brand, topic, start",
            (since,),
        )

    def search(self, q: MentionQuery) -> list[dict[str, Any]]:
        """Mentions matching ``q``, newest first, in at most two steps whatever the words.

        PostgreSQL can find a word through the GIN index and then sort every match by time (slow
        for a common word: a million mentions hold hundreds of thousands of matches), or walk
        the time index newest first and test each row until the page is full (slow for a rare
        word: it reads the whole table). Its choice rests on word statistics that are guesses
        for rare words. So: first the newest ``SEARCH_WINDOW`` mentions within the time range
        and brand, tested for the rest (a common word fills the page there); when that found
        some but not a page, a window as much wider as their density says a page needs (up to
        ``MAX_SEARCH_WINDOW``); only when the page is still short, every match found through
        the GIN indexes (a materialised step, so the planner cannot turn it into a walk) and
        sorted: few, since the words are rare.
        """
        outer: list[str] = []  # conditions tested on rows: words, topic, platform, language
        outer_args: list[Any] = []
        inner: list[str] = []  # conditions the indexes narrow by: time range, brand
        inner_args: list[Any] = []
        found = words(clean(q.text))
        if found:
            outer.append("tsv @@ plainto_tsquery('simple', %s)")
            outer_args.append(found)
        topic = clean(q.topic)
        if topic:
            outer.append("topics @> ARRAY[%s]::text[]")
            outer_args.append(topic)
        for column in ("platform", "lang"):  # fixed names; values are parameters
            value = clean(getattr(q, column))
            if value:
                outer.append(f"{column} = %s")
                outer_args.append(value)
        brand = clean(q.brand)
        if brand:
            inner.append("brand = %s")
            inner_args.append(brand)
        if q.since is not None:
            inner.append("created_at >= %s")
            inner_args.append(q.since)
        if q.until is not None:
            inner.append("created_at < %s")
            inner_args.append(q.until)
        limit = max(1, min(q.limit, MAX_LIMIT))
        inner_sql = " WHERE " + " AND ".join(inner) if inner else ""
        outer_sql = " WHERE " + " AND ".join(outer) if outer else ""
        newest = (
            f"SELECT {MENTION_COLUMNS} FROM (SELECT * FROM mentions{inner_sql} "  # noqa: S608 - fixed names
            f"ORDER BY created_at DESC, id DESC LIMIT %s) m{outer_sql} "
            "ORDER BY created_at DESC, id DESC LIMIT %s"
        )
        rows = self._query(newest, [*inner_args, SEARCH_WINDOW, *outer_args, limit])
        if len(rows) >= limit or not outer:
            return rows
        if rows:  # matches, but sparse: a window wide enough for a page at that density
            wider = SEARCH_WINDOW * limit * 2 // len(rows)
            if wider <= MAX_SEARCH_WINDOW:
                rows = self._query(newest, [*inner_args, wider, *outer_args, limit])
                if len(rows) >= limit:
                    return rows
        every = " AND ".join(inner + outer)
        matches = (
            f"WITH hits AS MATERIALIZED (SELECT * FROM mentions WHERE {every}) "  # noqa: S608 - fixed names
            f"SELECT {MENTION_COLUMNS} FROM hits ORDER BY created_at DESC, id DESC LIMIT %s"
        )
        return self._query(matches, [*inner_args, *outer_args, limit])

    def mentions_for(
        self, brand: str, topic: str, since: float, until: float, *, limit: int = 10
    ) -> list[dict[str, Any]]:
        """The largest-audience mentions of one brand x topic in a time range."""
        return self._query(
            "SELECT id, text, url, platform, lang, created_at, author_id, author_handle, "
            "author_kind, followers, stance, array_to_string(topics, ' ') AS topics "
            "FROM mentions WHERE brand = %s "
            "AND topics @> ARRAY[%s]::text[] AND created_at >= %s AND created_at < %s "
            "ORDER BY followers DESC LIMIT %s",
            (clean(brand), clean(topic), since, until, limit),
        )

    def facets(self) -> dict[str, list[str]]:
        """The values the inbox filters offer (brands, topics seen in alerts)."""
        out: dict[str, list[str]] = {}
        for column in ("brand", "topic"):
            rows = self._query(f"SELECT DISTINCT {column} AS v FROM alerts ORDER BY 1", ())  # noqa: S608 - column from a fixed tuple
            out[column] = [r["v"] for r in rows]
        return out

    def counts(self) -> dict[str, int]:
        """Row counts per table (for the operations log and the benchmark)."""
        out = {}
        for table in ("alerts", "mentions", "signals", "buckets", "receipts"):
            rows = self._query(f"SELECT count(*) AS n FROM {table}", ())  # noqa: S608 - table from a fixed tuple
            out[table] = int(rows[0]["n"])
        return out

    def _reader(self) -> Connection:
        conn: Connection | None = getattr(self._local, "conn", None)
        if conn is None or conn.closed or conn.broken:
            conn = connect(self._dsn)
            self._local.conn = conn
            with self._owned_lock:
                self._owned.append(conn)
        return conn

    def _query(self, sql: str, args: Sequence[Any]) -> list[dict[str, Any]]:
        """Rows of a read, on this thread's connection; a broken connection is replaced once."""
        try:
            return self._reader().execute(sql, args).fetchall()  # type: ignore[arg-type]
        except psycopg.OperationalError:
            self._local.conn = None
            return self._reader().execute(sql, args).fetchall()  # type: ignore[arg-type]


def _reason(exc: psycopg.Error) -> str:
    """What went wrong, without the DSN (psycopg's messages name host and user, not secrets)."""
    return type(exc).__name__ + (f" ({exc.sqlstate})" if exc.sqlstate else "")


def migrate(conn: Connection, migrations: Sequence[Migration] = PG_MIGRATIONS) -> list[int]:
    """Apply the migrations the database lacks, each in one transaction; returns those applied.

    Under the session-level advisory lock ``MIGRATION_LOCK``, so two workers starting at once
    apply each migration once. A database whose schema is newer than this code is refused.
    """
    conn.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK,))
    try:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
            "name TEXT NOT NULL, applied_at DOUBLE PRECISION NOT NULL)"
        )
        done = {r["version"] for r in conn.execute("SELECT version FROM schema_migrations")}
        known = {m.version for m in migrations}
        if done - known:
            raise StoreError(
                f"the store has schema version {max(done)}, newer than this code's {max(known)}"
            )
        applied = []
        for migration in sorted(migrations, key=lambda m: m.version):
            if migration.version in done:
                continue
            with conn.transaction():
                for statement in migration.statements:
                    conn.execute(statement)  # type: ignore[call-overload]
                conn.execute(
                    "INSERT INTO schema_migrations (version, name, applied_at) VALUES (%s, %s, %s)",
                    (migration.version, migration.name, time.time()),
                )
            applied.append(migration.version)
        return applied
    finally:
        conn.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK,))


def schema_version(conn: Connection) -> int:
    row = conn.execute("SELECT max(version) AS v FROM schema_migrations").fetchone()
    return int((row or {}).get("v") or 0)
