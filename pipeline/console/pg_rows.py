"""How each fed record is written into the PostgreSQL console store: one upsert per topic.

Every write is an ``ON CONFLICT`` upsert on the row's key, so a record fed twice after a
redelivery leaves the store as once; mentions carry a ``tsvector`` of their searchable words.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from pipeline.brands import fold
from pipeline.console.rows import (
    MAX_TERMS,
    parse_ack,
    parse_alert,
    parse_bucket,
    parse_draft,
    parse_mention,
    parse_receipt,
    parse_signal,
)
from pipeline.topology import ACKS, ALERTS, BUCKETS, CLASSIFIED, DELIVERIES, DRAFTS, SIGNALS


def search_text(row: Mapping[str, Any]) -> str:
    """What a mention's ``tsv`` is made of: folded text, topics, brand, platform, language."""
    return " ".join(
        (fold(row["text"]), *row["topics"], fold(row["brand"]), row["platform"], row["lang"])
    )


def words(text: str) -> str:
    """The words of a search (at most ``MAX_TERMS``), folded like the indexed text."""
    return fold(" ".join(re.findall(r"\w[\w'-]*", text)[:MAX_TERMS]))


# -- one upsert per topic ------------------------------------------------------------------------
MENTION_COLUMNS = (
    "id, brand, array_to_string(topics, ' ') AS topics, platform, lang, created_at, text, url, "
    "author_id, author_handle, author_kind, followers, stance"
)
OFFSETS = (
    "INSERT INTO feed_offsets (topic, partition, next_offset) "
    "VALUES (%(topic)s, %(partition)s, %(next)s) ON CONFLICT (topic, partition) DO UPDATE SET "
    "next_offset = GREATEST(feed_offsets.next_offset, excluded.next_offset)"
)


def _mention(r: Mapping[str, Any]) -> dict[str, Any]:
    row = parse_mention(r)
    row["search"] = search_text(row)
    return row


PARSERS: dict[str, Callable[[Mapping[str, Any]], dict[str, Any]]] = {
    ALERTS.name: parse_alert,
    SIGNALS.name: parse_signal,
    BUCKETS.name: parse_bucket,
    CLASSIFIED.name: _mention,
    DELIVERIES.name: parse_receipt,
    ACKS.name: parse_ack,
    DRAFTS.name: parse_draft,
}
UPSERTS: dict[str, tuple[str, ...]] = {
    ALERTS.name: (
        "INSERT INTO alerts (dedup_key, state, severity, brand, topic, started_at, updated_at, "
        "fired_at, early, observed, expected, score, summary, why, top_mentions, "
        "tipping_mention) VALUES (%(dedup_key)s, %(state)s, %(severity)s, %(brand)s, "
        "%(topic)s, %(started_at)s, %(updated_at)s, %(fired_at)s, %(early)s, %(observed)s, "
        "%(expected)s, %(score)s, %(summary)s, %(why)s, %(top_mentions)s, %(tipping_mention)s) "
        "ON CONFLICT (dedup_key) DO UPDATE SET state = excluded.state, "
        "severity = excluded.severity, updated_at = excluded.updated_at, "
        "fired_at = coalesce(alerts.fired_at, excluded.fired_at), "
        "early = GREATEST(alerts.early, excluded.early), observed = excluded.observed, "
        "expected = excluded.expected, score = excluded.score, summary = excluded.summary, "
        "why = excluded.why, top_mentions = coalesce(excluded.top_mentions, alerts.top_mentions), "
        "tipping_mention = coalesce(alerts.tipping_mention, excluded.tipping_mention) "
        "WHERE excluded.updated_at >= alerts.updated_at",
        'INSERT INTO alert_steps (dedup_key, state, at, "by") '
        "VALUES (%(dedup_key)s, %(state)s, %(updated_at)s, %(step_by)s) ON CONFLICT DO NOTHING",
    ),
    SIGNALS.name: (
        "INSERT INTO signals (brand, topic, start, end_at, observed, expected, lower, upper, "
        "score, severity, firing) VALUES (%(brand)s, %(topic)s, %(start)s, %(end_at)s, "
        "%(observed)s, %(expected)s, %(lower)s, %(upper)s, %(score)s, %(severity)s, %(firing)s) "
        "ON CONFLICT (brand, topic, start) DO UPDATE SET end_at = excluded.end_at, "
        "observed = excluded.observed, expected = excluded.expected, lower = excluded.lower, "
        "upper = excluded.upper, score = excluded.score, severity = excluded.severity, "
        "firing = excluded.firing",
    ),
    BUCKETS.name: (
        "INSERT INTO buckets (brand, topic, start, end_at, count, reach, authors, stance, "
        "top_mentions, top_authors, languages) VALUES (%(brand)s, %(topic)s, %(start)s, "
        "%(end_at)s, %(count)s, %(reach)s, %(authors)s, %(stance)s, %(top_mentions)s, "
        "%(top_authors)s, %(languages)s) ON CONFLICT (brand, topic, start) DO UPDATE SET "
        "end_at = excluded.end_at, count = excluded.count, reach = excluded.reach, "
        "authors = excluded.authors, stance = excluded.stance, "
        "top_mentions = excluded.top_mentions, top_authors = excluded.top_authors, "
        "languages = excluded.languages",
    ),
    CLASSIFIED.name: (
        # Redelivered (or classified again): only the verdict may change, and the row is not
        # touched at all when it did not.
        "INSERT INTO mentions (id, brand, topics, platform, lang, created_at, text, url, "
        "author_id, author_handle, author_kind, followers, stance, tsv) VALUES (%(id)s, "
        "%(brand)s, %(topics)s, %(platform)s, %(lang)s, %(created_at)s, %(text)s, %(url)s, "
        "%(author_id)s, %(author_handle)s, %(author_kind)s, %(followers)s, %(stance)s, "
        "to_tsvector('simple', %(search)s)) ON CONFLICT (id) DO UPDATE SET "
        "topics = excluded.topics, stance = excluded.stance, lang = excluded.lang, "
        "tsv = excluded.tsv WHERE (mentions.topics, mentions.stance, mentions.lang) "
        "IS DISTINCT FROM (excluded.topics, excluded.stance, excluded.lang)",
    ),
    DELIVERIES.name: (
        "INSERT INTO receipts (dedup_key, state, receiver, attempt, outcome, status_code, at, "
        "error) VALUES (%(dedup_key)s, %(state)s, %(receiver)s, %(attempt)s, %(outcome)s, "
        "%(status_code)s, %(at)s, %(error)s) "
        "ON CONFLICT (dedup_key, state, receiver, attempt) DO UPDATE SET "
        "outcome = excluded.outcome, status_code = excluded.status_code, at = excluded.at, "
        "error = excluded.error",
    ),
    ACKS.name: (
        'INSERT INTO alert_steps (dedup_key, state, at, "by") '
        "VALUES (%(dedup_key)s, %(state)s, %(at)s, %(by)s) ON CONFLICT DO NOTHING",
    ),
    DRAFTS.name: (
        "INSERT INTO drafts (draft_id, alert_key, created_at, lang, template) "
        "VALUES (%(draft_id)s, %(alert_key)s, %(created_at)s, %(lang)s, %(template)s) "
        "ON CONFLICT (draft_id) DO UPDATE SET alert_key = excluded.alert_key, "
        "created_at = excluded.created_at, lang = excluded.lang, template = excluded.template",
    ),
}
