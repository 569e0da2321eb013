"""``tocsin backtest``: CSV in/out, bucket inference, plot, labels harness, and stream equivalence."""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from pipeline.detection import DetectorConfig, SeriesDetector
from pipeline.detection.backtest import backtest, infer_bucket_seconds
from pipeline.detection.scoring import Window, score_series, summarise
from pipeline.detection.synthetic import DATASETS, SeriesSpec, Surge, generate, make_dataset

DATA = Path(__file__).resolve().parents[2] / "data" / "series"
T0 = datetime(2024, 3, 4, tzinfo=UTC)


def write_csv(path: Path, rows: Sequence[tuple[datetime, float]], iso: bool = True) -> Path:
    with path.open("w", encoding="utf-8") as handle:
        handle.write("timestamp,value\n")
        for t, x in rows:
            stamp = t.strftime("%Y-%m-%dT%H:%M:%SZ") if iso else str(int(t.timestamp()))
            handle.write(f"{stamp},{x}\n")
    return path


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def surge_rows(seed: int = 1) -> list[tuple[datetime, int]]:
    spec = SeriesSpec(
        name="s",
        days=3,
        level=5.0,
        surges=(Surge(start=288 + 10 * 12, kind="build", multiplier=15, ramp=4, hold=12, decay=6),),
    )
    return generate(spec, seed)


def test_output_is_the_input_rows_plus_score_and_alert(tmp_path: Path) -> None:
    rows = surge_rows()
    src = write_csv(tmp_path / "in.csv", rows)
    out = tmp_path / "out.csv"
    result = CliRunner().invoke(backtest, ["--input", str(src), "--output", str(out)])
    assert result.exit_code == 0, result.output
    got = read_csv(out)
    assert list(got[0]) == ["timestamp", "value", "anomaly_score", "alert"]
    assert [(r["timestamp"], r["value"]) for r in got] == [
        (t.strftime("%Y-%m-%dT%H:%M:%SZ"), str(x)) for t, x in rows
    ]
    det = SeriesDetector()
    readings = [det.update(t, x) for t, x in rows]
    assert [float(r["anomaly_score"]) for r in got] == [r.score for r in readings]
    alerts = [int(r["alert"]) for r in got]
    assert alerts == [1 if r.transition == "fired" else 0 for r in readings]
    assert sum(alerts) == 1  # a page on the bucket where the alert fires, 0 while it stays firing
    assert sum(r.firing for r in readings) > 1


def test_a_csv_saved_with_a_byte_order_mark_reads_like_one_without(tmp_path: Path) -> None:
    rows = surge_rows()
    plain = write_csv(tmp_path / "plain.csv", rows)
    bom = tmp_path / "bom.csv"
    bom.write_bytes(b"\xef\xbb\xbf" + plain.read_bytes().replace(b"\n", b"\r\n"))
    for src in (plain, bom):
        result = CliRunner().invoke(
            backtest, ["--input", str(src), "--output", str(tmp_path / f"out-{src.name}")]
        )
        assert result.exit_code == 0, result.output
    assert read_csv(tmp_path / "out-bom.csv") == read_csv(tmp_path / "out-plain.csv")


def test_stream_and_backtest_give_identical_scores(tmp_path: Path) -> None:
    """The stream keeps each series' state in a table and restores it for every bucket (possibly
    on another worker after a rebalance); feeding that way must give exactly the CSV's scores."""
    rows = surge_rows(seed=3)
    out = tmp_path / "out.csv"
    result = CliRunner().invoke(
        backtest, ["--input", str(write_csv(tmp_path / "in.csv", rows)), "--output", str(out)]
    )
    assert result.exit_code == 0, result.output
    table: dict[str, str] = {}
    stream_scores, stream_alerts = [], []
    for t, x in rows:
        state = json.loads(table["brand|topic"]) if "brand|topic" in table else None
        det = SeriesDetector(DetectorConfig(), state=state)
        reading = det.update(t, x)
        table["brand|topic"] = json.dumps(det.to_state())
        stream_scores.append(reading.score)
        stream_alerts.append(1 if reading.transition == "fired" else 0)
    got = read_csv(out)
    assert [float(r["anomaly_score"]) for r in got] == stream_scores
    assert [int(r["alert"]) for r in got] == stream_alerts


