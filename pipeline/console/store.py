"""The console store: what the console shows, in one embedded SQLite file (WAL).

Written by one writer (the feed, :mod:`pipeline.console.feed`) in batches; read by the pages from
any thread, each with its own connection (WAL lets readers run beside the writer). Every write is
an upsert keyed by the record's ids, so a record delivered twice leaves the same rows, and the
feed's offsets are stored in the same transaction as the rows they cover. Every query binds its
values as parameters; free text for search is turned into quoted FTS5 terms
(:func:`fts_query`), so neither SQL nor FTS syntax can be injected.

Rows and query results are plain dicts with times as UTC epoch seconds.
"""

from __future__ import annotations

import json
import re
import sqlite3
import threading
import time
import zlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pipeline.console.schema import MIGRATIONS, Migration
from pipeline.errors import TocsinError
from pipeline.topology import ACKS, ALERTS, BUCKETS, CLASSIFIED, DELIVERIES, DRAFTS, SIGNALS

#: Topics the feed reads into the store.
FED_TOPICS: tuple[str, ...] = (
    ALERTS.name,
    SIGNALS.name,
    BUCKETS.name,
    CLASSIFIED.name,
    DELIVERIES.name,
    ACKS.name,
    DRAFTS.name,
)
MAX_TERMS = 12
ROWID_SLOTS = 4096
MAX_LIMIT = 500


class StoreError(TocsinError):
    """The console store cannot be opened or migrated (path, permissions, a newer schema)."""


class BadRecord(TocsinError, ValueError):
    """A record on a fed topic lacks a field the store needs or has one of the wrong type."""


@dataclass(frozen=True)
class Incoming:
    """One record read from a topic: where it was and its decoded JSON value."""

    topic: str
    partition: int
    offset: int
    value: Mapping[str, Any]


@dataclass(frozen=True)
class Written:
    """What one batch did: rows written, and records skipped as malformed."""

    stored: int
    rejected: int


@dataclass(frozen=True)
class InboxFilter:
    """Exact-match filters of the inbox; None means any."""

    brand: str | None = None
    topic: str | None = None
    severity: str | None = None
    state: str | None = None


@dataclass(frozen=True)
class MentionQuery:
    """A mention search: free text and exact filters, newest first."""

    text: str = ""
    brand: str | None = None
    topic: str | None = None
    platform: str | None = None
    lang: str | None = None
    since: float | None = None
    until: float | None = None
    limit: int = 50


# -- values --------------------------------------------------------------------------------------
def epoch(value: Any) -> float:
    """UTC epoch seconds of an ISO-8601 string, a datetime or a number; BadRecord otherwise."""
    if isinstance(value, bool):
        raise BadRecord(f"not a time: {value!r}")
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise BadRecord(f"not an ISO-8601 time: {value[:40]!r}") from None
    else:
        raise BadRecord(f"not a time: {type(value).__name__}")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def iso(value: float | None) -> str:
    """The ISO-8601 UTC form of epoch seconds (empty for None)."""
    if value is None:
        return ""
    return datetime.fromtimestamp(value, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _text(record: Mapping[str, Any], name: str, *, default: str | None = None) -> str:
    value = record.get(name, default)
    if not isinstance(value, str):
        raise BadRecord(f"{name}: expected text")
    return value


def _num(record: Mapping[str, Any], name: str, *, default: float | None = None) -> float:
    value = record.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BadRecord(f"{name}: expected a number")
    return float(value)


def _json(value: Any) -> str | None:
    return None if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True)


def _unjson(value: str | None) -> Any:
    return None if value is None else json.loads(value)


