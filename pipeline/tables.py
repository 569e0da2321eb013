"""Changelog-backed tables: the state that must survive a worker restart or rebalance.

Values are plain JSON dicts rather than records so their shape can grow without a migration; each
table's key is the Kafka key of the stream that writes it, so a table partition always lives with
the stream partition that updates it (Faust writes the changelog to the current event's partition).
"""

from __future__ import annotations

from typing import Any, cast

from faust.types import TableT

from pipeline.app import app
from pipeline.topology import ERASABLE_TABLES

#: brand -> open event-time buckets, watermark, the last closed bucket and each watched topic's
#: detector (count_mentions: counting and detection share the record, see pipeline.counting.judge).
open_buckets = app.Table("open_buckets", default=dict, help="open buckets and detectors per brand")
#: mention id -> [raw partition, raw offset, arrival second] where ingest first accepted it
#: (classify_mentions, pipeline.ingest.dedup); written to the raw partition the record was read from.
mention_ids = app.Table("mention_ids", default=None, help="mention ids ingest accepted recently")
#: dedup key -> {"alert": latest alert step, "delivered": {"<state>/<receiver>": iso time}}.
alert_book = app.Table("alert_book", default=dict, help="alerts and what was delivered")
#: dedup key -> {"acks": [{"at", "by", "via", "action"}, ...]} (acknowledge_alerts).
acks = app.Table("acks", default=dict, help="acknowledgements per alert")
#: silence id -> silence dict (manage_silences). Global: every worker checks every silence;
#: one partition and a recovery buffer of 1, as Faust's docs advise for global tables.
silences = app.GlobalTable(
    "silences", default=dict, partitions=1, recovery_buffer_size=1, help="silences by id"
)
#: draft id -> approval state (the state machine's dict: draft, requirement, approvals, status).
approvals = app.Table("approvals", default=dict, help="approval state per response draft")
#: draft id -> the newest audit entries of that draft (the full log is the audit topic).
audit_trail = app.Table("audit_trail", default=list, help="recent audit entries per draft")
#: draft id -> {"hash": published text hash, "targets": {target: iso time}} (publish step).
publications = app.Table("publications", default=dict, help="what was published per draft")
#: group id -> {"group": Grouper.dump() of the group, "pending": the notification being sent and
#: the receivers it reached} (notify_groups).
alert_groups = app.Table("alert_groups", default=dict, help="alert groups and their timers")
#: case id -> the pharmacovigilance case (``pipeline.pv.cases``: status, clock, notes), track_cases.
cases = app.Table("cases", default=dict, help="pharmacovigilance cases by id")

#: The tables ``tocsin privacy erase`` removes an author's data from (``erase_authors``), by name
#: (``pipeline.topology.ERASABLE_TABLES`` says which and why).
ERASABLE: dict[str, TableT[str, Any]] = {
    name: cast("TableT[str, Any]", app.tables[name]) for name in ERASABLE_TABLES
}
