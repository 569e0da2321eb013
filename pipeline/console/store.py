"""The SQLite console store: what the console shows, in one embedded file (WAL), the default.

Written by one writer (the feed, :mod:`pipeline.console.feed`) in batches; read by the pages from
any thread, each with its own connection (WAL lets readers run beside the writer). Every write is
an upsert keyed by the record's ids, so a record delivered twice leaves the same rows, and the
feed's offsets are stored in the same transaction as the rows they cover. Every query binds its
values as parameters; free text for search is turned into quoted FTS5 terms
(:func:`fts_query`), so neither SQL nor FTS syntax can be injected.

Records become rows in :mod:`pipeline.console.rows` (shared with the PostgreSQL store,
:mod:`pipeline.console.pgstore`); rows and query results are plain dicts with times as UTC epoch
seconds.
"""

from __future__ import annotations

import re
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pipeline.console.rows import (
    FED_TOPICS,
    KINDS,
    MAX_LIMIT,
    MAX_TERMS,
    BadRecord,
    InboxFilter,
    Incoming,
    MentionQuery,
    StoreError,
    Written,
    alert_result,
    clean,
    epoch,
    from_json,
    iso,
)
from pipeline.console.schema import MIGRATIONS, Migration
from pipeline.console.sqlite_rows import WRITERS, mention_rowid
from pipeline.topology import ALERTS

__all__ = [  # the shared names, still importable from here
    "FED_TOPICS",
    "BadRecord",
    "ConsoleStore",
    "InboxFilter",
    "Incoming",
    "MentionQuery",
    "StoreError",
    "Written",
    "epoch",
    "fts_query",
    "iso",
    "migrate",
    "schema_version",
]


def _quote(term: str) -> str:
    return '"' + term.replace('"', '""') + '"'


def fts_query(text: str, filters: Mapping[str, str | None] | None = None) -> str:
    """An FTS5 query: every word of ``text`` and every filter value as a quoted term (AND).

    Quoting makes each term a plain string to FTS5 (no operators, no column names, no NEAR), so
    whatever a person types is searched for, never interpreted. At most ``MAX_TERMS`` words.
    """
    terms = [_quote(w) for w in re.findall(r"\w[\w'-]*", text)[:MAX_TERMS]]
    for column, value in (filters or {}).items():
        if value:
            terms.append(f"{column} : {_quote(value)}")
    return " AND ".join(terms)


