"""``tocsin backtest``: replay a history through the detector and score it against labels.

Why it exists: a comms team should see, on its own history and before going live, what the product's
default settings would have paged on. The command runs the very :class:`SeriesDetector` the stream
uses (one bucket at a time, in timestamp order, same idempotence and gap rules), so the scores it
writes are the scores the stream would have produced.

Input: a CSV with ``timestamp,value`` (ISO-8601 or Unix seconds; any further columns are kept), or
a folder of such CSVs. The bucket size is inferred from the most common gap between timestamps.
Output: the same rows plus ``anomaly_score`` (1 - tail probability) and ``alert`` (1 only on the
bucket where an alert fires, i.e. where a page would go out).

With ``--labels WINDOWS.json`` the run is also scored (see :func:`score_series`): windows detected,
detection delay in buckets, false-alarm episodes per week, and a window score.
"""

from __future__ import annotations

import bisect
import csv
import json
import math
import statistics
import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import click

from pipeline.detection.config import DetectorConfig
from pipeline.detection.detector import Reading, SeriesDetector

FALSE_ALARM_COST = 0.5
"""What one false-alarm episode costs in the window score, in units of one perfectly caught window."""


class BacktestError(click.ClickException):
    """The input, labels or options cannot be used; the message says which file and why."""


@dataclass(frozen=True)
class Series:
    """One input series: its rows (as read) and where each row's value and time are."""

    name: str
    fieldnames: list[str]
    rows: list[dict[str, str]]
    times: list[datetime]
    values: list[float]


@dataclass(frozen=True)
class Window:
    start: datetime
    end: datetime


@dataclass
class SeriesScore:
    """How the detector did on one labelled series."""

    name: str
    windows: int = 0
    detected: int = 0
    delays: list[int] = field(default_factory=list)
    false_alarms: int = 0
    weeks: float = 0.0
    reward: float = 0.0

    @property
    def false_alarms_per_week(self) -> float:
        return self.false_alarms / self.weeks if self.weeks > 0 else 0.0


# ---------------------------------------------------------------------------------------- input


def parse_time(text: str) -> datetime:
    """ISO-8601 (``Z`` accepted; naive means UTC) or Unix seconds."""
    raw = text.strip()
    try:
        return datetime.fromtimestamp(float(raw), UTC)
    except ValueError:
        pass
    value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def read_series(path: Path) -> Series:
    """Read one ``timestamp,value`` CSV, refusing bad rows with the line number."""
    try:
        handle = path.open(newline="", encoding="utf-8")
    except OSError as exc:
        raise BacktestError(f"{path}: cannot read ({exc.strerror})") from exc
    with handle:
        reader = csv.DictReader(handle)
        fieldnames = list(reader.fieldnames or [])
        missing = {"timestamp", "value"} - set(fieldnames)
        if missing:
            raise BacktestError(f"{path}: missing column(s) {', '.join(sorted(missing))}")
        rows, times, values = [], [], []
        for row in reader:
            line = reader.line_num
            try:
                t = parse_time(row["timestamp"])
            except (ValueError, OverflowError) as exc:
                raise BacktestError(f"{path}:{line}: bad timestamp {row['timestamp']!r}") from exc
            try:
                v = float(row["value"])
            except (TypeError, ValueError) as exc:
                raise BacktestError(f"{path}:{line}: bad value {row['value']!r}") from exc
            if v < 0 or not math.isfinite(v):
                raise BacktestError(f"{path}:{line}: value must be a finite count >= 0")
            rows.append(row)
            times.append(t)
            values.append(v)
    if not rows:
        raise BacktestError(f"{path}: no rows")
    return Series(path.stem, fieldnames, rows, times, values)


def infer_bucket_seconds(times: Sequence[datetime]) -> int:
    """The most common positive gap between consecutive distinct timestamps (ties: the smaller)."""
    stamps = sorted({t.timestamp() for t in times})
    gaps = Counter(round(b - a) for a, b in pairwise(stamps) if b > a)
    gaps.pop(0, None)
    if not gaps:
        raise BacktestError("cannot infer the bucket size: need at least two distinct timestamps")
    top = max(gaps.values())
    return min(g for g, n in gaps.items() if n == top)


# ---------------------------------------------------------------------------------------- scoring


