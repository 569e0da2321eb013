"""Audit entries: deterministic ids, exact text kept for approvals, CSV/JSON export with --since."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta

import pytest

from pipeline.approvals.audit import AuditEntry, Origin, export, make_entry, text_hash
from pipeline.approvals.state import Approved, decide
from tests.unit.approvals.approvals_helpers import NOW, actor, created, policy


def entries() -> list[AuditEntry]:
    state = created("scandal", severity="warning")
    state, approved = decide(
        state,
        Approved(1, state.text_hash),
        actor("e.lindqvist"),
        policy(),
        NOW + timedelta(minutes=5),
    )
    refused = make_entry(
        at=NOW + timedelta(minutes=6),
        actor="anonymous",
        action="approve",
        draft_id=state.draft_id,
        origin=Origin("slack", "203.0.113.9"),
        outcome="refused",
        reason="bad_signature",
        detail="forged",
    )
    return [*approved, refused]


def test_approval_entries_keep_the_exact_text_and_its_hash() -> None:
    first = entries()[0]
    assert first.action == "approved" and first.outcome == "ok"
    assert first.text and first.text_hash == text_hash(first.text)
    assert first.remote_addr == "192.0.2.10" and first.channel == "web"


def test_entry_ids_are_deterministic_and_distinct() -> None:
    one, two = entries(), entries()
    assert [e.id for e in one] == [e.id for e in two]
    assert len({e.id for e in one}) == len(one)


def test_entries_round_trip_through_dicts() -> None:
    for entry in entries():
        assert AuditEntry.from_dict(json.loads(json.dumps(entry.to_dict()))) == entry


def test_json_lines_export_with_since() -> None:
    out = io.StringIO()
    count = export(entries(), out, "json", since=NOW + timedelta(minutes=6))
    lines = out.getvalue().splitlines()
    assert count == len(lines) == 1
    assert json.loads(lines[0])["reason"] == "bad_signature"


def test_csv_export_reads_dicts_too_and_naive_since_means_utc() -> None:
    out = io.StringIO()
    count = export(
        [e.to_dict() for e in entries()], out, "csv", since=datetime(2026, 11, 22, 16, 0)
    )
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert count == len(rows) == 3
    assert [r["action"] for r in rows] == ["approved", "fully_approved", "approve"]
    assert rows[0]["text"].startswith("We are aware of the allegations")
    assert rows[2]["outcome"] == "refused" and rows[2]["remote_addr"] == "203.0.113.9"


def test_make_entry_refuses_naive_times_and_unknown_outcomes() -> None:
    with pytest.raises(ValueError):
        make_entry(
            at=datetime(2026, 1, 1), actor="a", action="x", draft_id="d", origin=Origin("web")
        )
    with pytest.raises(ValueError):
        make_entry(
            at=datetime(2026, 1, 1, tzinfo=UTC),
            actor="a",
            action="x",
            draft_id="d",
            origin=Origin("web"),
            outcome="maybe",
        )
    with pytest.raises(ValueError):
        Origin("email")
