"""Scoring a backtest against labelled anomaly windows (``tocsin backtest --labels``)."""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import click

from pipeline.detection.reading import Reading
from pipeline.errors import TocsinError


class LabelsError(TocsinError, click.ClickException):
    """A labels file that cannot be used; the message says which file and why."""


def parse_time(text: str) -> datetime:
    """ISO-8601 (``Z`` accepted; naive means UTC) or Unix seconds."""
    raw = text.strip()
    try:
        return datetime.fromtimestamp(float(raw), UTC)
    except ValueError:
        pass
    value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=UTC)


FALSE_ALARM_COST = 0.5
"""What one false-alarm episode costs in the window score, in units of one perfectly caught window."""


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


def load_labels(path: Path) -> dict[str, list[Window]]:
    """``{"series name": [{"start": ..., "end": ...}, ...]}``, or a bare list for one series."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise LabelsError(f"{path}: cannot read ({exc.strerror})") from exc
    except json.JSONDecodeError as exc:
        raise LabelsError(f"{path}:{exc.lineno}: not JSON ({exc.msg})") from exc
    if isinstance(data, list):
        data = {"*": data}
    if not isinstance(data, dict):
        raise LabelsError(f"{path}: expected an object of series name -> list of windows")
    out: dict[str, list[Window]] = {}
    for name, windows in data.items():
        if not isinstance(windows, list):
            raise LabelsError(f"{path}: {name}: expected a list of windows")
        parsed = []
        for k, w in enumerate(windows):
            try:
                start, end = parse_time(str(w["start"])), parse_time(str(w["end"]))
            except (KeyError, TypeError, ValueError) as exc:
                raise LabelsError(f"{path}: {name}[{k}]: need start and end times") from exc
            if end <= start:
                raise LabelsError(f"{path}: {name}[{k}]: end must be after start")
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
