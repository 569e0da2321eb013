"""``tocsin backtest``: replay a history through the detector and score it against labels.

Why it exists: a comms team should see, on its own history and before going live, what a setting
would have paged on. The command runs the very code the stream runs, so the scores it writes are
the scores the stream would have produced.

Input, one file or a folder of them:

* counts: a CSV with ``timestamp,value`` (ISO-8601 or Unix seconds; further columns are kept); the
  bucket size is inferred from the most common gap. Output: the same rows plus ``anomaly_score``
  (1 - tail probability) and ``alert`` (1 on the bucket where a page goes out);
* mentions: a CSV whose rows have a ``timestamp`` and no ``value`` column, or a JSONL of mentions
  (``created_at``), one row per mention in time order. They are counted into buckets exactly as
  the stream counts them (:class:`~pipeline.detection.mentions.SeriesCounter`, with the allowed
  lateness), so early pages are backtested as the stream fires them. Output: the same rows plus
  ``anomaly_score`` (the score of the mention's bucket so far) and ``alert`` (1 on the mention at
  which a page goes out).

``--sensitivity`` and ``--config`` choose the settings; ``--labels WINDOWS.json`` also scores the
run (:mod:`.scoring`).
"""

from __future__ import annotations

import csv
import json
import math
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import pairwise
from pathlib import Path
from typing import IO, Any

import click

from pipeline.cli_options import not_a_stream
from pipeline.detection.config import (
    DEFAULT_SENSITIVITY,
    SENSITIVITY_LEVELS,
    DetectionSettings,
    DetectorConfigError,
    load_detection_settings,
)
from pipeline.detection.detector import SeriesDetector
from pipeline.detection.mentions import SeriesCounter
from pipeline.detection.plot import plot
from pipeline.detection.reading import Reading
from pipeline.detection.scoring import SeriesScore, Window, load_labels, score_series, summarise
from pipeline.errors import TocsinError
from pipeline.tabular import (
    BadRecord,
    FileUnreadable,
    HeaderError,
    csv_rows,
    fit_record,
    get_field,
    json_records,
    open_text,
    parse_timestamp,
    sniff_format,
)

DEFAULT_LATENESS_SECONDS = 120.0
"""The stream's default allowed lateness (``TOCSIN_ALLOWED_LATENESS_S``)."""
#: What a folder input reads (``.json`` files there are labels and specs; a single ``--input``
#: file may be a JSON array of mentions).
INPUT_SUFFIXES = (".csv", ".tsv", ".jsonl", ".ndjson")


class BacktestError(TocsinError, click.ClickException):
    """The input or options cannot be used; the message says which file and why."""


@dataclass(frozen=True)
class Series:
    """One input file: its rows as read, each row's time, and its value (counts) or None."""

    name: str
    fieldnames: list[str]
    rows: list[dict[str, Any]]
    times: list[datetime]
    values: list[float] | None
    jsonl: bool = False

    @property
    def mentions(self) -> bool:
        return self.values is None


# ---------------------------------------------------------------------------------------- input


def _time(path: Path, line: int, raw: Any) -> datetime:
    try:
        return parse_timestamp(raw)
    except (ValueError, OverflowError, OSError) as exc:
        raise BacktestError(f"{path}:{line}: bad timestamp {str(raw)[:60]!r}") from exc


def read_series(path: Path) -> Series:
    """Read one input file (counts CSV, mention CSV, mention JSONL or JSON array), refusing bad
    rows with the line number; encodings, delimiters and header spellings as
    :mod:`pipeline.tabular` reads them."""
    try:
        handle = open_text(path)
        jsonl = sniff_format(path) == "jsonl"
    except OSError as exc:
        raise BacktestError(f"{path}: cannot read ({exc.strerror})") from exc
    except FileUnreadable as exc:
        raise BacktestError(str(exc)) from exc
    with handle:
        series = _read_jsonl(path, handle) if jsonl else _read_csv(path, handle)
    if not series.rows:
        raise BacktestError(f"{path}: no rows")
    return series


