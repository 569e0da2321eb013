"""``tocsin backtest --plot``: the series, its expected band, pages (early or at close) and resolves."""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from datetime import UTC, datetime
from itertools import pairwise
from pathlib import Path
from typing import Any

import click

from pipeline.detection.reading import Reading
from pipeline.detection.scoring import Window
from pipeline.errors import TocsinError


class PlotError(TocsinError, click.ClickException):
    """The plot cannot be drawn (matplotlib missing)."""


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
    marks = (
        ("page at bucket close", "v", "tab:red", [(x, r) for x, r in fired if not r.early]),
        ("early page (bucket filling)", "*", "darkorange", [(x, r) for x, r in fired if r.early]),
        (
            "resolved",
            "^",
            "tab:green",
            [(x, r) for x, r in zip(t, rs, strict=True) if r.transition == "resolved"],
        ),
    )
    for label, marker, colour, points in marks:
        if points:
            ax.scatter(
                [x for x, _ in points],
                [r.observed for _, r in points],
                marker=marker,
                s=80,
                color=colour,
                edgecolor="white",
                zorder=5,
                label=label,
            )
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.25)
    return fired


def plot(path: Path, name: str, readings: Sequence[Reading], windows: Sequence[Window]) -> None:
    """A PNG of the series, the expected band and the alerts, with close-ups (needs matplotlib)."""
    try:
        import matplotlib  # optional dependency, imported only for --plot

        matplotlib.use("Agg")
        import matplotlib.dates as mdates
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise PlotError(
            "--plot needs matplotlib, which is not installed (pip install matplotlib)"
        ) from exc
    rs = sorted(readings, key=lambda r: r.start)
    t = [_days(r.start) for r in rs]
    centres = _zoom_centres(rs, t, windows)
    fig = plt.figure(figsize=(15, 8.5), dpi=100)
    grid = fig.add_gridspec(2, len(centres), height_ratios=[1.0, 1.1])
    ax = fig.add_subplot(grid[0, :])
    ax.xaxis_date()
    fired = _draw(ax, t, rs, windows, overview=True)
    if windows:
        ax.plot([], [], color="tab:orange", alpha=0.4, lw=6, label="labelled window")
    ax.set_ylabel("mentions per bucket")
    ax.set_title(f"{name}: {len(fired)} alert(s), {len(t):,} buckets (close-ups below)")
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