def run_detector(series: Series, config: DetectorConfig) -> list[Reading]:
    """One reading per input row, in input order, exactly as the stream would produce them.

    Rows are fed in timestamp order (a stable sort, so duplicates keep their order); a duplicate
    or out-of-order bucket gets the previous reading back with no transition, as in the stream.
    """
    detector = SeriesDetector(config)
    order = sorted(range(len(series.times)), key=series.times.__getitem__)
    readings: list[Reading | None] = [None] * len(order)
    for i in order:
        readings[i] = detector.update(series.times[i], series.values[i])
    return [r for r in readings if r is not None]


def load_labels(path: Path) -> dict[str, list[Window]]:
    """``{"series name": [{"start": ..., "end": ...}, ...]}``, or a bare list for one series."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise BacktestError(f"{path}: cannot read ({exc.strerror})") from exc
    except json.JSONDecodeError as exc:
        raise BacktestError(f"{path}:{exc.lineno}: not JSON ({exc.msg})") from exc
    if isinstance(data, list):
        data = {"*": data}
    if not isinstance(data, dict):
        raise BacktestError(f"{path}: expected an object of series name -> list of windows")
    out: dict[str, list[Window]] = {}
    for name, windows in data.items():
        if not isinstance(windows, list):
            raise BacktestError(f"{path}: {name}: expected a list of windows")
        parsed = []
        for k, w in enumerate(windows):
            try:
                start, end = parse_time(str(w["start"])), parse_time(str(w["end"]))
            except (KeyError, TypeError, ValueError) as exc:
                raise BacktestError(f"{path}: {name}[{k}]: need start and end times") from exc
            if end <= start:
                raise BacktestError(f"{path}: {name}[{k}]: end must be after start")
            parsed.append(Window(start, end))
        out[str(name)] = sorted(parsed, key=lambda w: w.start)
    return out


def score_series(
    name: str,
    times: Sequence[datetime],
    readings: Sequence[Reading],
    windows: Sequence[Window],
    bucket_seconds: int,
) -> SeriesScore:
    """Score one series against its labelled windows.

    * A window ``[start, end)`` is *detected* when an alert fires inside it, or is already firing
      at its start; the *delay* is the number of buckets from the window start to that firing.
    * Every other firing is a *false-alarm episode*.
    * The window score rewards each detected window ``1 - delay / length`` (so earlier is better
      and a window counts once however many alerts it holds), 0 for a miss, and charges
      ``FALSE_ALARM_COST`` per false alarm. :func:`window_score` normalises the total to 100.
    """
    step = timedelta(seconds=bucket_seconds)
    fires = sorted(r.start for r in readings if r.transition == "fired")
    firing_at = {r.start for r in readings if r.firing}
    score = SeriesScore(name=name, windows=len(windows))
    if times:
        span = (max(times) - min(times) + step).total_seconds()
        score.weeks = span / (7 * 86400)
    used: set[datetime] = set()
    for w in windows:
        length = max(1, math.ceil((w.end - w.start) / step))
        inside = [f for f in fires if w.start <= f < w.end]
        if w.start in firing_at and w.start not in inside:
            first: datetime | None = w.start
        else:
            first = inside[0] if inside else None
        used.update(inside)
        if first is None:
            continue
        delay = max(0, math.floor((first - w.start) / step))
        score.detected += 1
        score.delays.append(delay)
        score.reward += max(0.0, 1.0 - delay / length)
    score.false_alarms = sum(1 for f in fires if f not in used)
    return score


def window_score(scores: Iterable[SeriesScore]) -> float:
    """100 x (sum of window rewards - cost of false alarms) / number of windows."""
    scores = list(scores)
    n = sum(s.windows for s in scores)
    if n == 0:
        return float("nan")
    total = sum(s.reward for s in scores) - FALSE_ALARM_COST * sum(s.false_alarms for s in scores)
    return 100.0 * total / n


def summarise(scores: Sequence[SeriesScore]) -> dict[str, Any]:
    """Overall figures: the ones the issue asks for, computed over every series."""
    windows = sum(s.windows for s in scores)
    detected = sum(s.detected for s in scores)
    delays = [d for s in scores for d in s.delays]
    weeks = sum(s.weeks for s in scores)
    false_alarms = sum(s.false_alarms for s in scores)
    return {
        "series": len(scores),
        "windows": windows,
        "detected": detected,
        "detected_share": detected / windows if windows else float("nan"),
        "median_delay_buckets": statistics.median(delays) if delays else float("nan"),
        "false_alarms": false_alarms,
        "series_weeks": weeks,
        "false_alarms_per_series_week": false_alarms / weeks if weeks else 0.0,
        "window_score": window_score(scores),
    }


# ---------------------------------------------------------------------------------------- output


def write_scores(path: Path, series: Series, readings: Sequence[Reading]) -> None:
    """The input rows (all columns) plus ``anomaly_score`` and ``alert``."""
    extra = [c for c in ("anomaly_score", "alert") if c not in series.fieldnames]
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=series.fieldnames + extra)
        writer.writeheader()
        for row, r in zip(series.rows, readings, strict=True):
            writer.writerow(
                {
                    **row,
                    "anomaly_score": repr(r.score),
                    "alert": 1 if r.transition == "fired" else 0,
                }
            )


def _days(t: datetime) -> float:
    """Matplotlib's date number (days since its default epoch, 1970-01-01 UTC)."""
    return t.timestamp() / 86400.0


