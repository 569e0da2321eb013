"""record_audit: the append-only audit topic -> the per-draft trail the web pages show.

The audit topic is the record (never compacted, kept until archived); this agent only keeps the
newest entries of each draft in a changelog-backed table so the draft and audit pages render
without reading Kafka per request. Refusals caught at the edge (forged Slack signature, CSRF,
expired link) reach the topic straight from the web handler and show up here the same way.
Entries are de-duplicated by their deterministic id, so a redelivered audit record is shown once.
"""

from __future__ import annotations

from faust.types import StreamT

from pipeline import services
from pipeline.app import app
from pipeline.records import AuditRecord
from pipeline.tables import audit_trail
from pipeline.topics import response_audit

AGENT = "record_audit"
KEEP = 500


def appended(trail: list[dict[str, object]], entry: dict[str, object]) -> list[dict[str, object]]:
    """``trail`` with ``entry`` added once (by id), keeping the newest ``KEEP`` entries."""
    if any(old.get("id") == entry.get("id") for old in trail):
        return trail
    return [*trail, entry][-KEEP:]


@app.agent(response_audit, name=AGENT)
async def record_audit(stream: StreamT[AuditRecord]) -> None:
    metrics = services.metrics()
    async for record in stream:
        metrics.messages_in.labels(AGENT).inc()
        trail = list(audit_trail[record.draft_id])
        audit_trail[record.draft_id] = appended(trail, record.entry)
