"""Prometheus metrics, created against an explicit registry.

Nothing registers on the global registry at import time: :class:`TocsinMetrics` is built once per
worker (see :func:`get_metrics`) and tests build their own with a fresh ``CollectorRegistry``.
Label sets are small and fixed (agent, reason, topic, severity, state, receiver, outcome); no
author, text or mention-id labels ever, so cardinality stays bounded. Known label values are
pre-initialised so that rate() queries see zeros instead of missing series.
"""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, ProcessCollector

from pipeline.errors import INVALID_MENTION_REASONS as REASONS
from pipeline.records import ALERT_STATES, SEVERITIES
from pipeline.topology import CHECKED_TOPICS

AGENTS = (
    "classify_mentions",
    "count_mentions",
    "dispatch_alerts",
    "notify_groups",
    "acknowledge_alerts",
    "manage_silences",
    "triage_cases",
    "track_cases",
    "erase_authors",
)
CASE_OUTCOMES = ("new", "possible", "refused")
FILTER_REASONS = ("no_brand", "duplicate")
DEDUP_FORGET_REASONS = ("expired", "bound")
OUTCOMES = (
    "delivered",
    "retried",
    "failed",
    "skipped_duplicate",
    "silenced",
    "inhibited",
    "muted",  # the route's mute_time_intervals / active_time_intervals (routing.py)
    "grouped",  # handed to an alert group; its notification leaves its own receipts
)
#: Kinds of row the console feed stores (one per fed topic; pipeline/console/rows.py KINDS).
CONSOLE_KINDS = ("alert", "signal", "bucket", "mention", "receipt", "ack", "draft")
#: What can fail in the console feed: a batch write, a retention pass, the feed as a whole.
CONSOLE_OPERATIONS = ("write", "purge", "feed")
APPROVAL_ACTIONS = ("approve", "reject", "request_changes", "edit", "escalate", "publish")
#: POST /api/mentions outcomes: the three results of a read batch, then the request-level refusals.
INGEST_OUTCOMES = (
    "accepted",
    "partial",
    "rejected",
    "ingest_disabled",
    "unauthorized",
    "unsupported_media_type",
    "bad_content_length",
    "body_too_large",
    "read_timeout",
    "empty_body",
    "too_many_lines",
    "rate_limited",
    "unavailable",
    "internal_error",
    # vendor pushes (POST /api/ingest/{vendor})
    "unknown_vendor",
    "signature_missing",
    "bad_signature",
    "duplicate",
)