@pytest.mark.parametrize("bucket", [60, 300, 3600])
def test_bucket_size_is_inferred(tmp_path: Path, bucket: int) -> None:
    times = [T0 + timedelta(seconds=bucket * i) for i in range(50) if i % 7 != 3]  # with gaps
    assert infer_bucket_seconds(times) == bucket
    src = write_csv(tmp_path / "in.csv", [(t, 3) for t in times], iso=False)  # Unix seconds
    result = CliRunner().invoke(backtest, ["--input", str(src), "--output", str(tmp_path / "o")])
    assert result.exit_code == 0, result.output


def test_rows_are_replayed_in_time_order_and_duplicates_change_nothing(tmp_path: Path) -> None:
    rows = surge_rows()[:400]
    messy = [*rows[:200], rows[150], *reversed(rows[200:])]  # a duplicate, then out of order
    clean_out, messy_out = tmp_path / "clean.csv", tmp_path / "messy.csv"
    for src_rows, out in ((rows, clean_out), (messy, messy_out)):
        src = write_csv(tmp_path / "in.csv", src_rows)
        result = CliRunner().invoke(backtest, ["--input", str(src), "--output", str(out)])
        assert result.exit_code == 0, result.output
    clean, got = read_csv(clean_out), read_csv(messy_out)
    assert len(got) == len(messy)
    by_time = {r["timestamp"]: r for r in clean}
    for r in got:  # every row keeps its place and gets its own bucket's reading
        assert r["anomaly_score"] == by_time[r["timestamp"]]["anomaly_score"]
    assert got[200]["alert"] == "0"  # the duplicate never pages again
    assert sum(int(r["alert"]) for r in got) == sum(int(r["alert"]) for r in clean)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("time,value\n2024-03-04T00:00:00Z,1\n", "missing column timestamp"),
        ("timestamp,value\nyesterday,1\n", ":2: bad timestamp"),
        ("timestamp,value\n2024-03-04T00:00:00Z,-1\n2024-03-04T00:05:00Z,1\n", ":2: value"),
        ("timestamp,value\n2024-03-04T00:00:00Z,1\n", "cannot infer the bucket size"),
    ],
)
def test_bad_input_is_refused_with_file_and_line(
    tmp_path: Path, content: str, message: str
) -> None:
    src = tmp_path / "bad.csv"
    src.write_text(content, encoding="utf-8")
    result = CliRunner().invoke(backtest, ["--input", str(src), "--output", str(tmp_path / "o")])
    assert result.exit_code == 1
    assert message in result.output


def test_plot_without_matplotlib_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # makes "import matplotlib" fail
    src = write_csv(tmp_path / "in.csv", surge_rows()[:50])
    result = CliRunner().invoke(backtest, ["--input", str(src), "--plot", str(tmp_path / "p.png")])
    assert result.exit_code == 1
    assert "--plot needs matplotlib" in result.output


def test_plot_writes_a_png(tmp_path: Path) -> None:
    import matplotlib  # noqa: F401 - a dev dependency: missing is a failure, not a skip

    src = write_csv(tmp_path / "in.csv", surge_rows())
    png = tmp_path / "plot.png"
    result = CliRunner().invoke(backtest, ["--input", str(src), "--plot", str(png)])
    assert result.exit_code == 0, result.output
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    # Overview plus close-ups: the tall layout (width and height from the IHDR chunk).
    assert (int.from_bytes(data[16:20]), int.from_bytes(data[20:24])) == (1500, 850)


@pytest.mark.parametrize("bucket_minutes", [5, 60, 1440])
def test_plot_close_ups_work_for_any_bucket_size(tmp_path: Path, bucket_minutes: int) -> None:
    rows = [(T0 + timedelta(minutes=bucket_minutes * i), 3 + (i % 5)) for i in range(400)]
    rows[300] = (rows[300][0], 90)
    src = write_csv(tmp_path / "in.csv", rows)
    png = tmp_path / "plot.png"
    result = CliRunner().invoke(backtest, ["--input", str(src), "--plot", str(png)])
    assert result.exit_code == 0, result.output
    assert png.stat().st_size > 10_000


def test_scoring_counts_detections_delays_and_false_alarms() -> None:
    det = SeriesDetector()
    rows = surge_rows()
    readings = [det.update(t, x) for t, x in rows]
    fire = next(r.start for r in readings if r.transition == "fired")
    times = [t for t, _ in rows]
    step = timedelta(minutes=5)
    hit = Window(fire - 2 * step, fire + 20 * step)
    score = score_series("s", times, readings, [hit], 300)
    assert (score.windows, score.detected, score.delays, score.false_alarms) == (1, 1, [2], 0)
    assert score.reward == pytest.approx(1 - 2 / 22)
    assert score.weeks == pytest.approx(3 / 7)
    missed = score_series("s", times, readings, [Window(T0, T0 + 12 * step)], 300)
    assert (missed.detected, missed.false_alarms) == (0, 1)  # the real alert is now a false one
    summary = summarise([score, missed])
    assert summary["detected"] == 1
    assert summary["window_score"] == pytest.approx(100 * ((1 - 2 / 22) - 0.5) / 2)


