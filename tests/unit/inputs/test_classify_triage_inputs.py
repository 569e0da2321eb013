"""``tocsin classify`` and ``tocsin pv triage`` read every file variant of
:mod:`tests.unit.inputs.variants` as the plain CSV, and stop with one line on unusable files.

A keyword classifier stands in for the model: what is under test is the reading. About 6 s.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from models import classifier as classifier_module
from pipeline.cli import cli
from tests.unit.inputs.variants import READABLE, csv_bytes
from tests.unit.models.test_models_classify_file import KeywordClassifier

HEADER = ["id", "text", "author"]
TEXTS = [
    'the price, "quoted"\nand a second line',  # delimiter, quotes and a newline inside the field
    "sick 😷 \u200fعربي\u200b after the dose",  # emoji, right-to-left text, zero-width space
    "price up",
]
ROWS = [["1", TEXTS[0], "@a"], ["2", TEXTS[1], "@b"], ["3", TEXTS[2], ""]]
COMMANDS = {"classify": ["classify"], "pv triage": ["pv", "triage"]}


def _run(tmp_path: Path, command: str, name: str, data: bytes, out: str = "out.jsonl") -> Any:
    src = tmp_path / name
    src.write_bytes(data)
    args = [*COMMANDS[command], "--input", str(src), "--output", str(tmp_path / out)]
    return CliRunner().invoke(cli, args)


@pytest.fixture(autouse=True)
def _keyword_model(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(classifier_module, "load_classifier", lambda *a, **k: KeywordClassifier())


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("variant", READABLE)
def test_every_variant_reads_as_the_plain_csv(tmp_path: Path, command: str, variant: str) -> None:
    v = READABLE[variant]
    result = _run(tmp_path, command, f"in{v.suffix}", v.write(HEADER, ROWS))
    assert result.exit_code == 0, result.output
    out = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text("utf-8").splitlines()]
    assert [r["text"] for r in out] == TEXTS
    assert [r["id"] for r in out] == ["1", "2", "3"]
    if command == "pv triage":  # the other columns are kept, under their header's spelling
        assert [r.get("author", r.get("Author")) for r in out] == ["@a", "@b", ""]
        # and an `Author` column still names the reporter
        assert [r["case"]["criteria"]["reporter"] for r in out] == [True, True, False]


def test_a_field_longer_than_csvs_default_limit_is_read(tmp_path: Path) -> None:
    long = "x" * 150_000  # csv refuses fields over 131,072 characters by default
    result = _run(tmp_path, "classify", "in.csv", csv_bytes(["text"], [[long], ["price"]]))
    assert result.exit_code == 0, result.output
    out = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text("utf-8").splitlines()]
    assert [r["text"] for r in out] == [long, "price"]


@pytest.mark.parametrize("command", COMMANDS)
def test_windows_1252_bytes_are_read_as_such_not_replaced(tmp_path: Path, command: str) -> None:
    rows = [["1", "café \u2013 “prix” naïf"], ["2", "réunion"]]
    latin = csv_bytes(["id", "text"], rows[:1], encoding="cp1252")
    utf8_line = "2,réunion\n".encode()  # a UTF-8 line after it stays UTF-8
    result = _run(tmp_path, command, "in.csv", latin + utf8_line)
    assert result.exit_code == 0, result.output
    out = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text("utf-8").splitlines()]
    assert [r["text"] for r in out] == ["café \u2013 “prix” naïf", "réunion"]


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("in.csv", b"", "empty file"),
        ("in.xlsx", b"PK\x03\x04rest-of-a-workbook", "save the sheet as CSV"),
        ("in.csv", b"id,text\n", "no usable rows"),
        ("in.csv", b"id,body\n1,hi\n", "no 'text' column"),
        ("in.jsonl", b'{"text": null}\n{"text": 5}\n{"id": 1}\n', "no usable rows (3 skipped"),
    ],
)
def test_unusable_files_stop_with_one_line_and_write_nothing(
    tmp_path: Path, command: str, name: str, data: bytes, message: str
) -> None:
    result = _run(tmp_path, command, name, data)
    assert result.exit_code != 0 and message in result.output, result.output
    lines = [line for line in result.output.splitlines() if line.strip() != "classifying"]
    assert "Traceback" not in result.output and len(lines) == 1, result.output  # one line
    assert not (tmp_path / "out.jsonl").exists()


@pytest.mark.parametrize("command", COMMANDS)
def test_output_folder_is_created_and_dash_is_refused(tmp_path: Path, command: str) -> None:
    data = csv_bytes(HEADER, ROWS[:1])
    result = _run(tmp_path, command, "in.csv", data, out="new/deeper/out.csv")
    assert result.exit_code == 0 and (tmp_path / "new" / "deeper" / "out.csv").is_file()
    (tmp_path / "in.csv").write_bytes(data)
    args = [*COMMANDS[command], "--input", str(tmp_path / "in.csv"), "--output", "-"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2 and "'-' (standard input/output) is not supported" in result.output
