"""``tocsin pv triage``: CSV and JSONL round trips (a keyword classifier stands in for the model)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from models import classifier as classifier_module
from pipeline.cli import cli
from tests.unit.models.test_models_classify_file import KeywordClassifier

ROWS = [
    {
        "id": "m1",
        "text": "Glytera made me sick, I ended up in hospital",
        "author": "@ann",
        "src": "x",
    },
    {"id": "m2", "text": "Brenmoor shares up 4% after the earnings call", "author": "", "src": "y"},
    {"id": "m3", "text": "Ma fille de 9 ans a des vertiges sous Neviora", "author": "", "src": "z"},
]


def _run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, src: Path, dest: Path) -> None:
    monkeypatch.setattr(classifier_module, "load_classifier", lambda *a, **k: KeywordClassifier())
    result = CliRunner().invoke(cli, ["pv", "triage", "--input", str(src), "--output", str(dest)])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout.splitlines()[-1])["classified"] == 3


def test_jsonl_round_trip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    src, dest = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in ROWS), encoding="utf-8")
    _run(tmp_path, monkeypatch, src, dest)
    out = [json.loads(line) for line in dest.read_text(encoding="utf-8").splitlines()]
    assert [o["id"] for o in out] == ["m1", "m2", "m3"]
    assert [o["src"] for o in out] == ["x", "y", "z"]  # other fields kept
    assert out[0]["topics"] == ["adverse_event"] and "scores" in out[0]
    assert out[0]["case"] == {
        "valid": True,
        "criteria": {"reporter": True, "patient": True, "product": True, "reaction": True},
        "product": "Glytera",
        "company_product": True,
        "reactions": ["Malaise"],
        "serious": True,
        "seriousness": ["hospitalisation"],
    }
    assert out[1]["case"]["valid"] is False and out[1]["case"]["product"] is None
    assert out[2]["case"]["reactions"] == ["Dizziness"] and out[2]["case"]["valid"]


def test_csv_round_trip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    src, dest = tmp_path / "in.csv", tmp_path / "out.csv"
    with src.open("w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=["id", "src", "author", "text"])
        w.writeheader()
        w.writerows(ROWS)
    _run(tmp_path, monkeypatch, src, dest)
    with dest.open(newline="", encoding="utf-8") as f:
        out = list(csv.DictReader(f))
    assert [o["src"] for o in out] == ["x", "y", "z"]
    assert out[0]["labels"] == "adverse_event"
    case = json.loads(out[0]["case"])  # a JSON string column
    assert case["valid"] and case["product"] == "Glytera"
    assert json.loads(out[1]["case"])["criteria"]["reporter"] is False
    assert json.loads(out[2]["case"])["criteria"] == dict.fromkeys(
        ("reporter", "patient", "product", "reaction"), True
    )


def test_help_says_case_is_json_in_csv() -> None:
    result = CliRunner().invoke(cli, ["pv", "triage", "--help"])
    assert result.exit_code == 0
    assert "JSON string" in " ".join(result.output.split())
