"""What the console store holds, whichever database holds it: records read into rows, queries.

Both stores (:mod:`pipeline.console.store`, SQLite; :mod:`pipeline.console.pgstore`,
PostgreSQL) take the same :class:`Incoming` batches and answer the same queries
(:class:`Store`). A record becomes a row here, once, by one parser per topic (``parse_*``): the
stores only decide how to upsert it. A record lacking a field or carrying one of the wrong type
raises :class:`BadRecord`, which the stores count and skip.

Rows and query results are plain dicts with times as UTC epoch seconds.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

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
#: The kind of row each fed topic becomes (the ``kind`` label of the feed's metrics).
KINDS: dict[str, str] = {
    ALERTS.name: "alert",
    SIGNALS.name: "signal",
    BUCKETS.name: "bucket",
    CLASSIFIED.name: "mention",
    DELIVERIES.name: "receipt",
    ACKS.name: "ack",
    DRAFTS.name: "draft",
}
MAX_TERMS = 12
MAX_LIMIT = 500


class StoreError(TocsinError):
    """The console store cannot be opened or migrated (path, server, permissions, a newer schema)."""


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
    """What one batch did: rows written, and records skipped as malformed (in all, and by kind)."""

    stored: int
    rejected: int
    stored_by: Mapping[str, int] = field(default_factory=dict)
    rejected_by: Mapping[str, int] = field(default_factory=dict)


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


class Store(Protocol):
    """What the feed writes to and the pages read from (SQLite or PostgreSQL)."""

    def close(self) -> None: ...
    def claim_writer(self) -> bool: ...
    def write(self, batch: Iterable[Incoming]) -> Written: ...
    def offsets(self) -> dict[tuple[str, int], int]: ...
    def purge(self, *, mentions_before: float, batch: int = 5000) -> int: ...
    def inbox(self, filters: InboxFilter, *, limit: int = 100) -> list[dict[str, Any]]: ...
    def alerts_version(self) -> int: ...
    def alert(self, dedup_key: str) -> dict[str, Any] | None: ...
    def series(
        self, brand: str, topic: str, since: float, until: float
    ) -> list[dict[str, Any]]: ...
    def latest_signal(self) -> float | None: ...
    def readings_since(self, since: float) -> list[dict[str, Any]]: ...
    def search(self, q: MentionQuery) -> list[dict[str, Any]]: ...
    def mentions_for(
        self, brand: str, topic: str, since: float, until: float, *, limit: int = 10
    ) -> list[dict[str, Any]]: ...
    def facets(self) -> dict[str, list[str]]: ...
    def counts(self) -> dict[str, int]: ...


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


def text(record: Mapping[str, Any], name: str, *, default: str | None = None) -> str:
    value = record.get(name, default)
    if not isinstance(value, str):
        raise BadRecord(f"{name}: expected text")
    return clean(value) if value else value


def num(record: Mapping[str, Any], name: str, *, default: float | None = None) -> float:
    value = record.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BadRecord(f"{name}: expected a number")
    return float(value)


def optional_text(value: Any) -> str | None:
    return clean(value) if isinstance(value, str) else None


def to_json(value: Any) -> str | None:
    if value is None:
        return None
    return clean(json.dumps(value, ensure_ascii=False, sort_keys=True))


def from_json(value: str | None) -> Any:
    return None if value is None else json.loads(value)


def clean(value: str | None) -> str:
    """Text any database can bind: lone surrogates replaced, NUL removed (a query, never a crash)."""
    if not value:
        return ""
    return value.encode("utf-8", "replace").decode("utf-8").replace("\x00", "")


def alert_result(row: Mapping[str, Any]) -> dict[str, Any]:
    """An ``alerts`` row as the pages use it (JSON columns decoded)."""
    out = dict(row)
    for name in ("why", "top_mentions", "tipping_mention"):
        out[name] = from_json(out[name])
    out["early"] = bool(out["early"])
    return out


# -- one parser per topic ------------------------------------------------------------------------
def parse_alert(r: Mapping[str, Any]) -> dict[str, Any]:
    """An alert step: the ``alerts`` row, plus ``step_by`` (who acknowledged or resolved)."""
    state = text(r, "state")
    why = r.get("why") if isinstance(r.get("why"), dict) else None
    fired = r.get("fired_at")
    by = (why or {}).get("acknowledged_by") if state in ("acknowledged", "resolved") else None
    return {
        "dedup_key": text(r, "dedup_key"),
        "state": state,
        "severity": text(r, "severity"),
        "brand": text(r, "brand"),
        "topic": text(r, "topic"),
        "started_at": epoch(r["started_at"]),
        "updated_at": epoch(r["updated_at"]),
        "fired_at": epoch(fired) if fired is not None else None,
        "early": int(bool(r.get("early"))),
        "observed": num(r, "observed"),
        "expected": num(r, "expected"),
        "score": num(r, "score"),
        "summary": text(r, "summary", default=""),
        "why": to_json(why),
        "top_mentions": to_json(r.get("top_mentions")),
        "tipping_mention": to_json(r.get("tipping_mention")),
        "step_by": clean(str(by.get("by"))) if isinstance(by, dict) else None,
    }


def parse_signal(r: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "brand": text(r, "brand"),
        "topic": text(r, "topic"),
        "start": epoch(r["start"]),
        "end_at": epoch(r["end"]),
        "observed": num(r, "observed"),
        "expected": num(r, "expected"),
        "lower": num(r, "lower"),
        "upper": num(r, "upper"),
        "score": num(r, "score"),
        "severity": text(r, "severity"),
        "firing": int(bool(r.get("firing"))),
    }


def parse_bucket(r: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "brand": text(r, "brand"),
        "topic": text(r, "topic"),
        "start": epoch(r["start"]),
        "end_at": epoch(r["end"]),
        "count": int(num(r, "count")),
        "reach": int(num(r, "reach", default=0)),
        "authors": int(num(r, "authors", default=0)),
        "stance": to_json(r.get("stance")),
        "top_mentions": to_json(r.get("top_mentions")),
        "top_authors": to_json(r.get("top_authors")),
        "languages": to_json(r.get("languages")),
    }


def parse_mention(r: Mapping[str, Any]) -> dict[str, Any]:
    """A classified mention; ``topics`` is the list of the model's labels."""
    m = r["mention"]
    author = m.get("author") or {}
    topics = r.get("topics") or []
    if not isinstance(topics, list) or not all(isinstance(t, str) for t in topics):
        raise BadRecord("topics: expected a list of text")
    return {
        "id": text(m, "id"),
        "brand": text(m, "brand"),
        "topics": [clean(t) for t in topics],
        "platform": text(m, "platform"),
        "lang": text(r, "lang", default=m.get("lang") or "und"),
        "created_at": epoch(m["created_at"]),
        "text": text(m, "text"),
        "url": optional_text(m.get("url")),
        "author_id": text(author, "id"),
        "author_handle": optional_text(author.get("handle")),
        "author_kind": text(author, "kind", default="unknown"),
        "followers": int(num(author, "followers", default=0)),
        "stance": text(r, "stance", default="neutral"),
    }


