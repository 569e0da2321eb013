"""The console store's schema as numbered migrations, applied in order and recorded.

Each backend has its own list (``MIGRATIONS`` for SQLite, ``PG_MIGRATIONS`` for PostgreSQL):
each migration is a list of statements with a number; ``schema_migrations`` records which numbers
ran, so opening a store applies exactly the ones it lacks, each in its own transaction. A
migration is never edited once released: a change is a new number at the end of the lists it
concerns. Why not Alembic: it needs SQLAlchemy, and the store writes plain SQL through the
drivers; twenty lines of runner per backend (``store.migrate``, ``pgstore.migrate``) do the job.

Times are stored as UTC epoch seconds (REAL), so ranges compare as numbers; JSON columns hold
the records' nested parts as the topics carry them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Migration:
    """One numbered step of the schema."""

    version: int
    name: str
    statements: tuple[str, ...]


_TABLES = (
    # The latest step of each alert (one row per dedup key) and every step it went through.
    """CREATE TABLE alerts (
        dedup_key TEXT PRIMARY KEY,
        state TEXT NOT NULL,
        severity TEXT NOT NULL,
        brand TEXT NOT NULL,
        topic TEXT NOT NULL,
        started_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        fired_at REAL,
        early INTEGER NOT NULL DEFAULT 0,
        observed REAL NOT NULL,
        expected REAL NOT NULL,
        score REAL NOT NULL,
        summary TEXT NOT NULL,
        why TEXT,
        top_mentions TEXT,
        tipping_mention TEXT
    )""",
    "CREATE INDEX alerts_recent ON alerts (started_at DESC)",
    "CREATE INDEX alerts_state_recent ON alerts (state, started_at DESC)",
    "CREATE INDEX alerts_brand_recent ON alerts (brand, started_at DESC)",
    """CREATE TABLE alert_steps (
        dedup_key TEXT NOT NULL,
        state TEXT NOT NULL,
        at REAL NOT NULL,
        by TEXT,
        PRIMARY KEY (dedup_key, state, at)
    ) WITHOUT ROWID""",
    # The detector's reading of every closed bucket (observed, expected and the band) ...
    """CREATE TABLE signals (
        brand TEXT NOT NULL,
        topic TEXT NOT NULL,
        start REAL NOT NULL,
        end_at REAL NOT NULL,
        observed REAL NOT NULL,
        expected REAL NOT NULL,
        lower REAL NOT NULL,
        upper REAL NOT NULL,
        score REAL NOT NULL,
        severity TEXT NOT NULL,
        firing INTEGER NOT NULL,
        PRIMARY KEY (brand, topic, start)
    ) WITHOUT ROWID""",
    # ... and the closed bucket itself (reach, stance mix, top mentions and authors).
    """CREATE TABLE buckets (
        brand TEXT NOT NULL,
        topic TEXT NOT NULL,
        start REAL NOT NULL,
        end_at REAL NOT NULL,
        count INTEGER NOT NULL,
        reach INTEGER NOT NULL,
        authors INTEGER NOT NULL,
        stance TEXT,
        top_mentions TEXT,
        top_authors TEXT,
        languages TEXT,
        PRIMARY KEY (brand, topic, start)
    ) WITHOUT ROWID""",
    # Classified mentions; ``topics`` is the model's labels separated by spaces. The rowid is
    # the event time (store.mention_rowid), so rowid order is time order: no time index needed.
    """CREATE TABLE mentions (
        rowid INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        brand TEXT NOT NULL,
        topics TEXT NOT NULL,
        platform TEXT NOT NULL,
        lang TEXT NOT NULL,
        created_at REAL NOT NULL,
        text TEXT NOT NULL,
        url TEXT,
        author_id TEXT NOT NULL,
        author_handle TEXT,
        author_kind TEXT NOT NULL,
        followers INTEGER NOT NULL,
        stance TEXT NOT NULL
    )""",
    "CREATE INDEX mentions_brand ON mentions (brand)",
    """CREATE TABLE receipts (
        dedup_key TEXT NOT NULL,
        state TEXT NOT NULL,
        receiver TEXT NOT NULL,
        attempt INTEGER NOT NULL,
        outcome TEXT NOT NULL,
        status_code INTEGER,
        at REAL NOT NULL,
        error TEXT,
        PRIMARY KEY (dedup_key, state, receiver, attempt)
    ) WITHOUT ROWID""",
    """CREATE TABLE drafts (
        draft_id TEXT PRIMARY KEY,
        alert_key TEXT NOT NULL,
        created_at REAL NOT NULL,
        lang TEXT,
        template TEXT
    )""",
    "CREATE INDEX drafts_alert ON drafts (alert_key)",
    # Where the feed has read each topic partition up to: written in the same transaction as
    # the rows, so a restart resumes exactly after the last stored record.
    """CREATE TABLE feed_offsets (
        topic TEXT NOT NULL,
        partition INTEGER NOT NULL,
        next_offset INTEGER NOT NULL,
        PRIMARY KEY (topic, partition)
    ) WITHOUT ROWID""",
)

# Full-text search over mentions: an external-content FTS5 index kept in step by triggers. The
# filter columns are indexed too, so "brand X, topic Y, containing Z" is one index intersection.
# ``tokenchars '_-'`` keeps topic ids such as ``adverse_event`` one token.
_SEARCH = (
    """CREATE VIRTUAL TABLE mentions_fts USING fts5(
        text, topics, brand, platform, lang,
        content='mentions', content_rowid='rowid',
        tokenize="unicode61 remove_diacritics 2 tokenchars '_-'"
    )""",
    """CREATE TRIGGER mentions_ai AFTER INSERT ON mentions BEGIN
        INSERT INTO mentions_fts (rowid, text, topics, brand, platform, lang)
        VALUES (new.rowid, new.text, new.topics, new.brand, new.platform, new.lang);
    END""",
    """CREATE TRIGGER mentions_ad AFTER DELETE ON mentions BEGIN
        INSERT INTO mentions_fts (mentions_fts, rowid, text, topics, brand, platform, lang)
        VALUES ('delete', old.rowid, old.text, old.topics, old.brand, old.platform, old.lang);
    END""",
    """CREATE TRIGGER mentions_au AFTER UPDATE ON mentions BEGIN
        INSERT INTO mentions_fts (mentions_fts, rowid, text, topics, brand, platform, lang)
        VALUES ('delete', old.rowid, old.text, old.topics, old.brand, old.platform, old.lang);
        INSERT INTO mentions_fts (rowid, text, topics, brand, platform, lang)
        VALUES (new.rowid, new.text, new.topics, new.brand, new.platform, new.lang);
    END""",
    # Mentions stored before this migration are indexed too.
    "INSERT INTO mentions_fts (mentions_fts) VALUES ('rebuild')",
)

MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "tables", _TABLES),
    Migration(2, "mention search", _SEARCH),
)
LATEST = MIGRATIONS[-1].version


# -- PostgreSQL ----------------------------------------------------------------------------------
# The same tables and columns as SQLite, with three differences: ``by`` is a reserved word (quoted),
# a mention's topics are an array (a GIN index answers "topic X"), and its search vector is a
# column (``tsv``, the 'simple' configuration over the accent-folded text, topics, brand,
# platform and language, written with the row) under a GIN index. Mentions are keyed by id and
# ordered by ``created_at`` (indexed), so no rowid trick is needed.
_PG_TABLES = (
    """CREATE TABLE alerts (
        dedup_key TEXT PRIMARY KEY,
        state TEXT NOT NULL,
        severity TEXT NOT NULL,
        brand TEXT NOT NULL,
        topic TEXT NOT NULL,
        started_at DOUBLE PRECISION NOT NULL,
        updated_at DOUBLE PRECISION NOT NULL,
        fired_at DOUBLE PRECISION,
        early INTEGER NOT NULL DEFAULT 0,
        observed DOUBLE PRECISION NOT NULL,
        expected DOUBLE PRECISION NOT NULL,
        score DOUBLE PRECISION NOT NULL,
        summary TEXT NOT NULL,
        why TEXT,
        top_mentions TEXT,
        tipping_mention TEXT
    )""",
    "CREATE INDEX alerts_recent ON alerts (started_at DESC)",
    "CREATE INDEX alerts_state_recent ON alerts (state, started_at DESC)",
    "CREATE INDEX alerts_brand_recent ON alerts (brand, started_at DESC)",
    """CREATE TABLE alert_steps (
        dedup_key TEXT NOT NULL,
        state TEXT NOT NULL,
        at DOUBLE PRECISION NOT NULL,
        "by" TEXT,
        PRIMARY KEY (dedup_key, state, at)
    )""",
    """CREATE TABLE signals (
        brand TEXT NOT NULL,
        topic TEXT NOT NULL,
        start DOUBLE PRECISION NOT NULL,
        end_at DOUBLE PRECISION NOT NULL,
        observed DOUBLE PRECISION NOT NULL,
        expected DOUBLE PRECISION NOT NULL,
        lower DOUBLE PRECISION NOT NULL,
        upper DOUBLE PRECISION NOT NULL,
        score DOUBLE PRECISION NOT NULL,
        severity TEXT NOT NULL,
        firing INTEGER NOT NULL,
        PRIMARY KEY (brand, topic, start)
    )""",
    "CREATE INDEX signals_start ON signals (start)",
    """CREATE TABLE buckets (
        brand TEXT NOT NULL,
        topic TEXT NOT NULL,
        start DOUBLE PRECISION NOT NULL,
        end_at DOUBLE PRECISION NOT NULL,
        count BIGINT NOT NULL,
        reach BIGINT NOT NULL,
        authors BIGINT NOT NULL,
        stance TEXT,
        top_mentions TEXT,
        top_authors TEXT,
        languages TEXT,
        PRIMARY KEY (brand, topic, start)
    )""",
    "CREATE INDEX buckets_start ON buckets (start)",
    """CREATE TABLE mentions (
        id TEXT PRIMARY KEY,
        brand TEXT NOT NULL,
        topics TEXT[] NOT NULL,
        platform TEXT NOT NULL,
        lang TEXT NOT NULL,
        created_at DOUBLE PRECISION NOT NULL,
        text TEXT NOT NULL,
        url TEXT,
        author_id TEXT NOT NULL,
        author_handle TEXT,
        author_kind TEXT NOT NULL,
        followers BIGINT NOT NULL,
        stance TEXT NOT NULL,
        tsv TSVECTOR NOT NULL
    )""",
    "CREATE INDEX mentions_recent ON mentions (created_at DESC, id DESC)",
    "CREATE INDEX mentions_brand_recent ON mentions (brand, created_at DESC)",
    "CREATE INDEX mentions_topics ON mentions USING GIN (topics)",
    "CREATE INDEX mentions_search ON mentions USING GIN (tsv)",
    """CREATE TABLE receipts (
        dedup_key TEXT NOT NULL,
        state TEXT NOT NULL,
        receiver TEXT NOT NULL,
        attempt INTEGER NOT NULL,
        outcome TEXT NOT NULL,
        status_code INTEGER,
        at DOUBLE PRECISION NOT NULL,
        error TEXT,
        PRIMARY KEY (dedup_key, state, receiver, attempt)
    )""",
    """CREATE TABLE drafts (
        draft_id TEXT PRIMARY KEY,
        alert_key TEXT NOT NULL,
        created_at DOUBLE PRECISION NOT NULL,
        lang TEXT,
        template TEXT
    )""",
    "CREATE INDEX drafts_alert ON drafts (alert_key)",
    """CREATE TABLE feed_offsets (
        topic TEXT NOT NULL,
        partition INTEGER NOT NULL,
        next_offset BIGINT NOT NULL,
        PRIMARY KEY (topic, partition)
    )""",
)

PG_MIGRATIONS: tuple[Migration, ...] = (Migration(1, "tables and mention search", _PG_TABLES),)
PG_LATEST = PG_MIGRATIONS[-1].version