# -- the store -----------------------------------------------------------------------------------
class ConsoleStore:
    """The SQLite console store; :meth:`open` creates or migrates the file."""

    def __init__(self, path: Path, writer: sqlite3.Connection) -> None:
        self.path = path
        self._writer = writer
        self._write_lock = threading.Lock()
        self._local = threading.local()

    @classmethod
    def open(cls, path: Path, *, migrations: Sequence[Migration] = MIGRATIONS) -> ConsoleStore:
        """Open (creating) the store at ``path`` and apply the migrations it lacks."""
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            writer = _connect(path)
            migrate(writer, migrations)
        except sqlite3.Error as exc:
            raise StoreError(f"console store {path}: {exc}") from exc
        return cls(path, writer)

    def close(self) -> None:
        with self._write_lock:
            self._writer.close()

    def claim_writer(self) -> bool:
        """Always True: the file is this worker's own, so its feed is always the writer."""
        return True

    def _reader(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = _connect(self.path, readonly=True)
            self._local.conn = conn
        return conn

    # -- writing ---------------------------------------------------------------------------------
    def write(self, batch: Iterable[Incoming]) -> Written:
        """Store a batch and the offsets after it, in one transaction; malformed records skip."""
        stored: Counter[str] = Counter()
        rejected: Counter[str] = Counter()
        ends: dict[tuple[str, int], int] = {}
        with self._write_lock, transaction(self._writer):
            cur = self._writer.cursor()
            for item in batch:
                ends[(item.topic, item.partition)] = max(
                    item.offset + 1, ends.get((item.topic, item.partition), 0)
                )
                writer = WRITERS.get(item.topic)
                if writer is None:
                    continue
                try:
                    writer(cur, item.value)
                    stored[KINDS[item.topic]] += 1
                except (BadRecord, KeyError, TypeError, ValueError, AttributeError):
                    rejected[KINDS[item.topic]] += 1
            cur.executemany(
                "INSERT INTO feed_offsets (topic, partition, next_offset) VALUES (?, ?, ?) "
                "ON CONFLICT (topic, partition) DO UPDATE SET "
                "next_offset = max(next_offset, excluded.next_offset)",
                [(t, p, o) for (t, p), o in ends.items()],
            )
        return Written(stored.total(), rejected.total(), dict(stored), dict(rejected))

    def offsets(self) -> dict[tuple[str, int], int]:
        """The next offset to read per (topic, partition)."""
        rows = self._reader().execute("SELECT topic, partition, next_offset FROM feed_offsets")
        return {(t, p): o for t, p, o in rows}

    def purge(self, *, mentions_before: float, batch: int = 5000) -> int:
        """Delete mentions (and bucket rows) older than ``mentions_before``; returns mentions gone.

        In batches, so the writer never holds the file for long.
        """
        gone = 0
        while True:
            with self._write_lock, transaction(self._writer):
                n = self._writer.execute(
                    "DELETE FROM mentions WHERE rowid IN "
                    "(SELECT rowid FROM mentions WHERE rowid < ? LIMIT ?)",
                    (mention_rowid(mentions_before), batch),
                ).rowcount
                self._writer.execute("DELETE FROM buckets WHERE start < ?", (mentions_before,))
                self._writer.execute("DELETE FROM signals WHERE start < ?", (mentions_before,))
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
                where.append(f"{column} = ?")
                args.append(value)
        sql = "SELECT * FROM alerts"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY started_at DESC LIMIT ?"
        args.append(max(1, min(limit, MAX_LIMIT)))
        return [alert_result(r) for r in self._query(sql, args)]

    def alerts_version(self) -> int:
        """Grows with every alert record stored (the open inbox polls it to know it must redraw).

        The feed's position on ``alerts``, not a step time: a step's time is event time for a
        page and wall time for an acknowledgement, so a newer record can carry an older time.
        """
        row = (
            self._reader()
            .execute("SELECT sum(next_offset) FROM feed_offsets WHERE topic = ?", (ALERTS.name,))
            .fetchone()
        )
        return int(row[0] or 0)

    def alert(self, dedup_key: str) -> dict[str, Any] | None:
        """One alert with its steps, delivery receipts and drafts; None if unknown."""
        dedup_key = clean(dedup_key)
        rows = self._query("SELECT * FROM alerts WHERE dedup_key = ?", (dedup_key,))
        if not rows:
            return None
        alert = alert_result(rows[0])
        alert["steps"] = self._query(
            "SELECT state, at, by FROM alert_steps WHERE dedup_key = ? ORDER BY at", (dedup_key,)
        )
        alert["receipts"] = self._query(
            "SELECT receiver, state, attempt, outcome, status_code, at, error FROM receipts "
            "WHERE dedup_key = ? ORDER BY at, receiver",
            (dedup_key,),
        )
        alert["drafts"] = self._query(
            "SELECT draft_id, lang, template, created_at FROM drafts WHERE alert_key = ? "
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
            "WHERE s.brand = ? AND s.topic = ? AND s.start >= ? AND s.start < ? ORDER BY s.start",
            (brand, topic, since, until),
        )
        for row in rows:
            row["stance"] = from_json(row["stance"]) or {}
            row["top_authors"] = from_json(row["top_authors"]) or []
        return rows

    def latest_signal(self) -> float | None:
        """The start of the newest detector reading in the store (event time moves with it)."""
        row = self._reader().execute("SELECT max(start) FROM signals").fetchone()
        return None if row[0] is None else float(row[0])

    def readings_since(self, since: float) -> list[dict[str, Any]]:
        """Every series' detector readings from ``since``, by brand, topic and time."""
        return self._query(
            "SELECT brand, topic, start, observed, expected, upper, score, firing FROM signals "
            "WHERE start >= ? ORDER BY brand, topic, start",
            (since,),
        )

    def search(self, q: MentionQuery) -> list[dict[str, Any]]:
        """Mentions matching ``q``, newest first; text and topic go through the FTS5 index."""
        q = MentionQuery(
            text=clean(q.text),
            **{k: clean(getattr(q, k)) or None for k in ("brand", "topic", "platform", "lang")},
            since=q.since,
            until=q.until,
            limit=q.limit,
        )
        limit = max(1, min(q.limit, MAX_LIMIT))
        times, targs = [], []  # time as a rowid range (rowids are in time order)
        if q.since is not None:
            times.append("m.rowid >= ?")
            targs.append(mention_rowid(q.since))
        if q.until is not None:
            times.append("m.rowid < ?")
            targs.append(mention_rowid(q.until))
        match = (
            fts_query(
                q.text,
                {"topics": q.topic, "brand": q.brand, "platform": q.platform, "lang": q.lang},
            )
            if q.text.strip() or q.topic
            else ""
        )
        cols = (  # every name below is fixed here; values only ever go in as parameters
            "m.id, m.brand, m.topics, m.platform, m.lang, m.created_at, m.text, m.url, "
            "m.author_id, m.author_handle, m.author_kind, m.followers, m.stance"
        )
        if match:
            sql = (
                f"SELECT {cols} FROM mentions_fts f JOIN mentions m ON m.rowid = f.rowid "  # noqa: S608
                "WHERE mentions_fts MATCH ?"
            )
            args: list[Any] = [match]
            times = [t.replace("m.rowid", "f.rowid") for t in times]
        else:
            sql = f"SELECT {cols} FROM mentions m WHERE 1 = 1"  # noqa: S608
            args = []
            for column in ("brand", "platform", "lang"):
                value = getattr(q, column)
                if value:
                    sql += f" AND m.{column} = ?"
                    args.append(value)
        for clause in times:
            sql += f" AND {clause}"
        args += targs
        sql += f" ORDER BY {'f' if match else 'm'}.rowid DESC LIMIT ?"
        args.append(limit)
        return self._query(sql, args)

    def mentions_for(
        self, brand: str, topic: str, since: float, until: float, *, limit: int = 10
    ) -> list[dict[str, Any]]:
        """The largest-audience mentions of one brand x topic in a time range."""
        return self._query(
            "SELECT m.id, m.text, m.url, m.platform, m.lang, m.created_at, m.author_id, "
            "m.author_handle, m.author_kind, m.followers, m.stance, m.topics FROM mentions_fts f "
            "JOIN mentions m ON m.rowid = f.rowid WHERE mentions_fts MATCH ? "
            "AND f.rowid >= ? AND f.rowid < ? ORDER BY m.followers DESC LIMIT ?",
            (
                fts_query("", {"topics": topic, "brand": brand}),
                mention_rowid(since),
                mention_rowid(until),
                limit,
            ),
        )

    def facets(self) -> dict[str, list[str]]:
        """The values the inbox filters offer (brands, topics seen in alerts)."""
        out: dict[str, list[str]] = {}
        for column in ("brand", "topic"):
            rows = self._reader().execute(f"SELECT DISTINCT {column} FROM alerts ORDER BY 1")  # noqa: S608 - column from a fixed tuple
            out[column] = [r[0] for r in rows]
        return out

    def counts(self) -> dict[str, int]:
        """Row counts per table (for the operations log and the benchmark)."""
        out = {}
        for table in ("alerts", "mentions", "signals", "buckets", "receipts"):
            row = self._reader().execute(f"SELECT count(*) FROM {table}").fetchone()  # noqa: S608 - table from a fixed tuple
            out[table] = int(row[0])
        return out

    def _query(self, sql: str, args: Sequence[Any]) -> list[dict[str, Any]]:
        cur = self._reader().execute(sql, args)
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def _connect(path: Path, *, readonly: bool = False) -> sqlite3.Connection:
    conn = sqlite3.connect(
        f"file:{path}?mode=ro" if readonly else str(path),
        uri=readonly,
        check_same_thread=False,
        timeout=10.0,
        isolation_level=None,  # transactions are explicit (:func:`transaction`)
    )
    if not readonly:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        # 64 MiB of page cache for the writer: FTS5 and index pages of a large store stay in
        # memory between batches instead of being read back for every insert.
        conn.execute("PRAGMA cache_size=-65536")
    conn.execute("PRAGMA foreign_keys=ON")
    return conn


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[None]:
    """One explicit write transaction (DDL included, which Python's implicit mode leaves out)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def migrate(conn: sqlite3.Connection, migrations: Sequence[Migration] = MIGRATIONS) -> list[int]:
    """Apply the migrations ``conn`` lacks, each in one transaction; returns the versions applied.

    A file whose schema is newer than this code knows is refused (an older worker must not write
    to a store a newer one has migrated).
    """
    with transaction(conn):
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations "
            "(version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at REAL NOT NULL)"
        )
    done = {v for (v,) in conn.execute("SELECT version FROM schema_migrations")}
    known = {m.version for m in migrations}
    if done - known:
        raise StoreError(
            f"the store has schema version {max(done)}, newer than this code's {max(known)}"
        )
    applied = []
    for migration in sorted(migrations, key=lambda m: m.version):
        if migration.version in done:
            continue
        with transaction(conn):
            for statement in migration.statements:
                conn.execute(statement)
            conn.execute(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                (migration.version, migration.name, time.time()),
            )
        applied.append(migration.version)
    return applied


def schema_version(conn: sqlite3.Connection) -> int:
    row = conn.execute("SELECT max(version) FROM schema_migrations").fetchone()
    return int(row[0] or 0)


# -- one writer per topic ------------------------------------------------------------------------
