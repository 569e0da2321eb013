"""``tocsin backtest`` reads every file variant of :mod:`tests.unit.inputs.variants` and every
timestamp spelling as the plain ISO CSV (same scores, same alerts, rows in input order), and stops
with one line on unusable files. About 4 s.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from pipeline.detection.backtest import backtest
from tests.unit.inputs.variants import READABLE, csv_bytes

T0 = datetime(2024, 3, 4, tzinfo=UTC)
COUNTS = [10, 12, 9, 11, 10, 13, 9, 10, 11, 12] * 60 + [90, 120, 150, 60, 12, 10, 11, 9]
TIMES = [T0 + timedelta(minutes=5 * i) for i in range(len(COUNTS))]


def iso(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def _run(tmp_path: Path, name: str, data: bytes, out: str = "out.csv") -> Any:
    (tmp_path / name).write_bytes(data)
    return CliRunner().invoke(
        backtest, ["--input", str(tmp_path / name), "--output", str(tmp_path / out)]
    )


def _rows(path: Path) -> list[dict[str, Any]]:
    if path.suffix == ".jsonl":
        return [json.loads(x) for x in path.read_text("utf-8").splitlines()]
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def _scores(path: Path) -> list[tuple[str, str]]:
    rows = _rows(path)
    return [(str(r["anomaly_score"]), str(r["alert"])) for r in rows]


def _plain(tmp_path: Path) -> list[tuple[str, str]]:
    rows = [[iso(t), str(v), "n"] for t, v in zip(TIMES, COUNTS, strict=True)]
    result = _run(tmp_path, "plain.csv", csv_bytes(["timestamp", "value", "note"], rows), "p.csv")
    assert result.exit_code == 0, result.output
    scores = _scores(tmp_path / "p.csv")
    assert any(
        alert == "1" for _, alert in scores
    )  # the surge pages: the comparison means something
    return scores


CSV_VARIANTS = [k for k, v in READABLE.items() if v.suffix in (".csv", ".tsv")]


@pytest.mark.parametrize("variant", CSV_VARIANTS)
def test_count_csv_variants_score_as_the_plain_csv(tmp_path: Path, variant: str) -> None:
    rows = [[iso(t), str(v), "n"] for t, v in zip(TIMES, COUNTS, strict=True)]
    v = READABLE[variant]
    result = _run(tmp_path, f"in{v.suffix}", v.write(["timestamp", "value", "note"], rows))
    assert result.exit_code == 0, result.output
    got = _rows(tmp_path / "out.csv")
    assert [r["note"] if "note" in r else r["Note"] for r in got] == ["n"] * len(COUNTS)
    assert _scores(tmp_path / "out.csv") == _plain(tmp_path)


STAMPS: dict[str, Callable[[datetime], str]] = {
    "nab (YYYY-MM-DD HH:MM:SS)": lambda t: t.strftime("%Y-%m-%d %H:%M:%S"),
    "offset +02:00": lambda t: t.astimezone(timezone(timedelta(hours=2))).isoformat(),
    "no seconds": lambda t: t.strftime("%Y-%m-%dT%H:%M"),
    "epoch seconds": lambda t: str(int(t.timestamp())),
    "epoch milliseconds": lambda t: str(int(t.timestamp() * 1000)),
    "twitter created_at": lambda t: t.strftime("%a %b %d %H:%M:%S +0000 %Y"),
    "rfc 2822": lambda t: t.strftime("%a, %d %b %Y %H:%M:%S +0000"),
    "bigquery (... UTC)": lambda t: t.strftime("%Y-%m-%d %H:%M:%S UTC"),
}


@pytest.mark.parametrize("stamp", STAMPS)
def test_timestamp_spellings_score_as_iso(tmp_path: Path, stamp: str) -> None:
    rows = [[STAMPS[stamp](t), str(v), "n"] for t, v in zip(TIMES, COUNTS, strict=True)]
    result = _run(tmp_path, "in.csv", csv_bytes(["timestamp", "value", "note"], rows))
    assert result.exit_code == 0, result.output
    assert _scores(tmp_path / "out.csv") == _plain(tmp_path)


def _mentions(times: list[datetime]) -> list[list[str]]:
    return [[iso(t), f"post {i}, at {iso(t)}"] for i, t in enumerate(times)]


MENTION_TIMES = [T0 + timedelta(seconds=60 * i) for i in range(1440)] + [
    T0 + timedelta(seconds=86_400 + 2 * i) for i in range(150)
]


@pytest.mark.parametrize("variant", ["json array in .json", "json array in .jsonl", "jsonl utf-16"])
def test_mention_json_variants_score_as_jsonl(tmp_path: Path, variant: str) -> None:
    objs = [{"created_at": t, "text": x} for t, x in _mentions(MENTION_TIMES)]
    plain = "".join(json.dumps(o) + "\n" for o in objs).encode()
    assert _run(tmp_path, "plain.jsonl", plain, "p.jsonl").exit_code == 0
    v = READABLE[variant]
    result = _run(
        tmp_path,
        f"in{v.suffix}",
        v.write(["created_at", "text"], _mentions(MENTION_TIMES)),
        "o.jsonl",
    )
    assert result.exit_code == 0, result.output
    assert _scores(tmp_path / "o.jsonl") == _scores(tmp_path / "p.jsonl")
    assert any(alert == "1" for _, alert in _scores(tmp_path / "p.jsonl"))


def test_unsorted_mentions_are_sorted_and_written_back_in_input_order(tmp_path: Path) -> None:
    rows = _mentions(MENTION_TIMES)
    assert (
        _run(tmp_path, "sorted.csv", csv_bytes(["timestamp", "text"], rows), "s.csv").exit_code == 0
    )
    result = _run(tmp_path, "rev.csv", csv_bytes(["timestamp", "text"], rows[::-1]), "r.csv")
    assert result.exit_code == 0, result.output
    back = _rows(tmp_path / "r.csv")
    assert [r["text"] for r in back] == [x for _, x in rows[::-1]]
    assert sorted(_scores(tmp_path / "r.csv")) == sorted(_scores(tmp_path / "s.csv"))


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("in.csv", b"", "empty file"),
        ("in.xlsx", b"PK\x03\x04rest-of-a-workbook", "save the sheet as CSV"),
        ("in.csv", b"timestamp,value\n", "no rows"),
        ("in.csv", b"time,value\n2024-03-04,3\n", "missing column timestamp"),
        ("in.csv", b"timestamp,value\n2024-03-04T00:00Z,3\n\x1a\n", ":3: 1 fields where"),
        ("in.csv", b"timestamp,value\n04/03/2024 10:00,3\n", ":2: bad timestamp"),
        (
            "in.jsonl",
            b'{"created_at": "2024-03-04T00:00:00Z"}\n{"created_at": null}\n',
            ":2: expected",
        ),
    ],
)
def test_unusable_files_stop_with_one_line_and_write_nothing(
    tmp_path: Path, name: str, data: bytes, message: str
) -> None:
    result = _run(tmp_path, name, data)
    assert result.exit_code != 0 and message in result.output, result.output
    assert len(result.output.strip().splitlines()) == 1 and "Traceback" not in result.output
    assert not (tmp_path / "out.csv").exists()


def test_output_folder_is_created_and_dash_is_refused(tmp_path: Path) -> None:
    rows = [[iso(t), str(v)] for t, v in zip(TIMES, COUNTS, strict=True)]
    result = _run(tmp_path, "in.csv", csv_bytes(["timestamp", "value"], rows), "new/deeper/o.csv")
    assert result.exit_code == 0, result.output
    assert len(_scores(tmp_path / "new" / "deeper" / "o.csv")) == len(COUNTS)
    result = CliRunner().invoke(backtest, ["--input", str(tmp_path / "in.csv"), "--output", "-"])
    assert result.exit_code == 2 and "is not supported" in result.output
    assert not Path("-").exists()