def clean(value: str | None) -> str:
    """Text SQLite can bind: lone surrogates replaced, NUL removed (a query, never a crash)."""
    if not value:
        return ""
    return value.encode("utf-8", "replace").decode("utf-8").replace("\x00", "")


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

    def _reader(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = _connect(self.path, readonly=True)
            self._local.conn = conn
        return conn

    # -- writing ---------------------------------------------------------------------------------
    def write(self, batch: Iterable[Incoming]) -> Written:
        """Store a batch and the offsets after it, in one transaction; malformed records skip."""
        stored = rejected = 0
        ends: dict[tuple[str, int], int] = {}
        with self._write_lock, transaction(self._writer):
            cur = self._writer.cursor()
            for item in batch:
                ends[(item.topic, item.partition)] = max(
                    item.offset + 1, ends.get((item.topic, item.partition), 0)
                )
                writer = _WRITERS.get(item.topic)
                if writer is None:
                    continue
                try:
                    writer(cur, item.value)
                    stored += 1
                except (BadRecord, KeyError, TypeError, ValueError, AttributeError):
                    rejected += 1
            cur.executemany(
                "INSERT INTO feed_offsets (topic, partition, next_offset) VALUES (?, ?, ?) "
                "ON CONFLICT (topic, partition) DO UPDATE SET "
                "next_offset = max(next_offset, excluded.next_offset)",
                [(t, p, o) for (t, p), o in ends.items()],
            )
        return Written(stored, rejected)

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
        return [_alert_row(r) for r in self._query(sql, args)]

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
        alert = _alert_row(rows[0])
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
            row["stance"] = _unjson(row["stance"]) or {}
            row["top_authors"] = _unjson(row["top_authors"]) or []
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
            "m.author_handle, m.author_kind, m.followers, m.stance FROM mentions_fts f "
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


def _alert_row(row: dict[str, Any]) -> dict[str, Any]:
    out = dict(row)
    for name in ("why", "top_mentions", "tipping_mention"):
        out[name] = _unjson(out[name])
    out["early"] = bool(out["early"])
    return out


# -- one writer per topic ------------------------------------------------------------------------
def _write_alert(cur: sqlite3.Cursor, r: Mapping[str, Any]) -> None:
    key = _text(r, "dedup_key")
    state = _text(r, "state")
    updated = epoch(r["updated_at"])
    why = r.get("why") if isinstance(r.get("why"), dict) else None
    fired = r.get("fired_at")
    cur.execute(
        "INSERT INTO alerts (dedup_key, state, severity, brand, topic, started_at, updated_at, "
        "fired_at, early, observed, expected, score, summary, why, top_mentions, "
        "tipping_mention) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (dedup_key) DO UPDATE SET state = excluded.state, "
        "severity = excluded.severity, updated_at = excluded.updated_at, "
        "fired_at = coalesce(alerts.fired_at, excluded.fired_at), "
        "early = max(alerts.early, excluded.early), observed = excluded.observed, "
        "expected = excluded.expected, score = excluded.score, summary = excluded.summary, "
        "why = excluded.why, top_mentions = coalesce(excluded.top_mentions, alerts.top_mentions), "
        "tipping_mention = coalesce(alerts.tipping_mention, excluded.tipping_mention) "
        "WHERE excluded.updated_at >= alerts.updated_at",
        (
            key,
            state,
            _text(r, "severity"),
            _text(r, "brand"),
            _text(r, "topic"),
            epoch(r["started_at"]),
            updated,
            epoch(fired) if fired is not None else None,
            int(bool(r.get("early"))),
            _num(r, "observed"),
            _num(r, "expected"),
            _num(r, "score"),
            _text(r, "summary", default=""),
            _json(why),
            _json(r.get("top_mentions")),
            _json(r.get("tipping_mention")),
        ),
    )
    by = (why or {}).get("acknowledged_by") if state in ("acknowledged", "resolved") else None
    cur.execute(
        "INSERT OR IGNORE INTO alert_steps (dedup_key, state, at, by) VALUES (?, ?, ?, ?)",
        (key, state, updated, str(by.get("by")) if isinstance(by, dict) else None),
    )


def _write_signal(cur: sqlite3.Cursor, r: Mapping[str, Any]) -> None:
    cur.execute(
        "INSERT OR REPLACE INTO signals (brand, topic, start, end_at, observed, expected, lower, "
        "upper, score, severity, firing) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            _text(r, "brand"),
            _text(r, "topic"),
            epoch(r["start"]),
            epoch(r["end"]),
            _num(r, "observed"),
            _num(r, "expected"),
            _num(r, "lower"),
            _num(r, "upper"),
            _num(r, "score"),
            _text(r, "severity"),
            int(bool(r.get("firing"))),
        ),
    )


def _write_bucket(cur: sqlite3.Cursor, r: Mapping[str, Any]) -> None:
    cur.execute(
        "INSERT OR REPLACE INTO buckets (brand, topic, start, end_at, count, reach, authors, "
        "stance, top_mentions, top_authors, languages) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            _text(r, "brand"),
            _text(r, "topic"),
            epoch(r["start"]),
            epoch(r["end"]),
            int(_num(r, "count")),
            int(_num(r, "reach", default=0)),
            int(_num(r, "authors", default=0)),
            _json(r.get("stance")),
            _json(r.get("top_mentions")),
            _json(r.get("top_authors")),
            _json(r.get("languages")),
        ),
    )


