"""The audit log's record shape and its exporter.

Every decision, and every refused request, becomes one :class:`AuditEntry`: who, what, on which
draft, when, from where (channel + remote address), the outcome, the reason code, and for
approvals and publications the exact text and its SHA-256. Entries are plain JSON-able dicts on
the wire (``to_dict`` / ``from_dict``) so the append-only Kafka topic is readable by any consumer,
and so an auditor can check that the published text is byte-for-byte the approved one.

The exporter reads an *iterable* of entries (a Kafka consumer, a file, a list in tests) and writes
CSV or JSON Lines; filtering ``--since`` is done here so the CLI stays a thin wrapper.
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime
from typing import IO, Any, Literal

from pipeline.approvals.errors import ApprovalRefused

CHANNELS = ("web", "slack", "api", "system")
OUTCOMES = ("ok", "refused")
Channel = Literal["web", "slack", "api", "system"]
ExportFormat = Literal["csv", "json"]


@dataclass(frozen=True)
class Origin:
    """Where a request came from: the channel and the client address (None for system events)."""

    channel: str
    remote_addr: str | None = None

    def __post_init__(self) -> None:
        if self.channel not in CHANNELS:
            raise ValueError(f"channel {self.channel!r} is not one of {', '.join(CHANNELS)}")

    @classmethod
    def system(cls) -> Origin:
        return cls("system", None)


@dataclass(frozen=True)
class AuditEntry:
    """One line of the audit log. ``text`` is the exact text for approve/publish, else ''."""

    id: str
    at: datetime
    actor: str
    action: str
    draft_id: str
    outcome: str
    reason: str
    detail: str
    channel: str
    remote_addr: str
    text_hash: str = ""
    text: str = ""
    comment: str = ""
    version: int = 0

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["at"] = self.at.isoformat()
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AuditEntry:
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        values["at"] = datetime.fromisoformat(values["at"])
        return cls(**values)


def text_hash(text: str) -> str:
    """SHA-256 of the exact UTF-8 text: what an approval is bound to."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def make_entry(
    *,
    at: datetime,
    actor: str,
    action: str,
    draft_id: str,
    origin: Origin,
    outcome: str = "ok",
    reason: str = "",
    detail: str = "",
    text: str = "",
    comment: str = "",
    version: int = 0,
    with_text: bool = False,
) -> AuditEntry:
    """Build an entry with a deterministic id, so a replayed event never counts twice.

    The id hashes every field, so two identical requests at the same instant collapse (they are
    the same fact) while any difference gives a new id. ``with_text`` keeps the full text (for
    approvals and publications); otherwise only its hash is recorded.
    """
    if outcome not in OUTCOMES:
        raise ValueError(f"outcome {outcome!r} is not one of {OUTCOMES}")
    if at.tzinfo is None:
        raise ValueError("audit times must be timezone-aware (UTC)")
    digest = text_hash(text) if text else ""
    basis = json.dumps(
        [
            at.isoformat(),
            actor,
            action,
            draft_id,
            origin.channel,
            origin.remote_addr,
            outcome,
            reason,
            digest,
            comment,
            version,
        ],
        ensure_ascii=False,
    )
    return AuditEntry(
        id=hashlib.sha256(basis.encode("utf-8")).hexdigest()[:24],
        at=at.astimezone(UTC),
        actor=actor,
        action=action,
        draft_id=draft_id,
        outcome=outcome,
        reason=reason,
        detail=detail,
        channel=origin.channel,
        remote_addr=origin.remote_addr or "",
        text_hash=digest,
        text=text if with_text else "",
        comment=comment,
        version=version,
    )


def refusal_entry(
    error: ApprovalRefused,
    *,
    at: datetime,
    actor: str,
    action: str,
    draft_id: str,
    origin: Origin,
) -> AuditEntry:
    """The audit entry for a request refused at the edge (bad signature, CSRF, link, auth).

    ``actor`` is whatever the request *claimed* ("anonymous" or a Slack user id when it could not
    be authenticated): an auditor wants to see forged attempts, not only successful ones.
    """
    from pipeline.approvals.errors import DecisionRefused

    if isinstance(error, DecisionRefused):
        return error.entry
    return make_entry(
        at=at,
        actor=actor or "anonymous",
        action=action,
        draft_id=draft_id,
        origin=origin,
        outcome="refused",
        reason=error.reason,
        detail=error.detail,
    )


# -- export ------------------------------------------------------------------------------------
_CSV_FIELDS = [f.name for f in fields(AuditEntry)]


def select(
    entries: Iterable[AuditEntry | dict[str, Any]], since: datetime | None
) -> Iterator[AuditEntry]:
    """Entries (records or their dicts) at or after ``since``, in the order given."""
    if since is not None and since.tzinfo is None:
        since = since.replace(tzinfo=UTC)
    for item in entries:
        entry = item if isinstance(item, AuditEntry) else AuditEntry.from_dict(item)
        if since is None or entry.at >= since:
            yield entry


def export(
    entries: Iterable[AuditEntry | dict[str, Any]],
    out: IO[str],
    fmt: ExportFormat = "json",
    since: datetime | None = None,
) -> int:
    """Write entries as CSV (header + one row each) or JSON Lines; returns how many were written.

    JSON Lines rather than one JSON array so an export of a long log streams and a partial file
    is still readable line by line.
    """
    count = 0
    if fmt == "csv":
        writer = csv.DictWriter(out, fieldnames=_CSV_FIELDS, lineterminator="\n")
        writer.writeheader()
        for entry in select(entries, since):
            writer.writerow(entry.to_dict())
            count += 1
    elif fmt == "json":
        for entry in select(entries, since):
            out.write(json.dumps(entry.to_dict(), ensure_ascii=False, sort_keys=True) + "\n")
            count += 1
    else:
        raise ValueError(f"format {fmt!r} is not csv or json")
    return count