def _read_csv(path: Path, handle: IO[str]) -> Series:
    try:
        header, reader = csv_rows(handle, ("timestamp",))
    except HeaderError as exc:
        raise BacktestError(f"{path}: {exc}, expected a timestamp column") from exc
    except csv.Error as exc:
        raise BacktestError(f"{path}:1: unreadable CSV header ({exc})") from exc
    ti, vi = header.find("timestamp"), header.find("value")
    if ti is None:
        raise BacktestError(
            f"{path}: missing column timestamp (header {header.names[:8]}, "
            f"delimiter {header.delimiter!r})"
        )
    names = header.names
    rows: list[dict[str, Any]] = []
    times, values = [], []
    try:
        for record in reader:
            if not record or all(not c.strip() for c in record):
                continue  # a blank line is not a row
            line = reader.line_num
            record = fit_record(record, len(names))
            if len(record) != len(names):
                raise BacktestError(
                    f"{path}:{line}: {len(record)} fields where the header has {len(names)}"
                )
            times.append(_time(path, line, record[ti]))
            rows.append(dict(zip(names, record, strict=True)))
            if vi is not None:
                values.append(_count(path, line, record[vi]))
    except csv.Error as exc:
        raise BacktestError(f"{path}:{reader.line_num}: not CSV ({exc})") from exc
    return Series(path.stem, names, rows, times, values if vi is not None else None)


def _count(path: Path, line: int, raw: str) -> float:
    try:
        v = float(raw)
    except (TypeError, ValueError) as exc:
        raise BacktestError(f"{path}:{line}: bad value {raw!r}") from exc
    if v < 0 or not math.isfinite(v):
        raise BacktestError(f"{path}:{line}: value must be a finite count >= 0")
    return v


def _read_jsonl(path: Path, handle: IO[str]) -> Series:
    rows: list[dict[str, Any]] = []
    times = []
    for line, row in json_records(handle):
        if isinstance(row, BadRecord):
            raise BacktestError(f"{path}:{line}: {row.detail}")
        stamp = get_field(row, "created_at") if isinstance(row, dict) else None
        if stamp is None:
            raise BacktestError(f"{path}:{line}: expected an object with created_at")
        times.append(_time(path, line, stamp))
        rows.append(row)  # type: ignore[arg-type]  # a dict: get_field() found created_at in it
    return Series(path.stem, [], rows, times, None, jsonl=True)


def infer_bucket_seconds(times: Sequence[datetime]) -> int:
    """The most common positive gap between consecutive distinct timestamps (ties: the smaller)."""
    stamps = sorted({t.timestamp() for t in times})
    gaps = Counter(round(b - a) for a, b in pairwise(stamps) if b > a)
    gaps.pop(0, None)
    if not gaps:
        raise BacktestError("cannot infer the bucket size: need at least two distinct timestamps")
    top = max(gaps.values())
    return min(g for g, n in gaps.items() if n == top)


# ---------------------------------------------------------------------------------------- runs


@dataclass
class Run:
    """A backtest's result: per input row a score and an alert flag, and the bucket readings."""

    scores: list[float]
    alerts: list[int]
    readings: list[Reading]
    late: int = 0


def run_counts(series: Series, detector: SeriesDetector) -> Run:
    """One reading per input row, in input order, exactly as the stream would produce them.

    Rows are fed in timestamp order (a stable sort, so duplicates keep their order); a duplicate
    or out-of-order bucket gets the previous reading back with no transition, as in the stream.
    """
    assert series.values is not None
    order = sorted(range(len(series.times)), key=series.times.__getitem__)
    per_row: list[Reading | None] = [None] * len(order)
    for i in order:
        per_row[i] = detector.update(series.times[i], series.values[i])
    readings = [r for r in per_row if r is not None]
    return Run(
        scores=[r.score for r in readings],
        alerts=[1 if r.transition == "fired" else 0 for r in readings],
        readings=sorted(readings, key=lambda r: r.start),
    )


def run_mentions(series: Series, detector: SeriesDetector, lateness: float) -> Run:
    """Count the mentions as the stream does; mark the mention at which each page goes out.

    Rows are taken in timestamp order (stable). Buckets still open at the end are closed then;
    a page that only that final close produces is marked on the last mention.
    """
    counter = SeriesCounter(detector, lateness)
    order = sorted(range(len(series.times)), key=series.times.__getitem__)
    scores = [0.0] * len(order)
    alerts = [0] * len(order)
    readings: list[Reading] = []
    for i in order:
        outcome = counter.add(series.times[i].timestamp())
        scores[i] = outcome.score
        alerts[i] = 1 if outcome.paged else 0
        readings.extend(outcome.readings)
    tail = counter.flush()
    if any(r.transition == "fired" for r in tail):
        alerts[order[-1]] = 1
    readings.extend(tail)
    return Run(scores, alerts, readings, late=counter.late)