def mention_rowid(created_at: float, slot: int = 0) -> int:
    """A mention's rowid: its event time in milliseconds, then a 12-bit slot.

    Rowids in time order let the search walk the FTS5 index newest first and stop at the page
    size (``ORDER BY rowid DESC LIMIT n``), and turn a time range into a rowid range, instead of
    sorting every match by time: a common word over a million mentions stays milliseconds.
    """
    return round(created_at * 1000) * ROWID_SLOTS + slot


def _write_mention(cur: sqlite3.Cursor, r: Mapping[str, Any]) -> None:
    m = r["mention"]
    author = m.get("author") or {}
    topics = r.get("topics") or []
    if not isinstance(topics, list) or not all(isinstance(t, str) for t in topics):
        raise BadRecord("topics: expected a list of text")
    mid = _text(m, "id")
    lang = _text(r, "lang", default=m.get("lang") or "und")
    stance = _text(r, "stance", default="neutral")
    joined = " ".join(topics)
    found = cur.execute("SELECT rowid FROM mentions WHERE id = ?", (mid,)).fetchone()
    if found is not None:  # redelivered (or classified again): only the verdict may change
        cur.execute(
            "UPDATE mentions SET topics = ?, stance = ?, lang = ? WHERE rowid = ? "
            "AND (topics IS NOT ? OR stance IS NOT ? OR lang IS NOT ?)",
            (joined, stance, lang, found[0], joined, stance, lang),
        )
        return
    created = epoch(m["created_at"])
    row = (
        mid,
        _text(m, "brand"),
        joined,
        _text(m, "platform"),
        lang,
        created,
        _text(m, "text"),
        m.get("url") if isinstance(m.get("url"), str) else None,
        _text(author, "id"),
        author.get("handle") if isinstance(author.get("handle"), str) else None,
        _text(author, "kind", default="unknown"),
        int(_num(author, "followers", default=0)),
        stance,
    )
    first = zlib.crc32(mid.encode("utf-8", "replace")) % ROWID_SLOTS
    for probe in range(ROWID_SLOTS):  # another mention in the same millisecond: the next slot
        try:
            cur.execute(
                "INSERT INTO mentions (rowid, id, brand, topics, platform, lang, created_at, "
                "text, url, author_id, author_handle, author_kind, followers, stance) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (mention_rowid(created, (first + probe) % ROWID_SLOTS), *row),
            )
            return
        except sqlite3.IntegrityError:
            continue
    raise BadRecord(f"more than {ROWID_SLOTS} mentions in one millisecond")


def _write_receipt(cur: sqlite3.Cursor, r: Mapping[str, Any]) -> None:
    code = r.get("status_code")
    cur.execute(
        "INSERT OR REPLACE INTO receipts (dedup_key, state, receiver, attempt, outcome, "
        "status_code, at, error) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (
            _text(r, "dedup_key"),
            _text(r, "state"),
            _text(r, "receiver"),
            int(_num(r, "attempt")),
            _text(r, "outcome"),
            int(code) if isinstance(code, int) and not isinstance(code, bool) else None,
            epoch(r["at"]),
            r.get("error") if isinstance(r.get("error"), str) else None,
        ),
    )


def _write_ack(cur: sqlite3.Cursor, r: Mapping[str, Any]) -> None:
    """An acknowledgement request (the step it causes arrives on ``alerts``): kept as a step
    named after the request, so the detail shows who asked even when it changed nothing."""
    cur.execute(
        "INSERT OR IGNORE INTO alert_steps (dedup_key, state, at, by) VALUES (?, ?, ?, ?)",
        (
            _text(r, "dedup_key"),
            f"{_text(r, 'action')} requested via {_text(r, 'via')}",
            epoch(r["at"]),
            _text(r, "by"),
        ),
    )


def _write_draft(cur: sqlite3.Cursor, r: Mapping[str, Any]) -> None:
    found = r.get("draft")
    draft: Mapping[str, Any] = found if isinstance(found, dict) else {}
    cur.execute(
        "INSERT OR REPLACE INTO drafts (draft_id, alert_key, created_at, lang, template) "
        "VALUES (?, ?, ?, ?, ?)",
        (
            _text(r, "draft_id"),
            _text(r, "alert_key"),
            epoch(r["created_at"]),
            draft.get("language") if isinstance(draft.get("language"), str) else None,
            draft.get("template_id") if isinstance(draft.get("template_id"), str) else None,
        ),
    )


_WRITERS = {
    ALERTS.name: _write_alert,
    SIGNALS.name: _write_signal,
    BUCKETS.name: _write_bucket,
    CLASSIFIED.name: _write_mention,
    DELIVERIES.name: _write_receipt,
    ACKS.name: _write_ack,
    DRAFTS.name: _write_draft,
}