def parse_receipt(r: Mapping[str, Any]) -> dict[str, Any]:
    code = r.get("status_code")
    return {
        "dedup_key": text(r, "dedup_key"),
        "state": text(r, "state"),
        "receiver": text(r, "receiver"),
        "attempt": int(num(r, "attempt")),
        "outcome": text(r, "outcome"),
        "status_code": code if isinstance(code, int) and not isinstance(code, bool) else None,
        "at": epoch(r["at"]),
        "error": optional_text(r.get("error")),
    }


def parse_ack(r: Mapping[str, Any]) -> dict[str, Any]:
    """An acknowledgement request (the step it causes arrives on ``alerts``): kept as a step
    named after the request, so the detail shows who asked even when it changed nothing."""
    return {
        "dedup_key": text(r, "dedup_key"),
        "state": f"{text(r, 'action')} requested via {text(r, 'via')}",
        "at": epoch(r["at"]),
        "by": text(r, "by"),
    }


def parse_draft(r: Mapping[str, Any]) -> dict[str, Any]:
    found = r.get("draft")
    draft: Mapping[str, Any] = found if isinstance(found, dict) else {}
    return {
        "draft_id": text(r, "draft_id"),
        "alert_key": text(r, "alert_key"),
        "created_at": epoch(r["created_at"]),
        "lang": optional_text(draft.get("language")),
        "template": optional_text(draft.get("template_id")),
    }