ZOOM_PANELS = 3
"""Alerts (or labelled windows) drawn close up under the overview: a months-long series at 5-minute
buckets is a solid block at full width, so the overview shows where and the close-ups show why."""
ZOOM_HOURS = 36.0


def _zoom_centres(
    rs: Sequence[Reading], t: Sequence[float], windows: Sequence[Window]
) -> list[float]:
    """Where the close-up panels go: the first alerts, else labelled windows, else the end."""
    centres = [x for x, r in zip(t, rs, strict=True) if r.transition == "fired"]
    if not centres:
        centres = [_days(w.start) for w in windows]
    if not centres:
        centres = [t[-1] - ZOOM_HOURS / 48.0]
    return centres[:ZOOM_PANELS]


def _draw(
    ax: Any,
    t: Sequence[float],
    rs: Sequence[Reading],
    windows: Sequence[Window],
    overview: bool,
) -> list[tuple[float, Reading]]:
    """Band, expected, observed, firing and pages on ``ax``; returns the pages drawn."""
    for w in windows:
        ax.axvspan(_days(w.start), _days(w.end), color="tab:orange", alpha=0.18, lw=0)
    ax.fill_between(
        t,
        [r.lower for r in rs],
        [r.upper for r in rs],
        step="post",
        color="tab:blue",
        alpha=0.25,
        lw=0,
        label="expected band (99 %)",
    )
    # In the overview the observed counts are a dense block: draw them light, under the expected
    # line, so the baseline's daily rhythm stays visible.
    ax.step(
        t,
        [r.observed for r in rs],
        where="post",
        color="0.55" if overview else "black",
        lw=0.4 if overview else 0.9,
        label="observed",
    )
    ax.step(
        t,
        [r.expected for r in rs],
        where="post",
        color="navy",
        lw=0.7 if overview else 1.2,
        label="expected",
    )
    firing = [r.observed if r.firing else math.nan for r in rs]
    ax.step(t, firing, where="post", color="tab:red", lw=1.6, label="firing")
    fired = [(x, r) for x, r in zip(t, rs, strict=True) if r.transition == "fired"]
    if fired:
        ax.scatter(
            [x for x, _ in fired],
            [r.observed for _, r in fired],
            marker="v",
            s=70,
            color="tab:red",
            edgecolor="white",
            zorder=5,
            label="alert (page)",
        )
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.25)
    return fired


