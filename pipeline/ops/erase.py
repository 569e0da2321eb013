"""``tocsin privacy erase --author ID --platform P``: remove one author's data from Tocsin's Kafka.

What is found and how it goes (pure matching in :mod:`pipeline.ingest.erasure`):

1. **Who**: the raw id and handle as the source gave them, and the author's pseudonym under
   ``TOCSIN_PSEUDONYM_KEY`` (required: a worker's random key cannot be recomputed). Their mentions
   are read from ``mentions.raw`` (raw id) and ``mentions.classified`` (pseudonym): ids and
   texts.
2. **Tables** (compacted changelogs): each entry (latest value per key) of an erasable table that
   holds any of it gets an erasure command on ``privacy.erasures`` keyed like the entry, and the
   worker's ``erase_authors`` rewrites the entry without it; this waits until every changelog shows
   the clean values. ``cases`` is kept (a legal record) and counted in the audit entry.
3. **Delete-policy topics** (mention topics, alerts, dead letters, receipts, approvals' drafts and
   decisions): Kafka cannot delete one record, so each partition holding the author's data is
   truncated up to and including their last record (``DeleteRecords``), only once Tocsin's consumer
   group has committed past it (else it waits, then fails without deleting); records of others
   before that point go too, which a topic kept 30 days can afford. ``pv.cases`` and the audit
   log are never truncated.
4. The erasure commands themselves are deleted, and one audit entry is written to
   ``responses.audit`` (who asked, when, counts; the subject only as a one-way hash).
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pipeline.errors import TocsinError
from pipeline.ingest.erasure import Erasure, mentions
from pipeline.ingest.pseudonyms import Pseudonymiser
from pipeline.kafka_clients import client_config
from pipeline.settings import Settings
from pipeline.settings_kafka import kafka_settings
from pipeline.snapshot import read_snapshot
from pipeline.topology import (
    APP_ID,
    AUDIT,
    CASES,
    CLASSIFIED,
    ERASABLE_TABLES,
    ERASURES,
    KEPT_TABLES,
    RAW,
    TopicSpec,
    changelog_name,
    owned_topics,
)

#: Delete-policy topics never truncated: legal records.
NEVER_TRUNCATED = (CASES.name, AUDIT.name)
GROUP = APP_ID


class ErasureFailed(TocsinError):
    """An erasure could not finish (no key, records not yet processed, tables not rewritten)."""


@dataclass
class ErasureReport:
    """What one erasure did, for the operator and the audit entry."""

    erasure_id: str
    mentions: int = 0
    table_entries: dict[str, int] = field(default_factory=dict)
    kept_cases: int = 0
    truncated: dict[str, int] = field(default_factory=dict)  # "topic[p]" -> new start offset

    def summary(self) -> dict[str, Any]:
        return {
            "erasure_id": self.erasure_id,
            "mentions": self.mentions,
            "table_entries": self.table_entries,
            "kept_cases": self.kept_cases,
            "truncated": self.truncated,
        }


def _json(raw: bytes | None) -> Any:
    if raw is None:
        return None
    try:
        return json.loads(raw)
    except (TypeError, ValueError):
        return raw.decode("utf-8", "replace")


def who(settings: Settings, author_id: str, platform: str, handle: str | None) -> Erasure:
    """The author as every part of Tocsin names them (raw id, pseudonym, handle)."""
    if settings.pseudonym_key is None:
        raise ErasureFailed(
            "TOCSIN_PSEUDONYM_KEY is not set: the workers' pseudonyms cannot be recomputed"
        )
    pseudonym = Pseudonymiser.from_settings(settings).of(platform, author_id)
    handles = frozenset({handle} if handle else ())
    return Erasure(frozenset({author_id, pseudonym}), handles)


def their_mentions(bootstrap: str, erasure: Erasure, platform: str, timeout_s: float) -> Erasure:
    """``erasure`` with the ids and texts of the author's mentions on the raw and classified topics.

    A classified record holds its mention under ``mention``; a raw one is the mention itself.
    """
    ids: set[str] = set()
    texts: set[str] = set()
    for topic in (RAW.name, CLASSIFIED.name):
        for message in read_snapshot(bootstrap, topic, timeout_s=timeout_s):
            value = _json(message.value)
            if topic == CLASSIFIED.name and isinstance(value, dict):
                value = value.get("mention")
            if not isinstance(value, dict) or not isinstance(value.get("author"), dict):
                continue
            author = value["author"]
            theirs = author.get("id") in erasure.ids or author.get("handle") in erasure.handles
            if theirs and value.get("platform", platform) == platform:
                ids.add(str(value.get("id")))
                texts.add(str(value.get("text", "")))
    return erasure.with_mentions(ids, texts)


def latest(bootstrap: str, topic: str, timeout_s: float) -> dict[str, Any]:
    """The latest value of each key of a compacted topic (None: a tombstone)."""
    out: dict[str, Any] = {}
    for message in read_snapshot(bootstrap, topic, timeout_s=timeout_s):
        key = _json(message.key)
        out[key if isinstance(key, str) else json.dumps(key)] = _json(message.value)
    return out


def dirty_entries(bootstrap: str, erasure: Erasure, timeout_s: float) -> dict[str, list[str]]:
    """Table -> keys whose latest value holds the author's data (erasable and kept tables)."""
    found: dict[str, list[str]] = {}
    for table in (*ERASABLE_TABLES, *KEPT_TABLES):
        values = latest(bootstrap, changelog_name(table), timeout_s)
        keys = sorted(k for k, v in values.items() if v is not None and mentions(v, erasure))
        if keys:
            found[table] = keys
    return found


