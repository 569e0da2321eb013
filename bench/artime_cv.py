"""The product's pages combined with ARTime, judged by leave-one-series-out on the NAB dev series.

    python -m bench.artime_cv [--profile standard,reward_low_FP_rate] [--scale running]
                              [--thresholds 0.317486,0.5,0.7] [--buckets 7,14,36]
                              [--alert-p 3e-4,1e-4,2e-4,5e-4]

Each series is backtested once per ``alert_p`` by the product's detector (``bench.nab_cv.run``)
and once by ARTime (``bench.artime``, scaled by the min and max seen so far by default, as a
stream must; ``--scale probation`` freezes them after the probationary rows; ``--scale file`` uses
the whole file's, as NAB gives them, for reference only). The designs
combine the two page lists on the same buckets (``combine``); every candidate is scored per
series with NAB's rules at the fixed ``alert`` threshold, and ``bench.nab_cv.loso`` picks per fold
on the other four series. The choosing rule is in docs/detection.md ("ARTime, a fourth pass").
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from bench import artime, nab_cv

DESIGNS = ("product", "confirm", "either", "alone")
WEEK_SECONDS = 7 * 86400
BUCKET_SECONDS = 300


def combine(
    design: str, pages: np.ndarray, art: np.ndarray, threshold: float, buckets: int
) -> np.ndarray:
    """Pages (1.0) of a design from the product's pages and ARTime's scores on the same buckets.

    ``confirm``: a product page goes out once ARTime has detected (score >= threshold) within
    ``buckets`` of it, at the later of the two; ``either``: a product page or an ARTime detection,
    at most one page per ``buckets``; ``alone``: ARTime's detections.
    """
    detected = art >= threshold
    if design == "product":
        return pages.astype(float)
    if design == "alone":
        return detected.astype(float)
    out = np.zeros(len(pages))
    last_page = last_art = -(10**9)
    pending = -(10**9)  # the last product page not yet confirmed
    for i in range(len(pages)):
        if detected[i]:
            last_art = i
        if design == "either":
            if (pages[i] or detected[i]) and i - last_page > buckets:
                out[i] = 1.0
                last_page = i
            continue
        if pages[i]:
            pending = i
        if i - pending <= buckets and i - last_art <= buckets:
            out[i] = 1.0
            pending = -(10**9)
    return out


def candidates(
    thresholds: list[float], buckets: list[int], alert_ps: list[float]
) -> list[dict[str, Any]]:
    """The product alone first (the current default first of all, so a tie keeps it)."""
    out: list[dict[str, Any]] = [{"design": "product", "alert_p": p} for p in alert_ps]
    for design in ("confirm", "either"):
        for t in thresholds:
            for k in buckets:
                out += [
                    {"design": design, "art_threshold": t, "art_buckets": k, "alert_p": p}
                    for p in alert_ps
                ]
    out += [{"design": "alone", "art_threshold": t} for t in thresholds]
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--nab-dir", default=nab_cv.DEFAULT_NAB, type=Path)
    ap.add_argument("--scorer", default=nab_cv.DEFAULT_SCORER, type=Path)
    ap.add_argument("--profile", default="standard,reward_low_FP_rate")
    ap.add_argument(
        "--scale",
        choices=artime.SCALES,
        default="running",
        help="ARTime's scale (file: reference only)",
    )
    ap.add_argument("--thresholds", default="0.317486,0.5,0.7")
    ap.add_argument("--buckets", default="7,14,36")
    ap.add_argument("--alert-p", default="3e-4,1e-4,2e-4,5e-4")
    args = ap.parse_args(argv)
    nab = nab_cv.load_scorer(args.scorer)
    files = nab.load_corpus(args.nab_dir)
    data = {f.name: nab_cv.read(args.nab_dir / "realTweets" / f.name) for f in files}
    alert_ps = [float(x) for x in args.alert_p.split(",")]
    cands = candidates(
        [float(x) for x in args.thresholds.split(",")],
        [int(x) for x in args.buckets.split(",")],
        alert_ps,
    )
    pages = {
        p: {
            f.name: np.asarray(nab_cv.run(nab_cv.product({"alert_p": p}), *data[f.name])[0])
            for f in files
        }
        for p in alert_ps
    }
    art = {f.name: np.asarray(artime.run_series(data[f.name][1], scale=args.scale)) for f in files}
    weeks = {f.name: len(data[f.name][1]) * BUCKET_SECONDS / WEEK_SECONDS for f in files}

    def alerts_of(cand: dict[str, Any]) -> Callable[[Any], Any]:
        return lambda f: combine(
            cand["design"],
            pages[cand.get("alert_p", alert_ps[0])][f.name],
            art[f.name],
            cand.get("art_threshold", 1.0),
            cand.get("art_buckets", 0),
        )

    raw = [nab_cv.score_files(nab, files, alerts_of(cand)) for cand in cands]
    norm = nab_cv.normaliser(nab, files, raw)

    names = [f.name for f in files]
    for c, cand in enumerate(cands):
        fps = {n: raw[c][n]["standard"][1] for n in names}
        hits = sum(raw[c][n]["standard"][2] for n in names)
        worst = max(fps[n] / weeks[n] for n in names)
        print(
            f"{json.dumps(cand)}  standard={norm(c, names, 'standard'):.1f} "
            f"lowFP={norm(c, names, 'reward_low_FP_rate'):.1f} hits={hits} outside={sum(fps.values())} "
            f"(max {worst:.2f}/series-week)  " + " ".join(f"{n[15:-4]}={fps[n]}" for n in names)
        )
    for prof in args.profile.split(","):
        nab_cv.loso(cands, names, prof, norm)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
