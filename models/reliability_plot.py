"""Reliability diagrams of a ``tocsin model eval --input`` report (PNG or SVG, by suffix).

One panel per topic: mean score against observed share per equal-width bin (models/calibration.py),
one line per name fill, marker area by the bin's mentions; the diagonal is perfect calibration.
Needs the ``plot`` extra (matplotlib); imported only by ``--reliability-plot``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any


def plot_reliability(report: Mapping[str, Any], dest: Path, lang: str = "all") -> Path:
    """Write the diagrams of ``report`` (``evaluate_file_rows``'s) for rows of ``lang``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fills = {name: rep[lang]["calibration"] for name, rep in report["fills"].items() if lang in rep}
    topics = list(next(iter(fills.values()))["per_topic"]) if fills else []
    cols = 3
    rows = max(1, math.ceil(len(topics) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 4 * rows), squeeze=False)
    for k, ax in enumerate(axes.flat):
        if k >= len(topics):
            ax.axis("off")
            continue
        topic = topics[k]
        ax.plot([0, 1], [0, 1], color="0.7", linewidth=1)
        for name, cal in fills.items():
            m = cal["per_topic"][topic]
            xs = [b["mean_score"] for b in m["bins"]]
            ys = [b["observed"] for b in m["bins"]]
            sizes = [8 + 120 * b["n"] / max(m["n"], 1) for b in m["bins"]]
            ax.plot(xs, ys, marker="", linewidth=1, label=f"{name} ECE {m['ece']:.3f}")
            ax.scatter(xs, ys, s=sizes)
        ax.set_title(topic)
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.set_xlabel("mean score")
        ax.set_ylabel("observed share")
        ax.legend(fontsize=8, loc="upper left")
    fig.suptitle(f"{report['model_version']} ({lang}, {report['n']} mentions)", fontsize=10)
    fig.tight_layout()
    fig.savefig(dest)
    plt.close(fig)
    return dest