class TocsinMetrics:
    """Every metric a Tocsin worker exports; one instance per registry."""

    def __init__(
        self,
        registry: CollectorRegistry,
        *,
        topics: Iterable[str] = (),
        receivers: Iterable[str] = ("console",),
    ) -> None:
        self.registry = registry
        self.messages_in = Counter(
            "tocsin_agent_messages_in_total",
            "Messages an agent took from its input topic.",
            ["agent"],
            registry=registry,
        )
        self.messages_out = Counter(
            "tocsin_agent_messages_out_total",
            "Messages an agent wrote to its output topic.",
            ["agent"],
            registry=registry,
        )
        self.dead_letters = Counter(
            "tocsin_dead_letters_total",
            "Inputs sent to the dead-letter topic, by reason.",
            ["reason"],
            registry=registry,
        )
        self.internal_dead_letters = Counter(
            "tocsin_internal_dead_letters_total",
            "Records of Tocsin's own topics (acks, silences, alerts, decisions...) that did not "
            "decode or had wrong field types, sent to mentions.dlq instead of an agent, by topic.",
            ["topic"],
            registry=registry,
        )
        self.ack_replays = Counter(
            "tocsin_ack_replays_total",
            "Acknowledgements dropped because their sender's event id was already applied to the "
            "alert (a PagerDuty re-delivery, or a replayed signed webhook body).",
            registry=registry,
        )
        self.filtered = Counter(
            "tocsin_mentions_filtered_total",
            "Valid inputs not passed on (no tracked brand, a re-sent mention id), by reason.",
            ["reason"],
            registry=registry,
        )
        self.mentions_classified = Counter(
            "tocsin_mentions_classified_total",
            "Classified mentions by brand and top topic.",
            ["brand", "topic"],
            registry=registry,
        )
        self.batch_size = Histogram(
            "tocsin_model_batch_size",
            "Mentions per model batch.",
            buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256),
            registry=registry,
        )
        self.model_latency = Histogram(
            "tocsin_model_batch_latency_seconds",
            "Wall time of one model batch, run off the event loop.",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=registry,
        )
        self.dedup_hits = Counter(
            "tocsin_model_dedup_hits_total",
            "Mentions whose normalised text was already classified (reposts).",
            registry=registry,
        )
        self.buckets_closed = Counter(
            "tocsin_buckets_closed_total",
            "Event-time buckets closed and handed to the detector.",
            registry=registry,
        )
        self.late_mentions = Counter(
            "tocsin_late_mentions_total",
            "Mentions that arrived after their bucket had closed (counted, not re-opened).",
            registry=registry,
        )
        self.consumer_refetches = Counter(
            "tocsin_consumer_refetches_total",
            "Partitions fetched again from the commit because offsets there were never processed.",
            ["topic"],
            registry=registry,
        )
        self.dedup_forgotten = Counter(
            "tocsin_dedup_forgotten_total",
            "Mention ids ingest stopped remembering: past the horizon (expired) or over the "
            "per-partition bound (bound: copies re-sent later than that are counted again).",
            ["reason"],
            registry=registry,
        )
        self.recounts_skipped = Counter(
            "tocsin_recounts_skipped_total",
            "Copies of already counted mentions (re-sent after a crash or rebalance), not counted.",
            registry=registry,
        )
        self.observed = Gauge(
            "tocsin_series_observed",
            "Observed mentions in the last closed bucket, per brand and topic.",
            ["brand", "topic"],
            registry=registry,
        )
        self.expected = Gauge(
            "tocsin_series_expected",
            "Expected mentions in the last closed bucket, per brand and topic.",
            ["brand", "topic"],
            registry=registry,
        )
        self.anomaly_score = Gauge(
            "tocsin_series_anomaly_score",
            "Anomaly score (0..1) of the last closed bucket, per brand and topic.",
            ["brand", "topic"],
            registry=registry,
        )
        self.alerts = Counter(
            "tocsin_alerts_total",
            "Alert lifecycle events emitted, by state and severity.",
            ["state", "severity"],
            registry=registry,
        )
        self.alerts_firing = Gauge(
            "tocsin_alerts_firing",
            "Alerts currently firing on this worker's partitions.",
            registry=registry,
        )
        self.early_pages = Counter(
            "tocsin_early_pages_total",
            "Alerts paged while their bucket was still filling (before it closed).",
            registry=registry,
        )
        self.detector_resets = Counter(
            "tocsin_detector_resets_total",
            "Series whose stored detector state could not be read (another version or bucket "
            "width) and started again.",
            registry=registry,
        )
        self.deliveries = Counter(
            "tocsin_deliveries_total",
            "Delivery attempts by receiver and outcome.",
            ["receiver", "outcome"],
            registry=registry,
        )
        self.delivery_dead_letters = Counter(
            "tocsin_delivery_dead_letters_total",
            "Alert steps a receiver never accepted after the last attempt, written to "
            "alerts.deliveries.dlq (one per alert of a failed group notification).",
            ["receiver"],
            registry=registry,
        )
        self.delivery_throttled = Counter(
            "tocsin_delivery_throttled_seconds_total",
            "Seconds outbound sends waited for Tocsin's own per-receiver rate limit.",
            ["receiver"],
            registry=registry,
        )
        self.delivery_latency = Histogram(
            "tocsin_delivery_latency_seconds",
            "Time from an alert step being emitted to the receiver accepting it.",
            ["receiver"],
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
            registry=registry,
        )
        self.consumer_lag = Gauge(
            "tocsin_consumer_lag",
            "Messages not yet committed by this worker, per assigned topic partition "
            "(log end offset minus committed offset), read at scrape time.",
            ["topic", "partition"],
            registry=registry,
        )
        self.stalled_partitions = Gauge(
            "tocsin_stalled_partitions",
            "Partitions of the mention path (mentions.raw, mentions.classified) with records "
            "waiting and no committed progress for TOCSIN_STALL_AFTER_S; /healthz fails while > 0.",
            registry=registry,
        )
        self.ingest_requests = Counter(
            "tocsin_ingest_requests_total",
            "HTTP ingest requests (POST /api/mentions) by outcome.",
            ["outcome"],
            registry=registry,
        )
        self.ingest_mentions = Counter(
            "tocsin_ingest_mentions_total",
            "Mentions read from HTTP ingest requests: accepted onto mentions.raw or rejected "
            "(rejected ones are also counted in tocsin_dead_letters_total by reason).",
            ["result"],
            registry=registry,
        )
        for outcome in INGEST_OUTCOMES:
            self.ingest_requests.labels(outcome)
        for result in ("accepted", "rejected"):
            self.ingest_mentions.labels(result)
        self.approval_drafts_pending = Gauge(
            "tocsin_approval_drafts_pending",
            "Response drafts awaiting a decision on this worker's partitions.",
            registry=registry,
        )
        self.approval_decisions = Counter(
            "tocsin_approval_decisions_total",
            "Approval requests by action and outcome (ok or refused, refusals are audited too).",
            ["action", "outcome"],
            registry=registry,
        )
        self.approval_refusals = Counter(
            "tocsin_approval_refusals_total",
            "Refused approval requests by reason code (bad_signature, csrf_mismatch, wrong_role...).",
            ["reason"],
            registry=registry,
        )
        self.approval_sla_breaches = Counter(
            "tocsin_approval_sla_breaches_total",
            "Approvals not given before their deadline (each escalates to a deputy).",
            registry=registry,
        )
        self.publications = Counter(
            "tocsin_publications_total",
            "Publish attempts of approved responses by target and outcome.",
            ["target", "outcome"],
            registry=registry,
        )
        self.pv_cases = Counter(
            "tocsin_pv_cases_total",
            "Adverse-event mentions triaged into cases, by outcome (new: valid, possible: "
            "criteria missing, refused: an event that could not apply).",
            ["outcome"],
            registry=registry,
        )
        self.pv_cases_near_due = Gauge(
            "tocsin_pv_cases_near_due",
            "Valid cases on this worker not sent to safety nor closed whose reporting deadline "
            "is less than 3 days away or past, by seriousness (serious: 15 days, other: 90).",
            ["seriousness"],
            registry=registry,
        )
        self.pv_cases_dropped = Counter(
            "tocsin_pv_cases_dropped_total",
            "Handled cases dropped from this worker's cases table (the pv.cases topic keeps "
            "them), by reason (expired: handled longer ago than TOCSIN_PV_CASES_KEEP_DAYS; cap: "
            "the table held more than TOCSIN_PV_CASES_MAX).",
            ["reason"],
            registry=registry,
        )
        self.pv_cases_held = Gauge(
            "tocsin_pv_cases_held",
            "Cases in this worker's cases table.",
            registry=registry,
        )
        self.pv_cases_over_cap = Gauge(
            "tocsin_pv_cases_over_cap",
            "Cases this worker's cases table holds beyond TOCSIN_PV_CASES_MAX; 0 normally. Handled "
            "cases over the cap leave within a minute, so a lasting value counts cases not yet "
            "sent to safety nor closed, which are never dropped.",
            registry=registry,
        )
        self.console_records = Counter(
            "tocsin_console_records_total",
            "Records the console feed read, by kind of row and outcome (stored: upserted into the "
            "console store; rejected: malformed, skipped).",
            ["kind", "outcome"],
            registry=registry,
        )
        self.console_lag = Gauge(
            "tocsin_console_store_lag_seconds",
            "Seconds from the oldest record of the console feed's last batch being appended to "
            "its topic to the batch being stored.",
            registry=registry,
        )
        self.console_behind = Gauge(
            "tocsin_console_feed_behind_records",
            "Records on the fed topics that the console feed has not stored yet (end offsets "
            "minus its position, summed over partitions; 0 on a worker that does not write).",
            registry=registry,
        )
        self.console_errors = Counter(
            "tocsin_console_store_errors_total",
            "Console feed failures by operation (write: a batch not stored; purge: a retention "
            "pass failed; feed: the feed stopped and restarts).",
            ["operation"],
            registry=registry,
        )
        self.console_retention_deleted = Counter(
            "tocsin_console_retention_deleted_total",
            "Mentions deleted from the console store because they were older than "
            "TOCSIN_CONSOLE_RETENTION_DAYS.",
            registry=registry,
        )
        self.console_writer = Gauge(
            "tocsin_console_store_writer",
            "1 when this worker's console feed writes the store (always with SQLite; with "
            "PostgreSQL, the one worker holding the writer lock).",
            registry=registry,
        )
        for kind in CONSOLE_KINDS:
            for outcome in ("stored", "rejected"):
                self.console_records.labels(kind, outcome)
        for operation in CONSOLE_OPERATIONS:
            self.console_errors.labels(operation)
        for outcome in CASE_OUTCOMES:
            self.pv_cases.labels(outcome)
        for seriousness in ("serious", "non_serious"):
            self.pv_cases_near_due.labels(seriousness)
        for reason in ("expired", "cap"):
            self.pv_cases_dropped.labels(reason)
        for action in APPROVAL_ACTIONS:
            for outcome in ("ok", "refused"):
                self.approval_decisions.labels(action, outcome)
        for target in ("publish_webhook", "slack_thread"):
            for outcome in ("delivered", "retried", "failed", "refused_mismatch"):
                self.publications.labels(target, outcome)
        for agent in AGENTS:
            self.messages_in.labels(agent)
            self.messages_out.labels(agent)
        for reason in REASONS:
            self.dead_letters.labels(reason)
        for topic in CHECKED_TOPICS:
            self.internal_dead_letters.labels(topic)
        for reason in FILTER_REASONS:
            self.filtered.labels(reason)
        for reason in DEDUP_FORGET_REASONS:
            self.dedup_forgotten.labels(reason)
        for state in ALERT_STATES:
            for severity in SEVERITIES:
                self.alerts.labels(state, severity)
        for receiver in receivers:
            self.delivery_latency.labels(receiver)
            self.delivery_dead_letters.labels(receiver)
            self.delivery_throttled.labels(receiver)
            for outcome in OUTCOMES:
                self.deliveries.labels(receiver, outcome)
        del topics  # reserved: per-topic series appear as data arrives (bounded by the taxonomy)


def get_metrics(receivers: Iterable[str] = ("console",)) -> TocsinMetrics:
    """A worker's metrics against a registry of its own (``pipeline.services`` keeps the one),
    with the process's own figures: ``process_resident_memory_bytes`` (the worker's RSS, what a
    Kubernetes memory limit is checked against), CPU seconds, open file descriptors."""
    registry = CollectorRegistry(auto_describe=True)
    ProcessCollector(registry=registry)
    return TocsinMetrics(registry, receivers=receivers)