def plot(
    path: Path, series: Series, readings: Sequence[Reading], windows: Sequence[Window]
) -> None:
    """A PNG of the series, the expected band and the alerts, with close-ups (needs matplotlib)."""
    try:
        import matplotlib  # optional dependency, imported only for --plot

        matplotlib.use("Agg")
        import matplotlib.dates as mdates
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise BacktestError(
            "--plot needs matplotlib, which is not installed (pip install matplotlib)"
        ) from exc
    order = sorted(range(len(series.times)), key=series.times.__getitem__)
    t = [_days(series.times[i]) for i in order]
    rs = [readings[i] for i in order]
    centres = _zoom_centres(rs, t, windows)
    fig = plt.figure(figsize=(15, 8.5), dpi=100)
    grid = fig.add_gridspec(2, len(centres), height_ratios=[1.0, 1.1])
    ax = fig.add_subplot(grid[0, :])
    ax.xaxis_date()
    fired = _draw(ax, t, rs, windows, overview=True)
    if windows:
        ax.plot([], [], color="tab:orange", alpha=0.4, lw=6, label="labelled window")
    ax.set_ylabel("mentions per bucket")
    ax.set_title(
        f"{series.name}: {len(fired)} alert(s) with the default settings, "
        f"{len(t):,} buckets (close-ups below)"
    )
    ax.legend(loc="upper left", fontsize=8, ncols=6, framealpha=0.9)
    # At least 40 buckets either side, so hourly or daily series get useful close-ups too.
    step = min((b - a for a, b in pairwise(t) if b > a), default=1.0 / 288.0)
    half = max(ZOOM_HOURS / 48.0, 40.0 * step)
    for k, centre in enumerate(centres):
        lo = bisect.bisect_left(t, centre - half)
        hi = bisect.bisect_right(t, centre + half)
        if hi - lo < 2:
            continue
        zx = fig.add_subplot(grid[1, k])
        zx.xaxis_date()
        if half <= 1.0:  # hours matter within a day and a half
            zx.xaxis.set_major_formatter(mdates.DateFormatter("%d %b\n%H:%M"))  # type: ignore[no-untyped-call]
            zx.xaxis.set_major_locator(mdates.HourLocator(byhour=[0, 12]))  # type: ignore[no-untyped-call]
        near = [w for w in windows if _days(w.end) >= t[lo] and _days(w.start) <= t[hi - 1]]
        pages = _draw(zx, t[lo:hi], rs[lo:hi], near, overview=False)
        zx.set_xlim(t[lo], t[hi - 1])
        zx.tick_params(labelsize=8)
        if k == 0:
            zx.set_ylabel("mentions per bucket")
        if pages:
            x, r = pages[0]
            zx.annotate(
                f"page {datetime.fromtimestamp(x * 86400.0, UTC):%d %b %H:%M}\n"
                f"{r.observed:g} vs {r.expected:.1f} expected",
                xy=(x, r.observed),
                xytext=(0.03, 0.95),
                textcoords="axes fraction",
                va="top",
                fontsize=8,
                arrowprops={"arrowstyle": "->", "color": "tab:red", "lw": 0.8},
            )
            zx.set_title(f"close-up {k + 1}: alert", fontsize=9)
        else:
            zx.set_title(f"close-up {k + 1}: no alert", fontsize=9)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


# ---------------------------------------------------------------------------------------- command


def _inputs(path: Path) -> list[Path]:
    if path.is_dir():
        files = sorted(p for p in path.glob("*.csv"))
        if not files:
            raise BacktestError(f"{path}: no .csv files in this folder")
        return files
    return [path]


def _windows_for(labels: Mapping[str, list[Window]] | None, name: str) -> list[Window]:
    if labels is None:
        return []
    if "*" in labels:
        return labels["*"]
    return labels.get(name, [])


@click.command("backtest")
@click.option(
    "--input",
    "input_path",
    required=True,
    type=click.Path(exists=True, path_type=Path),
    help="CSV with timestamp,value columns, or a folder of them.",
)
@click.option(
    "--output",
    "output_path",
    type=click.Path(path_type=Path),
    help="Where to write the rows with anomaly_score and alert (a folder if --input is one).",
)
@click.option(
    "--plot",
    "plot_path",
    type=click.Path(path_type=Path),
    help="Also draw the series, expected band and alerts to this PNG (needs matplotlib; a "
    "folder if --input is one).",
)
@click.option(
    "--labels",
    "labels_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="JSON of labelled anomaly windows per series name (file stem): score the run.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the scores as JSON.")
def backtest(
    input_path: Path,
    output_path: Path | None,
    plot_path: Path | None,
    labels_path: Path | None,
    as_json: bool,
) -> None:
    """Replay SERIES through the detector with the product's default settings.

    \b
    Example:
      tocsin backtest --input series.csv --output scores.csv --plot scores.png
      tocsin backtest --input tests/data/series/heldout2 \\
                      --labels tests/data/series/heldout2/windows.json
    """
    files = _inputs(input_path)
    many = input_path.is_dir()
    if output_path is None and labels_path is None and plot_path is None:
        raise BacktestError("nothing to do: give --output, --plot and/or --labels")
    labels = load_labels(labels_path) if labels_path else None
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
        bucket = infer_bucket_seconds(series.times)
        readings = run_detector(series, DetectorConfig(bucket_seconds=bucket))
        rows += len(readings)
        if output_path is not None:
            write_scores(
                output_path / f"{series.name}.csv" if many else output_path, series, readings
            )
        windows = _windows_for(labels, series.name)
        if plot_path is not None:
            plot(plot_path / f"{series.name}.png" if many else plot_path, series, readings, windows)
        if labels is not None:
            scores.append(score_series(series.name, series.times, readings, windows, bucket))
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    took = f"{rows} rows in {elapsed:.2f} s (CPU {cpu:.2f} s)"
    if labels is None:
        click.echo(f"{len(files)} series, {took}", err=True)
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
