"""How each fed record is written into the SQLite console store: one upsert per topic.

Every write is an upsert on the row's key, so a record fed twice after a redelivery leaves the
store as once. Mention rows carry a rowid made from their event time
(:func:`mention_rowid`), so rowid order is time order and no time index is needed.
"""

from __future__ import annotations

import sqlite3
import zlib
from collections.abc import Mapping
from typing import Any

from pipeline.console.rows import (
    BadRecord,
    parse_ack,
    parse_alert,
    parse_bucket,
    parse_draft,
    parse_mention,
    parse_receipt,
    parse_signal,
)
from pipeline.topology import ACKS, ALERTS, BUCKETS, CLASSIFIED, DELIVERIES, DRAFTS, SIGNALS

#: Rowids per millisecond of event time (mentions of one millisecond take free slots in turn).
ROWID_SLOTS = 4096


def _write_alert(cur: sqlite3.Cursor, r: Mapping[str, Any]) -> None:
    row = parse_alert(r)
    cur.execute(
        "INSERT INTO alerts (dedup_key, state, severity, brand, topic, started_at, updated_at, "
        "fired_at, early, observed, expected, score, summary, why, top_mentions, "
        "tipping_mention) VALUES (:dedup_key, :state, :severity, :brand, :topic, :started_at, "
        ":updated_at, :fired_at, :early, :observed, :expected, :score, :summary, :why, "
        ":top_mentions, :tipping_mention) "
        "ON CONFLICT (dedup_key) DO UPDATE SET state = excluded.state, "
        "severity = excluded.severity, updated_at = excluded.updated_at, "
        "fired_at = coalesce(alerts.fired_at, excluded.fired_at), "
        "early = max(alerts.early, excluded.early), observed = excluded.observed, "
        "expected = excluded.expected, score = excluded.score, summary = excluded.summary, "
        "why = excluded.why, top_mentions = coalesce(excluded.top_mentions, alerts.top_mentions), "
        "tipping_mention = coalesce(alerts.tipping_mention, excluded.tipping_mention) "
        "WHERE excluded.updated_at >= alerts.updated_at",
        row,
    )
    cur.execute(
        "INSERT OR IGNORE INTO alert_steps (dedup_key, state, at, by) "
        "VALUES (:dedup_key, :state, :updated_at, :step_by)",
        row,
    )


def _write_signal(cur: sqlite3.Cursor, r: Mapping[str, Any]) -> None:
    cur.execute(
        "INSERT OR REPLACE INTO signals (brand, topic, start, end_at, observed, expected, lower, "
        "upper, score, severity, firing) VALUES (:brand, :topic, :start, :end_at, :observed, "
        ":expected, :lower, :upper, :score, :severity, :firing)",
        parse_signal(r),
    )


def _write_bucket(cur: sqlite3.Cursor, r: Mapping[str, Any]) -> None:
    cur.execute(
        "INSERT OR REPLACE INTO buckets (brand, topic, start, end_at, count, reach, authors, "
        "stance, top_mentions, top_authors, languages) VALUES (:brand, :topic, :start, :end_at, "
        ":count, :reach, :authors, :stance, :top_mentions, :top_authors, :languages)",
        parse_bucket(r),
    )


def mention_rowid(created_at: float, slot: int = 0) -> int:
    """A mention's rowid: its event time in milliseconds, then a 12-bit slot.

    Rowids in time order let the search walk the FTS5 index newest first and stop at the page
    size (``ORDER BY rowid DESC LIMIT n``), and turn a time range into a rowid range, instead of
    sorting every match by time: a common word over a million mentions stays milliseconds.
    """
    return round(created_at * 1000) * ROWID_SLOTS + slot


def _write_mention(cur: sqlite3.Cursor, r: Mapping[str, Any]) -> None:
    row = parse_mention(r)
    row["topics"] = " ".join(row["topics"])
    found = cur.execute("SELECT rowid FROM mentions WHERE id = ?", (row["id"],)).fetchone()
    if found is not None:  # redelivered (or classified again): only the verdict may change
        cur.execute(
            "UPDATE mentions SET topics = :topics, stance = :stance, lang = :lang "
            "WHERE rowid = :rowid "
            "AND (topics IS NOT :topics OR stance IS NOT :stance OR lang IS NOT :lang)",
            {**row, "rowid": found[0]},
        )
        return
    first = zlib.crc32(row["id"].encode("utf-8", "replace")) % ROWID_SLOTS
    for probe in range(ROWID_SLOTS):  # another mention in the same millisecond: the next slot
        try:
            cur.execute(
                "INSERT INTO mentions (rowid, id, brand, topics, platform, lang, created_at, "
                "text, url, author_id, author_handle, author_kind, followers, stance) "
                "VALUES (:rowid, :id, :brand, :topics, :platform, :lang, :created_at, :text, "
                ":url, :author_id, :author_handle, :author_kind, :followers, :stance)",
                {**row, "rowid": mention_rowid(row["created_at"], (first + probe) % ROWID_SLOTS)},
            )
            return
        except sqlite3.IntegrityError:
            continue
    raise BadRecord(f"more than {ROWID_SLOTS} mentions in one millisecond")


def _write_receipt(cur: sqlite3.Cursor, r: Mapping[str, Any]) -> None:
    cur.execute(
        "INSERT OR REPLACE INTO receipts (dedup_key, state, receiver, attempt, outcome, "
        "status_code, at, error) VALUES (:dedup_key, :state, :receiver, :attempt, :outcome, "
        ":status_code, :at, :error)",
        parse_receipt(r),
    )


def _write_ack(cur: sqlite3.Cursor, r: Mapping[str, Any]) -> None:
    cur.execute(
        "INSERT OR IGNORE INTO alert_steps (dedup_key, state, at, by) "
        "VALUES (:dedup_key, :state, :at, :by)",
        parse_ack(r),
    )


def _write_draft(cur: sqlite3.Cursor, r: Mapping[str, Any]) -> None:
    cur.execute(
        "INSERT OR REPLACE INTO drafts (draft_id, alert_key, created_at, lang, template) "
        "VALUES (:draft_id, :alert_key, :created_at, :lang, :template)",
        parse_draft(r),
    )


#: Topic -> the function writing its record.
WRITERS = {
    ALERTS.name: _write_alert,
    SIGNALS.name: _write_signal,
    BUCKETS.name: _write_bucket,
    CLASSIFIED.name: _write_mention,
    DELIVERIES.name: _write_receipt,
    ACKS.name: _write_ack,
    DRAFTS.name: _write_draft,
}
