"""``tocsin audit export`` against a real broker: AuditRecords in, CSV/JSON Lines out, --since."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta

from click.testing import CliRunner

from pipeline.approvals.audit import Origin, make_entry
from pipeline.approvals.state import Approved, decide
from pipeline.cli import cli
from pipeline.ops.procs import Broker
from pipeline.topology import AUDIT
from tests.integration.conftest import produce
from tests.unit.approvals.approvals_helpers import NOW, actor, created, policy


def test_export_reads_the_whole_audit_topic_as_csv_and_json(broker: Broker) -> None:
    state = created("scandal", severity="warning")
    _, approved = decide(
        state,
        Approved(1, state.text_hash),
        actor("e.lindqvist"),
        policy(),
        NOW + timedelta(minutes=5),
    )
    refused = make_entry(
        at=NOW + timedelta(minutes=9),
        actor="anonymous",
        action="approve",
        draft_id="d-other",
        origin=Origin("slack", "203.0.113.9"),
        outcome="refused",
        reason="bad_signature",
    )
    entries = [*approved, refused]
    records = [
        json.dumps(
            {
                "draft_id": e.draft_id,
                "at": e.at.isoformat(),
                "outcome": e.outcome,
                "entry": e.to_dict(),
                "event_id": f"ev{i}",
            }
        ).encode()
        for i, e in enumerate(entries)
    ]
    produce(broker.bootstrap, AUDIT.name, records, keys=[e.draft_id.encode() for e in entries])

    runner = CliRunner()
    result = runner.invoke(
        cli,
        ["audit", "export", "--bootstrap", broker.bootstrap, "--format", "csv", "--timeout", "60"],
    )
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert sorted(r["id"] for r in rows) == sorted(e.id for e in entries)
    approved_row = next(r for r in rows if r["action"] == "approved")
    assert approved_row["text"] == state.draft.text and approved_row["actor"] == "e.lindqvist"
    assert "3 audit entries exported" in result.stderr

    result = runner.invoke(
        cli,
        [
            "audit",
            "export",
            "--bootstrap",
            broker.bootstrap,
            "--since",
            "2026-11-22T16:07:00+00:00",
            "--timeout",
            "60",
        ],
    )
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["reason"] for line in lines] == ["bad_signature"]