def truncation_points(
    bootstrap: str, specs: Iterable[TopicSpec], erasure: Erasure, timeout_s: float
) -> dict[tuple[str, int], int]:
    """(topic, partition) -> offset just past the author's last record there."""
    points: dict[tuple[str, int], int] = {}
    for spec in specs:
        for message in read_snapshot(bootstrap, spec.name, timeout_s=timeout_s):
            value = _json(message.value)
            if value is not None and mentions(value, erasure):
                tp = (spec.name, message.partition)
                points[tp] = max(points.get(tp, 0), message.offset + 1)
    return points


def subject_hash(erasure: Erasure) -> str:
    """A one-way reference to the subject for the audit log (not searchable back to them)."""
    return hashlib.sha256("|".join(sorted(erasure.ids)).encode()).hexdigest()[:16]


@dataclass
class Broker:
    """The admin, producer and group-offset calls an erasure makes (real kafka-python clients)."""

    bootstrap: str

    @property
    def _auth(self) -> dict[str, Any]:
        """TLS and SASL of the ``TOCSIN_KAFKA_*`` settings, as every Tocsin client connects."""
        return client_config(kafka_settings())

    def committed(self, topic: str) -> dict[int, int]:
        from kafka import KafkaAdminClient

        admin = KafkaAdminClient(
            bootstrap_servers=self.bootstrap, request_timeout_ms=15_000, **self._auth
        )
        try:
            groups = admin.list_group_offsets({GROUP: None})
        finally:
            admin.close()
        offsets = groups.get(GROUP, {})
        return {tp.partition: int(o.offset) for tp, o in offsets.items() if tp.topic == topic}

    def delete(self, points: dict[tuple[str, int], int]) -> None:
        from kafka import KafkaAdminClient, TopicPartition

        admin = KafkaAdminClient(
            bootstrap_servers=self.bootstrap, request_timeout_ms=30_000, **self._auth
        )
        try:
            admin.delete_records({TopicPartition(t, p): o for (t, p), o in points.items()})
        finally:
            admin.close()

    def end_offsets(self, topic: str) -> dict[tuple[str, int], int]:
        from kafka import KafkaConsumer, TopicPartition

        consumer = KafkaConsumer(bootstrap_servers=self.bootstrap, group_id=None, **self._auth)
        try:
            parts = consumer.partitions_for_topic(topic) or set()
            ends = consumer.end_offsets([TopicPartition(topic, p) for p in parts])
            return {(tp.topic, tp.partition): int(o) for tp, o in ends.items() if o}
        finally:
            consumer.close()

    def produce(self, topic: str, records: list[tuple[bytes, bytes]]) -> None:
        from kafka import KafkaProducer

        producer = KafkaProducer(bootstrap_servers=self.bootstrap, acks="all", **self._auth)
        try:
            for key, value in records:
                producer.send(topic, key=key, value=value)
            producer.flush(timeout=30)
        finally:
            producer.close(timeout=10)