# ---------------------------------------------------------------------------------------- output


def write_scores(path: Path, series: Series, run: Run) -> None:
    """The input rows (all columns or fields) plus ``anomaly_score`` and ``alert``, written to a
    temporary file renamed into place, so an interrupted run leaves no complete-looking output."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BacktestError(f"{path}: cannot write ({exc.strerror})") from exc
    tmp = path.with_name(f".{path.name}.partial")
    try:
        with tmp.open("w", newline="", encoding="utf-8") as handle:
            _write_rows(handle, series, run)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)


def _write_rows(handle: IO[str], series: Series, run: Run) -> None:
    if series.jsonl:
        for row, score, alert in zip(series.rows, run.scores, run.alerts, strict=True):
            out = {**row, "anomaly_score": score, "alert": alert}
            handle.write(json.dumps(out, ensure_ascii=False) + "\n")
        return
    extra = [c for c in ("anomaly_score", "alert") if c not in series.fieldnames]
    writer = csv.DictWriter(handle, fieldnames=series.fieldnames + extra)
    writer.writeheader()
    for row, score, alert in zip(series.rows, run.scores, run.alerts, strict=True):
        writer.writerow({**row, "anomaly_score": repr(score), "alert": alert})


# ---------------------------------------------------------------------------------------- command


def _inputs(path: Path) -> list[Path]:
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in INPUT_SUFFIXES)
        if not files:
            raise BacktestError(f"{path}: no .csv, .tsv or .jsonl files in this folder")
        return files
    return [path]


def _windows_for(labels: Mapping[str, list[Window]] | None, name: str) -> list[Window]:
    if labels is None:
        return []
    if "*" in labels:
        return labels["*"]
    return labels.get(name, [])


def _settings(config_path: Path | None, sensitivity: str | None) -> DetectionSettings:
    try:
        settings = load_detection_settings(config_path) if config_path else DetectionSettings()
    except DetectorConfigError as exc:
        raise BacktestError(str(exc)) from exc
    if sensitivity is not None:
        settings = DetectionSettings(sensitivity, settings.settings, settings.overrides)
    return settings


def _run(
    series: Series, settings: DetectionSettings, bucket_seconds: int | None, lateness: float
) -> tuple[Run, int]:
    if series.mentions:
        bucket = bucket_seconds or 300
    else:
        bucket = bucket_seconds or infer_bucket_seconds(series.times)
    try:
        config = settings.config_for(bucket, series=series.name)
    except (TypeError, ValueError) as exc:
        raise BacktestError(f"{series.name}: {exc}") from exc
    detector = SeriesDetector(config)
    if series.mentions:
        return run_mentions(series, detector, lateness), bucket
    return run_counts(series, detector), bucket


@click.command("backtest")
@click.option(
    "--input",
    "input_path",
    callback=not_a_stream,
    required=True,
    type=click.Path(exists=True, path_type=Path),
    help="Counts CSV (timestamp,value), mention CSV (timestamp) or mention JSONL (created_at), "
    "or a folder of them.",
)
@click.option(
    "--output",
    "output_path",
    callback=not_a_stream,
    type=click.Path(path_type=Path),
    help="Where to write the rows with anomaly_score and alert (a folder if --input is one).",
)
@click.option(
    "--plot",
    "plot_path",
    type=click.Path(path_type=Path),
    help="Also draw the buckets, expected band, pages and resolves to this PNG (needs "
    "matplotlib; a folder if --input is one).",
)
@click.option(
    "--labels",
    "labels_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="JSON of labelled anomaly windows per series name (file stem): score the run.",
)
@click.option(
    "--sensitivity",
    type=click.Choice(list(SENSITIVITY_LEVELS)),
    default=None,
    help=f"Named sensitivity (default {DEFAULT_SENSITIVITY}, or the --config file's).",
)
@click.option(
    "--config",
    "config_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Detection settings YAML (sensitivity, settings, overrides), as the worker reads it.",
)
@click.option(
    "--bucket-seconds",
    type=click.IntRange(min=1),
    default=None,
    help="Bucket width: counts CSVs infer it, mention files default to 300.",
)
@click.option(
    "--lateness-seconds",
    type=click.FloatRange(min=0.0),
    default=DEFAULT_LATENESS_SECONDS,
    show_default=True,
    help="Allowed lateness when counting mention files (the stream's setting).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the scores as JSON.")
def backtest(
    input_path: Path,
    output_path: Path | None,
    plot_path: Path | None,
    labels_path: Path | None,
    sensitivity: str | None,
    config_path: Path | None,
    bucket_seconds: int | None,
    lateness_seconds: float,
    as_json: bool,
) -> None:
    """Replay a history through the detector, as the stream would run it.

    \b
    Example:
      tocsin backtest --input series.csv --output scores.csv --plot scores.png
      tocsin backtest --input mentions.jsonl --output paged.jsonl --sensitivity high
      tocsin backtest --input tests/data/series/heldout2 \\
                      --labels tests/data/series/heldout2/windows.json
    """
    files = _inputs(input_path)
    many = input_path.is_dir()
    if output_path is None and labels_path is None and plot_path is None:
        raise BacktestError("nothing to do: give --output, --plot and/or --labels")
    labels = load_labels(labels_path) if labels_path else None
    settings = _settings(config_path, sensitivity)
    for out in (output_path, plot_path):
        if out is not None and many:
            out.mkdir(parents=True, exist_ok=True)
    scores: list[SeriesScore] = []
    # Wall time is what a user waits; CPU time is what the work costs on a machine shared with
    # other jobs (where wall time mostly measures the queue).
    started, cpu_started = time.perf_counter(), time.process_time()
    rows = 0
    for path in files:
        series = read_series(path)
        run, bucket = _run(series, settings, bucket_seconds, lateness_seconds)
        rows += len(series.rows)
        if output_path is not None:
            suffix = ".jsonl" if series.jsonl else ".csv"
            write_scores(
                output_path / f"{series.name}{suffix}" if many else output_path, series, run
            )
        windows = _windows_for(labels, series.name)
        if plot_path is not None:
            target = plot_path / f"{series.name}.png" if many else plot_path
            plot(target, series.name, run.readings, windows)
        if labels is not None:
            times = [r.start for r in run.readings]
            scores.append(score_series(series.name, times, run.readings, windows, bucket))
    _report(scores, labels is not None, as_json, rows, started, cpu_started, len(files))


def _report(
    scores: Sequence[SeriesScore],
    labelled: bool,
    as_json: bool,
    rows: int,
    started: float,
    cpu_started: float,
    n_files: int,
) -> None:
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    took = f"{rows} rows in {elapsed:.2f} s (CPU {cpu:.2f} s)"
    if not labelled:
        click.echo(f"{n_files} series, {took}", err=True)
        return
    summary = summarise(scores)
    summary["rows"] = rows
    summary["seconds"] = round(elapsed, 3)
    summary["cpu_seconds"] = round(cpu, 3)
    if as_json:
        per_series = [
            {
                "series": s.name,
                "windows": s.windows,
                "detected": s.detected,
                "delays": s.delays,
                "false_alarms": s.false_alarms,
                "weeks": round(s.weeks, 3),
            }
            for s in scores
        ]
        click.echo(json.dumps({"overall": summary, "series": per_series}, indent=2))
        return
    click.echo(f"{'series':<28} {'windows':>7} {'detected':>8} {'delays':<16} {'false/wk':>8}")
    for s in scores:
        delays = ",".join(str(d) for d in s.delays) or "-"
        click.echo(
            f"{s.name:<28} {s.windows:>7} {s.detected:>8} {delays:<16} "
            f"{s.false_alarms_per_week:>8.2f}"
        )
    click.echo(
        f"overall: {summary['detected']}/{summary['windows']} windows detected "
        f"({100 * summary['detected_share']:.0f} %), median delay "
        f"{summary['median_delay_buckets']} buckets, {summary['false_alarms']} false-alarm "
        f"episodes in {summary['series_weeks']:.1f} series-weeks "
        f"({summary['false_alarms_per_series_week']:.2f}/series-week), window score "
        f"{summary['window_score']:.1f}/100; {took}"
    )
