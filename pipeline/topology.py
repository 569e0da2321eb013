"""Kafka topics Tocsin uses, as plain data.

One list serves three readers: the Faust topic declarations (``pipeline/topics.py``), the admin
command that creates topics up front (``tocsin topics create``), and the broker script's tests.
Partition counts are explicit because a Faust table's changelog must have as many partitions as
the stream that feeds it, and auto-created topics would get the broker's default instead.

The count of every keyed topic and changelog is one setting, ``TOCSIN_KAFKA_PARTITIONS`` (default
4), read once at import: Faust declares its topics when the app's modules are imported, and the
worker, ``tocsin topics create`` and the admin checks must all see the same number. The
dead-letter topic and the silences (one small global table) keep one partition whatever it is.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from kafka.partitioner.default import murmur2

from pipeline.settings_kafka import kafka_settings

#: Partitions of every keyed topic and table changelog (``TOCSIN_KAFKA_PARTITIONS``).
DEFAULT_PARTITIONS = kafka_settings().partitions


def partition_of(key: bytes, partitions: int) -> int:
    """Kafka's default partitioner (Java's, kafka-python's and aiokafka's): murmur2 of the key."""
    return int(murmur2(key) & 0x7FFFFFFF) % partitions


@dataclass(frozen=True)
class TopicSpec:
    """A topic Tocsin owns: its name, partition count and topic-level config.

    ``personal`` marks a topic whose records carry mention text or author data (health data for
    adverse events): it is kept only ``TOCSIN_MENTIONS_RETENTION_DAYS`` (``retention.ms``, see
    :func:`owned_topics`).
    """

    name: str
    partitions: int = DEFAULT_PARTITIONS
    config: dict[str, str] = field(default_factory=dict)
    doc: str = ""
    personal: bool = False


DAY_MS = 86_400_000
#: How long topics holding mention text and authors keep a record (privacy: data minimisation).
#: Thirty days covers a crisis and its review; counts and alerts' state live on in the tables.
DEFAULT_MENTIONS_RETENTION_DAYS = 30
#: Records the law wants kept (pharmacovigilance cases, the audit log): no time limit, deleted
#: only by an operator's archive, never compacted away.
KEPT = {"cleanup.policy": "delete", "retention.ms": "-1", "retention.bytes": "-1"}


def retention_ms(days: int) -> str:
    return str(days * DAY_MS)


def _personal(name: str, doc: str, config: dict[str, str] | None = None, **kw: int) -> TopicSpec:
    config = {**(config or {}), "retention.ms": retention_ms(DEFAULT_MENTIONS_RETENTION_DAYS)}
    return TopicSpec(name, config=config, doc=doc, personal=True, **kw)


# Raw input and its dead letters accept large messages: an oversized payload must still reach the
# dead-letter topic whole ("loses nothing"), so both topics allow more than the decoder accepts.
MAX_MESSAGE_BYTES = 8 * 1024 * 1024
RAW = _personal(
    "mentions.raw",
    "raw mention JSON from replay, HTTP ingest or connectors, keyed by mention id",
    {"max.message.bytes": str(MAX_MESSAGE_BYTES)},
)
DLQ = _personal(
    "mentions.dlq",
    "bad input with the reason, never dropped (until its retention)",
    {"max.message.bytes": str(2 * MAX_MESSAGE_BYTES)},
    partitions=1,
)
CLASSIFIED = _personal(
    "mentions.classified", "mentions with topics, stance, language, keyed by brand for counting"
)
BUCKETS = _personal("mentions.buckets", "closed event-time buckets per brand x topic")
SIGNALS = TopicSpec("signals", doc="detector output per closed bucket")
ALERTS = _personal("alerts", "alert lifecycle events keyed by dedup key (with top mentions)")
DELIVERIES = TopicSpec("alerts.deliveries", doc="one receipt per delivery attempt")
# A page that reached nobody is evidence for the post-mortem: kept like the audit log (never
# compacted, no time limit) until an operator has re-sent or archived it.
DELIVERY_DLQ = TopicSpec(
    "alerts.deliveries.dlq",
    config={"cleanup.policy": "delete", "retention.ms": "-1", "retention.bytes": "-1"},
    doc="alert steps a receiver never accepted, after the last attempt (for replay-dlq)",
)
# Rapid-response approvals: every topic keyed by draft id, so the approval table, its
# changelog and the publish step see one draft on one partition.
DRAFTS = TopicSpec("responses.drafts", doc="proposed public responses, one per firing alert")
DECISIONS = TopicSpec(
    "responses.decisions", doc="approve/reject/request-changes/edit events from web and Slack"
)
APPROVED = TopicSpec("responses.approved", doc="fully approved texts handed to the publish step")
PUBLISHED = TopicSpec("responses.published", doc="one receipt per publish attempt")
# The audit log is evidence: append-only (never compacted) and kept until an operator archives it.
AUDIT = TopicSpec(
    "responses.audit", config=dict(KEPT), doc="append-only audit log of every decision"
)

# On-call: acknowledgements are keyed by dedup key like ``alerts`` (same partition count,
# so the ack agent and the alert book of one alert live on one worker); silences are few and every
# worker needs all of them, so one partition feeding a global table.
ACKS = TopicSpec(
    "alerts.acks", doc="acknowledge/resolve requests from Slack, PagerDuty and the API"
)
SILENCES = TopicSpec("alerts.silences", partitions=1, doc="silence create/expire commands")
# Alert grouping: commands keyed by group id (route + grouped label values), so one
# group's state (the alert_groups table) lives on one partition whatever its alerts' dedup keys.
GROUPS = TopicSpec("alerts.groups", doc="add/remove/flush commands per alert group")
# Live sources' positions (Jetstream cursor, Mastodon since_id, feed ETags), keyed by source name:
# compacted, so the latest checkpoint of each source is kept and the rest cleaned up.
SOURCE_CHECKPOINTS = TopicSpec(
    "sources.checkpoints",
    partitions=1,
    config={"cleanup.policy": "compact"},
    doc="latest checkpoint per live source (tocsin sources run)",
)

# Pharmacovigilance cases: a legal record (GVP VI), kept without time limit like the audit log.
CASES = TopicSpec(
    "pv.cases", config=dict(KEPT), doc="case events (open, move, note) keyed by case id"
)

# Erasure commands: keyed like the table entry they change (brand, dedup key, group or draft id),
# with the tables' partition count, so each lands on the partition owning its entry. Transient:
# `tocsin privacy erase` deletes them once applied.
ERASURES = _personal("privacy.erasures", "remove one author's data from one table entry")

ALL_TOPICS: tuple[TopicSpec, ...] = (
    RAW,
    DLQ,
    CLASSIFIED,
    BUCKETS,
    SIGNALS,
    ALERTS,
    DELIVERIES,
    DELIVERY_DLQ,
    DRAFTS,
    DECISIONS,
    APPROVED,
    PUBLISHED,
    AUDIT,
    ACKS,
    SILENCES,
    GROUPS,
    SOURCE_CHECKPOINTS,
    CASES,
    ERASURES,
)


#: The typed topics Tocsin's agents read (``mentions.raw`` is raw bytes, checked by ingest): a
#: record on them that does not decode or has wrong field types is dead-lettered to ``mentions.dlq``
#: (``pipeline.topics.CheckedTopic``) and counted per topic.
CHECKED_TOPICS: tuple[str, ...] = (
    CLASSIFIED.name,
    ALERTS.name,
    ACKS.name,
    SILENCES.name,
    GROUPS.name,
    DECISIONS.name,
    APPROVED.name,
    AUDIT.name,
    CASES.name,
    ERASURES.name,
)

# Changelog topics of the Faust tables (``pipeline/tables.py``), created up front like the rest.
# Faust would create them itself at start, but on a brand-new cluster its consumer can look at a
# changelog before the metadata of the topic it just created arrives, and crash the agent writing
# the table (seen once: PartitionsMismatch with 0 partitions on the first write to a table). Names
# follow Faust's "<app id>-<table>-changelog"; compacted, as Faust creates them; the partition count
# is the table's (the stream's that feeds it).
APP_ID = "tocsin"
TABLE_PARTITIONS: dict[str, int] = {
    "open_buckets": DEFAULT_PARTITIONS,
    "mention_ids": DEFAULT_PARTITIONS,
    "alert_book": DEFAULT_PARTITIONS,
    "acks": DEFAULT_PARTITIONS,
    "silences": 1,
    "approvals": DEFAULT_PARTITIONS,
    "audit_trail": DEFAULT_PARTITIONS,
    "publications": DEFAULT_PARTITIONS,
    "alert_groups": DEFAULT_PARTITIONS,
    "cases": DEFAULT_PARTITIONS,
}


#: Tables ``tocsin privacy erase`` rewrites without an author's data. Not ``cases``: a
#: pharmacovigilance case is a record the law requires to keep (GDPR art. 17(3)(b) and (c));
#: not the :data:`UNPERSONAL_TABLES`.
ERASABLE_TABLES = (
    "open_buckets",
    "alert_book",
    "acks",
    "approvals",
    "audit_trail",
    "publications",
    "alert_groups",
)
KEPT_TABLES = ("cases",)
#: Tables with nothing of an author: ``silences`` (matchers), ``mention_ids`` (post ids with
#: their raw position and arrival, no author or text, forgotten after ``TOCSIN_DEDUP_HORIZON_S``).
UNPERSONAL_TABLES = ("silences", "mention_ids")


def changelog_name(table: str) -> str:
    return f"{APP_ID}-{table}-changelog"


CHANGELOG_TOPICS: tuple[TopicSpec, ...] = tuple(
    TopicSpec(
        changelog_name(table),
        partitions=partitions,
        config={"cleanup.policy": "compact"},
        doc=f"changelog of the {table} table",
    )
    for table, partitions in TABLE_PARTITIONS.items()
)


def owned_topics(
    mentions_retention_days: int = DEFAULT_MENTIONS_RETENTION_DAYS,
) -> tuple[TopicSpec, ...]:
    """Every topic and changelog Tocsin creates, personal ones kept ``mentions_retention_days``."""
    if mentions_retention_days < 1:
        raise ValueError(
            f"mentions retention must be at least 1 day, got {mentions_retention_days}"
        )
    ms = retention_ms(mentions_retention_days)
    return (
        tuple(
            replace(spec, config={**spec.config, "retention.ms": ms}) if spec.personal else spec
            for spec in ALL_TOPICS
        )
        + CHANGELOG_TOPICS
    )