def _wait(check: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise ErasureFailed(f"timed out after {timeout_s:.0f} s waiting for {what}")
        time.sleep(1.0)


def erase(
    settings: Settings,
    bootstrap: str,
    *,
    author_id: str,
    platform: str,
    handle: str | None = None,
    actor: str = "operator",
    timeout_s: float = 120.0,
    now: datetime | None = None,
) -> ErasureReport:
    """Erase one author (steps in the module docstring); the report of what was done."""
    broker = Broker(bootstrap)
    report = ErasureReport(erasure_id=f"erasure-{uuid.uuid4().hex[:12]}")
    erasure = their_mentions(bootstrap, who(settings, author_id, platform, handle), platform, 60)
    report.mentions = len(erasure.mention_ids)
    # 2. tables, through the worker that owns each entry
    dirty = dirty_entries(bootstrap, erasure, 60)
    report.kept_cases = len(dirty.pop("cases", []))
    report.table_entries = {table: len(keys) for table, keys in dirty.items()}
    at = (now or datetime.now(UTC)).isoformat()
    commands = [
        (
            key.encode(),
            json.dumps(
                {
                    "erasure_id": report.erasure_id,
                    "table": table,
                    "key": key,
                    "ids": sorted(erasure.ids - {author_id}),  # the pseudonym, never the raw id
                    "handles": sorted(erasure.handles),
                    "mention_ids": sorted(erasure.mention_ids),
                    "at": at,
                    "__faust": {"ns": "pipeline.records.ErasureCommand"},
                }
            ).encode(),
        )
        for table, keys in dirty.items()
        for key in keys
    ]
    if commands:
        broker.produce(ERASURES.name, commands)
        _wait(
            lambda: (
                not {t: k for t, k in dirty_entries(bootstrap, erasure, 60).items() if t != "cases"}
            ),
            timeout_s,
            "the workers to rewrite the table entries",
        )
    # 3. delete-policy topics, once Tocsin has processed past the author's last record
    specs = [
        s
        for s in owned_topics(settings.mentions_retention_days)
        if s.name not in NEVER_TRUNCATED and s.config.get("cleanup.policy") != "compact"
    ]
    points = truncation_points(bootstrap, specs, erasure, 60)

    def processed() -> bool:
        for topic in {t for t, _ in points}:
            committed = broker.committed(topic)
            if not committed:
                continue  # no Tocsin consumer reads it
            for (t, p), offset in points.items():
                if t == topic and committed.get(p, 0) < offset:
                    return False
        return True

    _wait(processed, timeout_s, "Tocsin to process the author's last records")
    points.update(broker.end_offsets(ERASURES.name))  # the commands, now applied
    if points:
        broker.delete(points)
    report.truncated = {f"{t}[{p}]": o for (t, p), o in sorted(points.items())}
    # 4. the audit entry
    broker.produce(AUDIT.name, [audit_record(report, erasure, actor, at)])
    return report


def audit_record(
    report: ErasureReport, erasure: Erasure, actor: str, at: str
) -> tuple[bytes, bytes]:
    """The ``responses.audit`` record of one erasure (an AuditRecord with the audit entry shape)."""
    entry = {
        "id": report.erasure_id,
        "at": at,
        "actor": actor,
        "action": "erase_author",
        "draft_id": "privacy",
        "outcome": "ok",
        "reason": "data_subject_erasure",
        "detail": json.dumps({"subject": subject_hash(erasure), **report.summary()}),
        "channel": "cli",
        "remote_addr": "",
        "text_hash": "",
        "text": "",
        "comment": "",
        "version": 0,
    }
    record = {
        "draft_id": "privacy",
        "at": at,
        "outcome": "ok",
        "entry": entry,
        "event_id": report.erasure_id,
        "__faust": {"ns": "pipeline.records.AuditRecord"},
    }
    return b"privacy", json.dumps(record).encode()
