"""``tocsin classify``: CSV and JSONL in and out, empty and malformed rows skipped and counted.

The classifier is a small deterministic stand-in (keyword rules), because what is under test is
the file handling: which rows reach the model, what is written, what is reported. The real model
is exercised by tests/integration/test_model_artefacts.py.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from pathlib import Path

import pytest
from click.testing import CliRunner

from models import classifier as classifier_module
from models.classifier import Prediction
from models.classify_file import InputFormatError, classify_file, describe
from models.cli import classify_cmd


class KeywordClassifier:
    """'price' -> pricing, 'sick' -> adverse_event; records every batch it is given."""

    version = "test-keywords"

    def __init__(self) -> None:
        self.batches: list[list[str]] = []

    def classify(self, texts: Sequence[str]) -> list[Prediction]:
        self.batches.append(list(texts))
        out = []
        for t in texts:
            scores = {
                "pricing": 0.9 if "price" in t else 0.1,
                "adverse_event": 0.8 if "sick" in t else 0.05,
            }
            topics = tuple(k for k, v in scores.items() if v >= 0.5) or ("other",)
            out.append(
                Prediction(
                    topics=topics,
                    scores=scores,
                    stance="critical" if "!" in t else "neutral",
                    stance_scores={"supportive": 0.1, "neutral": 0.6, "critical": 0.3},
                    lang="fr" if "é" in t else "en",
                )
            )
        return out


JSONL = (
    '{"id": "a1", "text": "the price went up"}\n'
    '{"id": "a2", "text": ""}\n'  # empty text
    "{not json\n"  # malformed JSON
    "\n"  # blank line: not a row
    '["a", "list"]\n'  # not an object
    '{"id": 7, "text": "I feel sick!"}\n'
    '{"id": "a5"}\n'  # no text field
    '{"text": 42}\n'  # text of the wrong type
    '{"text": "   "}\n'  # whitespace only
    '{"text": "réunion au congrès"}\n'
)


def test_jsonl_rows_classified_bad_rows_skipped_and_counted(tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text(JSONL, encoding="utf-8")
    src.write_bytes(src.read_bytes() + b'{"text": "caf\xe9 latin-1"}\n')  # one Windows-1252 line
    dest = tmp_path / "out.jsonl"
    clf = KeywordClassifier()
    lines_seen: list[int] = []
    summary = classify_file(src, dest, clf, batch_size=2, on_progress=lines_seen.append)

    out = [json.loads(line) for line in dest.read_text(encoding="utf-8").splitlines()]
    assert [r["line"] for r in out] == [1, 6, 10, 11]
    assert [r["id"] for r in out] == ["a1", "7", None, None]
    # the UTF-8 lines stay UTF-8 and the stray Latin-1 line is read as such, not skipped
    assert [r["text"] for r in out[2:]] == ["réunion au congrès", "café latin-1"]
    assert out[0]["topics"] == ["pricing"] and out[0]["scores"]["pricing"] == 0.9
    assert out[1]["topics"] == ["adverse_event"] and out[1]["stance"] == "critical"
    assert out[2]["topics"] == ["other"] and out[2]["lang"] == "fr"
    assert set(out[0]) == {
        "line",
        "id",
        "text",
        "topics",
        "scores",
        "stance",
        "stance_scores",
        "lang",
    }
    assert summary.classified == 4
    assert dict(summary.skipped) == {
        "empty_text": 2,
        "bad_json": 1,
        "not_object": 1,
        "missing_text": 1,
        "bad_text": 1,
    }
    assert [(s.line, s.kind) for s in summary.reported][:3] == [
        (2, "empty_text"),
        (3, "bad_json"),
        (5, "not_object"),
    ]
    assert [len(b) for b in clf.batches] == [2, 2]  # batched, and no bad row reached the model
    assert lines_seen == [6, 11]
    assert describe(summary)[0] == "classified 4 rows, skipped 6"


CSV_TEXT = (
    "id,text,source\n"
    "c1,the price is outrageous!,x\n"
    "c2,,x\n"  # empty text
    "c3,too,many,fields\n"  # malformed: 4 fields for a 3-column header
    '"c4","multi\nline sick post",reddit\n'  # quoted newline: one record on two lines
    "c5\n"  # malformed: too few fields
    ",,\n"  # all fields empty
    "c6,nothing to see,y\n"
)


def test_csv_rows_with_quoted_newlines_and_bad_field_counts(tmp_path: Path) -> None:
    src = tmp_path / "in.csv"
    src.write_text(CSV_TEXT, encoding="utf-8")
    dest = tmp_path / "out.csv"
    summary = classify_file(src, dest, KeywordClassifier())

    with dest.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["id"] for r in rows] == ["c1", "c4", "c6"]
    assert [r["line"] for r in rows] == ["2", "5", "9"]
    assert rows[0]["labels"] == "pricing" and float(rows[0]["p_pricing"]) == 0.9
    assert rows[1]["labels"] == "adverse_event" and rows[1]["text"] == "multi\nline sick post"
    assert rows[2]["labels"] == "other"
    assert {"stance", "lang", "p_adverse_event", "stance_critical"} <= set(rows[0])
    assert summary.classified == 3
    assert dict(summary.skipped) == {"empty_text": 2, "bad_fields": 2}
    assert [(s.line, s.kind) for s in summary.reported] == [
        (3, "empty_text"),
        (4, "bad_fields"),
        (7, "bad_fields"),
        (8, "empty_text"),
    ]


def test_csv_to_jsonl_and_jsonl_to_csv(tmp_path: Path) -> None:
    src = tmp_path / "in.csv"
    src.write_text("text\nprice up\n", encoding="utf-8")
    classify_file(src, tmp_path / "o.jsonl", KeywordClassifier())
    assert json.loads((tmp_path / "o.jsonl").read_text())["topics"] == ["pricing"]
    src2 = tmp_path / "in.ndjson"
    src2.write_text('{"text": "sick"}\n', encoding="utf-8")
    classify_file(src2, tmp_path / "o.csv", KeywordClassifier())
    assert "adverse_event" in (tmp_path / "o.csv").read_text()


def test_a_byte_order_mark_is_not_part_of_the_header_or_the_first_row(tmp_path: Path) -> None:
    src = tmp_path / "excel.csv"
    src.write_text("text\r\nprice up\r\n", encoding="utf-8-sig")  # as Excel saves UTF-8 CSV
    summary = classify_file(src, tmp_path / "o.jsonl", KeywordClassifier())
    assert summary.classified == 1 and json.loads((tmp_path / "o.jsonl").read_text())["topics"] == [
        "pricing"
    ]
    src2 = tmp_path / "bom.jsonl"
    src2.write_text('{"text": "sick"}\n{"text": "price"}\n', encoding="utf-8-sig")
    summary = classify_file(src2, tmp_path / "o2.jsonl", KeywordClassifier())
    assert summary.classified == 2 and summary.skipped_total == 0


@pytest.mark.parametrize(
    ("name", "content", "match"),
    [
        ("in.csv", "id,body\n1,hello\n", "no 'text' column"),
        ("in.csv", "", "empty file"),
        ("in.csv", "text\n", "no usable rows"),
    ],
)
def test_unusable_files_fail_clearly_and_leave_no_output(
    tmp_path: Path, name: str, content: str, match: str
) -> None:
    src = tmp_path / name
    src.write_text(content, encoding="utf-8")
    with pytest.raises(InputFormatError, match=match):
        classify_file(src, tmp_path / "out.jsonl", KeywordClassifier())
    assert not any(p.name.endswith(("out.jsonl", ".partial")) for p in tmp_path.iterdir())


def test_only_bad_rows_stops_with_the_reasons_and_writes_nothing(tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text('{"text": ""}\nnope\n', encoding="utf-8")
    clf = KeywordClassifier()
    with pytest.raises(InputFormatError, match=r"no usable rows.*bad_json=1, empty_text=1"):
        classify_file(src, tmp_path / "out.jsonl", clf)
    assert not (tmp_path / "out.jsonl").exists() and clf.batches == []


def test_cli_reports_skips_and_prints_a_json_summary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clf = KeywordClassifier()
    monkeypatch.setattr(classifier_module, "load_classifier", lambda *a, **k: clf)
    src = tmp_path / "in.jsonl"
    src.write_text(JSONL, encoding="utf-8")
    dest = tmp_path / "out.jsonl"
    result = CliRunner().invoke(
        classify_cmd, ["--input", str(src), "--output", str(dest), "--batch-size", "4"]
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["classified"] == 3 and summary["skipped"] == 6
    assert summary["skipped_by_reason"]["bad_json"] == 1
    assert f"{src}:3: skipped (bad_json)" in result.stderr
    assert "classifying" in result.stderr  # the progress bar
    assert len(dest.read_text().splitlines()) == 3


def test_cli_bad_file_is_a_clean_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(classifier_module, "load_classifier", lambda *a, **k: KeywordClassifier())
    src = tmp_path / "in.csv"
    src.write_text("body\nx\n", encoding="utf-8")
    result = CliRunner().invoke(
        classify_cmd, ["--input", str(src), "--output", str(tmp_path / "o.csv")]
    )
    assert result.exit_code == 1
    assert "no 'text' column" in result.stderr and "Traceback" not in result.output