def test_labels_harness_reports_per_series_and_overall(tmp_path: Path) -> None:
    folder = tmp_path / "set"
    folder.mkdir()
    rows = surge_rows()
    write_csv(folder / "a.csv", rows)
    write_csv(folder / "b.csv", surge_rows(seed=9))
    start = T0 + (288 + 120) * timedelta(minutes=5)
    labels = {"a": [{"start": start.isoformat(), "end": (start + timedelta(hours=2)).isoformat()}]}
    (tmp_path / "w.json").write_text(json.dumps(labels), encoding="utf-8")
    args = ["--input", str(folder), "--labels", str(tmp_path / "w.json")]
    text = CliRunner().invoke(backtest, args)
    assert text.exit_code == 0, text.output
    assert "overall: 1/1 windows detected" in text.output
    data = json.loads(CliRunner().invoke(backtest, [*args, "--json"]).output)
    assert data["overall"]["windows"] == 1
    assert {s["series"] for s in data["series"]} == {"a", "b"}
    assert data["series"][1]["false_alarms"] == 1  # b has the same surge but no label


def test_committed_data_sets_are_what_the_generator_makes(tmp_path: Path) -> None:
    for name, (seed, count) in DATASETS.items():
        specs = make_dataset(name, seed, count)
        assert sorted(p.stem for p in (DATA / name).glob("*.csv")) == [s.name for s in specs]
        first = specs[0]
        rows = generate(first, seed * 1000)
        lines = (DATA / name / f"{first.name}.csv").read_text(encoding="utf-8").splitlines()
        assert lines[1:] == [f"{t.strftime('%Y-%m-%dT%H:%M:%SZ')},{x}" for t, x in rows]


@pytest.mark.parametrize("name", ["heldout3", "heldout2", "dev", "dev2"])
def test_labelled_synthetic_sets_stay_at_their_measured_figures(name: str) -> None:
    """Regression guard on the team's own synthetic sets (smoke tests, not evidence: the defaults
    are chosen on real series, docs/detection.md). Measured at the defaults: 67-88 % of windows,
    median delay 2-4 buckets, 0.04-0.16 false alarms per series-week; at ``high`` 91-100 %."""
    folder = DATA / name
    result = CliRunner().invoke(
        backtest,
        ["--input", str(folder), "--labels", str(folder / "windows.json"), "--json"],
    )
    assert result.exit_code == 0, result.output
    overall = json.loads(result.output)["overall"]
    assert overall["detected_share"] >= 0.6, overall
    assert overall["median_delay_buckets"] <= 4, overall
    assert overall["false_alarms_per_series_week"] <= 0.25, overall


