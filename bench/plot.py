"""The run on one PNG: throughput, consumer lag and CPU against time, phases shaded.

matplotlib with the Agg backend (no display) is imported here only, so the rest of the harness and
its unit tests do not need it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.stats import smooth_rate

COLOURS = ("#dbe9f6", "#fde9d9", "#e2f0d9", "#ede2f6", "#fff2cc", "#f2f2f2")


def plot(results: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    samples = results["samples"]
    if not samples:
        return
    t0 = results["timeline"][0]["start"] if results["timeline"] else samples[0]["t"]
    fig, (ax_rate, ax_lag, ax_cpu) = plt.subplots(
        3, 1, figsize=(12, 9), sharex=True, gridspec_kw={"height_ratios": [3, 2, 2]}
    )
    for i, p in enumerate(results["timeline"]):
        if p["name"] in ("drain", "idle"):
            continue
        for ax in (ax_rate, ax_lag, ax_cpu):
            ax.axvspan(p["start_s"], p["end_s"], color=COLOURS[i % len(COLOURS)], alpha=0.6, lw=0)
        ax_rate.text(
            (p["start_s"] + p["end_s"]) / 2,
            1.01,
            p["name"],
            transform=ax_rate.get_xaxis_transform(),
            ha="center",
            va="bottom",
            fontsize=7,
            rotation=30,
        )
    produced = [(s["t"] - t0, float(s["produced"])) for s in samples]
    classified = [(s["t"] - t0, float(s["classified"])) for s in samples]
    for series, label, style in ((produced, "produced", "-"), (classified, "classified", "-")):
        rate = smooth_rate(series, 10.0)
        ax_rate.plot([t for t, _ in rate], [r for _, r in rate], style, lw=1.2, label=label)
    for name in sorted({n for s in samples for n in s["by_worker"]}):
        series = [
            (s["t"] - t0, float(s["by_worker"][name])) for s in samples if name in s["by_worker"]
        ]
        rate = smooth_rate(series, 10.0)
        ax_rate.plot(
            [t for t, _ in rate], [r for _, r in rate], ":", lw=1, label=f"{name} classified"
        )
    pages = [a["received_at"] - t0 for a in results.get("alerts", []) if a.get("crisis")]
    for i, x in enumerate(pages):
        ax_rate.axvline(
            x, color="tab:red", lw=0.8, ls="--", label="crisis alert delivered" if i == 0 else None
        )
    # A closed-loop probe sends its whole backlog in its first second: clip that spike so the
    # steady rates stay readable (the JSON has the exact counts).
    targets = [float(p["rate"]) for p in results["timeline"] if p.get("rate")]
    peak = max([r for _, r in smooth_rate(classified, 10.0)] + targets + [1.0])
    ax_rate.set_ylim(0, 1.4 * peak)
    ax_rate.set_ylabel("mentions/s (10 s window)")
    ax_rate.legend(loc="upper right", fontsize=8)
    lag_t = [s["t"] - t0 for s in samples if s["lag"] is not None]
    total = [sum(s["lag"].values()) for s in samples if s["lag"] is not None]
    ax_lag.plot(lag_t, total, lw=1.2, color="black", label="group lag, all pipeline topics")
    raw = [s["lag"].get("mentions.raw", 0) for s in samples if s["lag"] is not None]
    ax_lag.plot(lag_t, raw, lw=1, color="tab:red", label="of which topic 'mentions.raw' (classify)")
    ax_lag.set_ylabel("consumer lag, messages")
    ax_lag.legend(loc="upper right", fontsize=8)
    for name in sorted({n for s in samples for n in s["cpu"]}):
        pts = [(s["t"] - t0, s["cpu"][name]) for s in samples if name in s["cpu"]]
        ax_cpu.plot([t for t, _ in pts], [c for _, c in pts], lw=0.8, label=name)
    ax_cpu.set_ylabel("CPU, % of one core")
    ax_cpu.set_xlabel("seconds since the first phase")
    ax_cpu.legend(loc="upper right", fontsize=8, ncol=4)
    fig.suptitle(
        f"Tocsin benchmark ({results['profile']['name']}), {results['started_at'][:16]}Z, "
        f"shared 2-core machine",
        y=0.995,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
