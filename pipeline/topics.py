"""Faust topic declarations, built from the plain specs in ``pipeline/topology.py``."""

from __future__ import annotations

from typing import Any

from faust.types import TopicT

from pipeline import records, topology
from pipeline.app import app


def _topic(spec: topology.TopicSpec, **kwargs: Any) -> TopicT:
    return app.topic(
        spec.name,
        partitions=spec.partitions,
        config=dict(spec.config) or None,
        internal=False,
        **kwargs,
    )


# Raw input stays bytes: the decoder must see exactly what arrived, invalid UTF-8 included.
raw_mentions = _topic(topology.RAW, key_type=bytes, value_type=bytes, value_serializer="raw")
dead_letters = _topic(topology.DLQ, value_type=records.DeadLetter)
classified = _topic(topology.CLASSIFIED, key_type=str, value_type=records.ClassifiedMention)
buckets = _topic(topology.BUCKETS, key_type=str, value_type=records.Bucket)
signals = _topic(topology.SIGNALS, key_type=str, value_type=records.Signal)
alerts = _topic(topology.ALERTS, key_type=str, value_type=records.Alert)
deliveries = _topic(topology.DELIVERIES, key_type=str, value_type=records.DeliveryReceipt)
delivery_dead_letters = _topic(
    topology.DELIVERY_DLQ, key_type=str, value_type=records.DeliveryDeadLetter
)

# Live sources' checkpoints: read by the worker only to hold its one partition (the sources'
# owner when they run inside the worker, pipeline.sources.in_worker).
source_checkpoints = _topic(
    topology.SOURCE_CHECKPOINTS, key_type=bytes, value_type=bytes, value_serializer="raw"
)

# Rapid-response approvals, all keyed by draft id.
response_drafts = _topic(topology.DRAFTS, key_type=str, value_type=records.DraftRecord)
response_decisions = _topic(topology.DECISIONS, key_type=str, value_type=records.DecisionRecord)
response_approved = _topic(topology.APPROVED, key_type=str, value_type=records.ApprovedRecord)
response_published = _topic(topology.PUBLISHED, key_type=str, value_type=records.PublishReceipt)
response_audit = _topic(topology.AUDIT, key_type=str, value_type=records.AuditRecord)
ack_commands = _topic(topology.ACKS, key_type=str, value_type=records.AckCommand)
silence_commands = _topic(topology.SILENCES, key_type=str, value_type=records.SilenceCommand)
alert_groups_topic = _topic(topology.GROUPS, key_type=str, value_type=records.GroupCommand)
case_events = _topic(topology.CASES, key_type=str, value_type=records.CaseEvent)
erasures = _topic(topology.ERASURES, key_type=str, value_type=records.ErasureCommand)