@pytest.mark.parametrize("name", ["heldout3", "heldout2"])
def test_high_sensitivity_finds_nine_surges_in_ten_on_the_synthetic_sets(name: str) -> None:
    """The setting for quiet, regular series: most synthetic windows, still at most one false
    alarm in three series-weeks (measured 86 % and 96 %, 0.28 and 0.31). The issue's target is
    90 %: heldout3 misses it since the tails are exponential and a flare-up within a day of an
    episode must beat it (both chosen on the real series; docs/detection.md)."""
    folder = DATA / name
    result = CliRunner().invoke(
        backtest,
        [
            "--input",
            str(folder),
            "--labels",
            str(folder / "windows.json"),
            "--sensitivity",
            "high",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    overall = json.loads(result.output)["overall"]
    assert overall["detected_share"] >= 0.85, overall
    assert overall["false_alarms_per_series_week"] <= 0.35, overall


def test_twenty_thousand_rows_are_scored_and_timed(tmp_path: Path) -> None:
    # Not a timed test (wall time on a shared machine measures the queue): the figure for
    # issue 8 comes from running the command; here, that it handles the size and reports both.
    spec = SeriesSpec(name="big", days=70, level=6.0)  # 20,160 five-minute buckets
    src = write_csv(tmp_path / "big.csv", generate(spec, 5)[:20_000])
    out = tmp_path / "o.csv"
    result = CliRunner().invoke(backtest, ["--input", str(src), "--output", str(out)])
    assert result.exit_code == 0, result.output
    assert len(read_csv(out)) == 20_000
    assert "20000 rows in " in result.output and "(CPU " in result.output


def surge_mentions() -> list[datetime]:
    """Two quiet days at about one mention a bucket, then 12 a minute for ten minutes."""
    times = [T0 + timedelta(minutes=5 * i, seconds=41) for i in range(2 * 288)]
    surge = T0 + timedelta(days=2, hours=10, minutes=3, seconds=20)
    times += [surge + timedelta(seconds=5 * k) for k in range(120)]
    times += [surge + timedelta(minutes=20 + 5 * i) for i in range(30)]
    return times


def test_mention_jsonl_pages_on_the_mention_that_tips_the_filling_bucket(tmp_path: Path) -> None:
    times = surge_mentions()
    src = tmp_path / "mentions.jsonl"
    src.write_text(
        "".join(
            json.dumps({"id": f"m{i}", "created_at": t.isoformat(), "text": "x"}) + "\n"
            for i, t in enumerate(times)
        ),
        encoding="utf-8",
    )
    out = tmp_path / "paged.jsonl"
    result = CliRunner().invoke(backtest, ["--input", str(src), "--output", str(out)])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in rows] == [f"m{i}" for i in range(len(times))]
    paged = [i for i, r in enumerate(rows) if r["alert"] == 1]
    assert len(paged) == 1, paged
    first = 2 * 288
    assert first <= paged[0] and times[paged[0]] - times[first] <= timedelta(seconds=90)
    assert all(0.0 <= r["anomaly_score"] <= 1.0 for r in rows)


def test_mention_csv_keeps_its_columns_and_adds_score_and_alert(tmp_path: Path) -> None:
    times = surge_mentions()
    src = tmp_path / "m.csv"
    src.write_text(
        "timestamp,author\n" + "".join(f"{t.isoformat()},a{i}\n" for i, t in enumerate(times)),
        encoding="utf-8",
    )
    out = tmp_path / "o.csv"
    result = CliRunner().invoke(backtest, ["--input", str(src), "--output", str(out)])
    assert result.exit_code == 0, result.output
    rows = read_csv(out)
    assert list(rows[0]) == ["timestamp", "author", "anomaly_score", "alert"]
    assert sum(r["alert"] == "1" for r in rows) == 1


def test_sensitivity_and_config_choose_the_settings(tmp_path: Path) -> None:
    rows = []
    for i, (t, x) in enumerate(generate(SeriesSpec(name="s", days=8, level=6.0), 3)):
        rows.append((t, x + (60 if i % 400 == 399 else 0)))
    src = write_csv(tmp_path / "s.csv", rows)
    pages = {}
    for level in ("low", "high"):
        out = tmp_path / f"{level}.csv"
        result = CliRunner().invoke(
            backtest, ["--input", str(src), "--output", str(out), "--sensitivity", level]
        )
        assert result.exit_code == 0, result.output
        pages[level] = sum(r["alert"] == "1" for r in read_csv(out))
    assert pages["high"] > pages["low"], pages
    config = tmp_path / "detection.yaml"
    config.write_text("overrides:\n  - {series: s, sensitivity: high}\n", encoding="utf-8")
    out = tmp_path / "cfg.csv"
    result = CliRunner().invoke(
        backtest, ["--input", str(src), "--output", str(out), "--config", str(config)]
    )
    assert result.exit_code == 0, result.output
    assert sum(r["alert"] == "1" for r in read_csv(out)) == pages["high"]
    config.write_text("sensitivity: loud\n", encoding="utf-8")
    result = CliRunner().invoke(
        backtest, ["--input", str(src), "--output", str(out), "--config", str(config)]
    )
    assert result.exit_code != 0 and "unknown sensitivity" in result.output


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"created_at": "2024-03-04T00:00:00Z"}\nnot json\n', ":2: not JSON"),
        ('{"id": 1}\n', ":1: expected an object with created_at"),
        ('{"created_at": "soon"}\n', ":1: bad timestamp"),
        ("[" * 50_000 + "\n", ":1: not JSON"),
    ],
)
def test_bad_mention_jsonl_is_refused_with_file_and_line(
    tmp_path: Path, text: str, message: str
) -> None:
    src = tmp_path / "bad.jsonl"
    src.write_text(text, encoding="utf-8")
    result = CliRunner().invoke(backtest, ["--input", str(src), "--output", str(tmp_path / "o")])
    assert result.exit_code != 0 and message in result.output, result.output
