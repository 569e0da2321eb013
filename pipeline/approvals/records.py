"""Stream schemas (``faust.Record``) of the rapid-response approval topics.

Kept out of ``pipeline/records.py`` because they belong to one feature with its own domain core
(``pipeline/approvals/``): these are only the wire formats. Every record is keyed by ``draft_id``
on its topic, so a draft, its decisions, its approval state and its publication share a partition.
The domain core works on plain dicts and dataclasses; these records carry the same fields as JSON
(``isodates=True``) so the audit topic stays readable by any consumer, Faust or not.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import faust


class DraftRecord(faust.Record, serializer="json", isodates=True):
    """A proposed public response for one firing alert, with the context a reviewer needs.

    ``draft`` is the domain core's draft as a dict (template, language, text, hash, required
    roles, deadlines); ``alert`` is the alert step that caused it (the why and the top mentions).
    """

    draft_id: str
    alert_key: str
    created_at: datetime
    draft: dict[str, Any]
    alert: dict[str, Any]


class DecisionRecord(faust.Record, serializer="json", isodates=True):
    """One request to the approval state machine, from a person (web, Slack) or the system.

    ``event`` and ``actor`` are the domain core's own dict forms (``state.event_to_dict``,
    ``Actor.to_dict``), so the topic replays into exactly the same state. ``at`` is stamped at
    the edge and is the ``now`` the state machine decides with: replaying the topic after a
    restart gives the same state and the same audit ids. ``event_id`` is unique per request so
    the page or the Slack handler waiting for the outcome finds the answer to its own request.
    ``context`` carries the alert (the why, the top mentions) when a draft is created; ``reply``
    names the Slack message to rewrite with the outcome.
    """

    event_id: str
    draft_id: str
    at: datetime
    actor: dict[str, Any]
    event: dict[str, Any]
    context: dict[str, Any] | None = None
    reply: dict[str, Any] | None = None


class AuditRecord(faust.Record, serializer="json", isodates=True):
    """One line of the append-only audit log: who did what, when, from where, and the outcome.

    ``entry`` is the domain core's audit entry as a dict (``pipeline.approvals.audit``); the few
    fields copied beside it are the ones a Kafka consumer filters on without parsing the entry.
    """

    draft_id: str
    at: datetime
    outcome: str
    entry: dict[str, Any]
    event_id: str | None = None


class ApprovedRecord(faust.Record, serializer="json", isodates=True):
    """A fully approved response handed to the publish step: the exact text and its hash."""

    draft_id: str
    alert_key: str
    text: str
    text_hash: str
    approved_at: datetime
    approvers: list[str]
    lang: str | None = None
    slack_thread: dict[str, Any] | None = None


class PublishReceipt(faust.Record, serializer="json", isodates=True):
    """The outcome of one attempt to publish an approved response to one target."""

    draft_id: str
    target: str
    attempt: int
    outcome: str
    status_code: int | None
    at: datetime
    text_hash: str
    error: str | None = None
