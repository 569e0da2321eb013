"""``tocsin pv cases export`` against a real broker: case events in, CSV and JSON cases out."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from click.testing import CliRunner

from pipeline.cli import cli
from pipeline.ops.topics import ensure_topics
from pipeline.pv.cases import open_case
from pipeline.pv.triage import CaseAssessment
from pipeline.topology import CASES
from tests.integration.conftest import produce
from tests.kafka_fixture import FreshNames, KafkaBroker

ARRIVED = datetime(2026, 11, 20, 23, 30, tzinfo=UTC)


def opened(i: int, *, valid: bool, serious: bool) -> dict[str, object]:
    assessment = CaseAssessment(
        reporter=True,
        patient=valid,
        product="Glytera",
        reactions=("Nausea", "Dizziness"),
        seriousness=("hospitalisation",) if serious else (),
        patient_details={"who": "my mother"} if valid else {},
    )
    mention = {"id": f"x:{i}", "url": f"https://x.example/{i}", "text": f"report {i}, ça va"}
    case = open_case(
        mention={**mention, "author": "ab" * 16, "author_key": "k1", "lang": "fr"},
        assessment=assessment,
        received_at=ARRIVED,
        tz=ZoneInfo("Europe/Paris"),
    )
    return {
        "case_id": case["case_id"],
        "kind": "open",
        "at": ARRIVED.isoformat(),
        "by": "tocsin",
        "case": case,
    }


def test_export_folds_the_events_into_cases(
    kafka_broker: KafkaBroker, fresh_topics: FreshNames
) -> None:
    [spec] = fresh_topics.specs([CASES])
    ensure_topics(kafka_broker.bootstrap, [spec], timeout_s=60)
    serious, possible = opened(1, valid=True, serious=True), opened(2, valid=False, serious=False)
    at = "2026-11-22T09:00:00+00:00"
    events = [
        serious,
        possible,
        {"case_id": serious["case_id"], "kind": "move", "to": "in_review", "at": at, "by": "sofia"},
        {
            "case_id": serious["case_id"],
            "kind": "note",
            "text": "age asked",
            "at": at,
            "by": "sofia",
        },
        {
            "case_id": possible["case_id"],
            "kind": "move",
            "to": "sent_to_safety",
            "at": at,
            "by": "x",
        },
    ]
    payloads = [json.dumps(e).encode() for e in events] + [b"{not json"]
    keys: list[bytes | None] = [str(e["case_id"]).encode() for e in events]
    keys.append(b"junk")
    produce(kafka_broker.bootstrap, spec.name, payloads, keys=keys)

    runner = CliRunner()
    base = ["pv", "cases", "export", "--bootstrap", kafka_broker.bootstrap, "--topic", spec.name]
    as_json = runner.invoke(cli, [*base, "--format", "json", "--timeout", "60"])
    assert as_json.exit_code == 0, as_json.output
    assert "2 cases exported (2 events could not apply)" in as_json.stderr
    rows = {r["source_id"]: r for r in json.loads(as_json.stdout)}
    assert rows["x:1"]["status"] == "in_review" and rows["x:1"]["notes"][0]["text"] == "age asked"
    assert (rows["x:1"]["day_zero"], rows["x:1"]["due"]) == ("2026-11-21", "2026-12-06")
    assert rows["x:1"]["seriousness"] == ["hospitalisation"]
    assert rows["x:2"]["status"] == "possible" and rows["x:2"]["missing"] == ["patient"]
    assert rows["x:2"]["due"] is None and rows["x:1"]["text"] == "report 1, ça va"

    as_csv = runner.invoke(cli, [*base, "--format", "csv", "--status", "in_review"])
    assert as_csv.exit_code == 0, as_csv.output
    [only] = list(csv.DictReader(io.StringIO(as_csv.stdout)))
    assert only["source_id"] == "x:1" and only["reactions"] == "Nausea; Dizziness"
    assert only["serious"] == "true" and only["reporter"] == "ab" * 16
    assert json.loads(only["patient"]) == {"who": "my mother"}
