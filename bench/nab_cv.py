"""Choose detector settings by leave-one-series-out cross-validation on NAB realTweets dev series.

    python -m bench.nab_cv [--grid JSON] [--profile P[,P...]] [--calibration | --pages]
                           [--nab-dir DIR]
                           [--scorer nab_score.py]

For every candidate setting in the grid, every series is backtested once (in process, the stream's
detector); then, for each series left out, the setting with the best NAB score (standard profile,
the ``alert`` column at threshold 0.5) on the other four is picked and scored on the one left out.
Prints the per-fold choice and held-out score, their mean, and the setting chosen most often.
``--calibration`` prints instead, for each setting, the share of buckets (and of runs of buckets)
with p < alpha outside the labelled windows; ``--pages`` lists every page of each setting (time,
observed and expected volume, p, and whether NAB counts it in a window, outside, or not at all).
NAB's scorer is the shared tool (not part of the product), loaded from its path.
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import itertools
import json
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from types import ModuleType
from typing import Any

from pipeline.detection.config import DetectorConfig
from pipeline.detection.detector import SeriesDetector
from pipeline.detection.scoring import parse_time

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_NAB = ROOT.parent / "shared" / "data" / "nab-realtweets-dev"
DEFAULT_SCORER = ROOT.parent / "shared" / "tools" / "nab_score.py"


def load_scorer(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location("nab_score", path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"cannot load NAB scorer {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules["nab_score"] = module
    spec.loader.exec_module(module)
    return module


def read(path: Path) -> tuple[list[Any], list[float]]:
    with path.open() as handle:
        rows = list(csv.DictReader(handle))
    return [parse_time(r["timestamp"]) for r in rows], [float(r["value"]) for r in rows]


Build = Callable[[dict[str, Any]], Callable[[], SeriesDetector]]
"""A candidate of the grid -> a maker of fresh detectors for it (``bench.nab_ideas`` builds
experimental detectors beside the product's)."""


def product(cand: dict[str, Any]) -> Callable[[], SeriesDetector]:
    """The product's detector at the candidate's settings."""
    cfg = replace(DetectorConfig(), **cand)
    return lambda: SeriesDetector(cfg)


def run(
    make: Callable[[], SeriesDetector], times: list[Any], values: list[float]
) -> tuple[list[float], list[float]]:
    det = make()
    alerts, scores = [], []
    for t, v in zip(times, values, strict=True):
        r = det.update(t, v)
        alerts.append(1.0 if r.transition == "fired" else 0.0)
        scores.append(r.score)
    return alerts, scores


ALPHAS = (1e-2, 1e-3, 1e-4)


RUN_GAP = 12
"""Buckets at or above alpha that end a run of p < alpha (an hour): one burst counts once."""


def runs_below(ps: list[float | None], alpha: float, gap: int = RUN_GAP) -> int:
    """Runs of p < alpha, a run ending after ``gap`` buckets in a row that are not (None: not
    counted, e.g. inside a labelled window, and it ends a run)."""
    count, since = 0, gap
    for p in ps:
        if p is not None and p < alpha:
            if since >= gap:
                count += 1
            since = 0
        else:
            since = gap if p is None else since + 1
    return count


def calibration(
    files: list[Any],
    data: dict[str, tuple[list[Any], list[float]]],
    make: Callable[[], SeriesDetector],
) -> None:
    """Observed share of p < alpha on the scored buckets outside the windows, per series: per
    bucket, and per run (a run of p < alpha buckets, ended by an hour at or above alpha, counted
    once: real extremes come in runs, and a run is one episode a person sees)."""
    totals = [0] * len(ALPHAS)
    run_totals = [0] * len(ALPHAS)
    n_all = 0
    head = " ".join(f"p<{a:g}" for a in ALPHAS)
    print(f"series                       buckets  per bucket: {head}  per run: {head}")
    for f in files:
        _, scores = run(make, *data[f.name])
        marked: list[float | None] = [
            1.0 - s if w < 0 and ok else None
            for s, w, ok in zip(scores, f.window, f.scorable, strict=True)
        ]
        quiet = [p for p in marked if p is not None]
        shares = [sum(p < a for p in quiet) for a in ALPHAS]
        runs = [runs_below(marked, a) for a in ALPHAS]
        totals = [t + k for t, k in zip(totals, shares, strict=True)]
        run_totals = [t + k for t, k in zip(run_totals, runs, strict=True)]
        n_all += len(quiet)
        print(
            f"{f.name:<28} {len(quiet):>7}  "
            + " ".join(f"{k / len(quiet):.2e}" for k in shares)
            + "  "
            + " ".join(f"{k / len(quiet):.2e}" for k in runs)
        )
    print(
        f"{'all five':<28} {n_all:>7}  "
        + " ".join(f"{k / n_all:.2e}" for k in totals)
        + "  "
        + " ".join(f"{k / n_all:.2e}" for k in run_totals)
    )


PAGE_HISTORY = (288, 864, 12)
"""Buckets of history shown beside a page: the day and the three days before it, up to an hour
before it (the episode's own build-up left out)."""


def pages(
    files: list[Any],
    data: dict[str, tuple[list[Any], list[float]]],
    make: Callable[[], SeriesDetector],
) -> None:
    """Every page per series, with where NAB puts it: in window k (and the weight a hit there
    earns), outside the windows (a false positive, its cost weight) or in the probation rows;
    and what came before it: the smallest p of the previous day and the largest ratio of
    observed to expected volume of the previous three days."""
    day, days, gap = PAGE_HISTORY
    for f in files:
        times, values = data[f.name]
        det = make()
        readings = [det.update(t, v) for t, v in zip(times, values, strict=True)]
        ratios = [v / max(r.expected, 1.0) for v, r in zip(values, readings, strict=True)]
        print(f.name)
        for i, r in enumerate(readings):
            if r.transition != "fired":
                continue
            if not f.scorable[i]:
                where = "probation"
            elif f.window[i] >= 0:
                where = f"window {f.window[i]} (weight {f.weight[i]:.2f})"
            else:
                where = f"outside (weight {f.weight[i]:.2f})"
            before_p = min((q.p_value for q in readings[max(0, i - day) : i - gap]), default=1.0)
            before_x = max(ratios[max(0, i - days) : max(0, i - gap)], default=0.0)
            print(
                f"  {times[i]:%Y-%m-%d %H:%M} observed {values[i]:6.0f} expected "
                f"{r.expected:7.1f} x{ratios[i]:5.1f} p={r.p_value:.1e}  {where}  "
                f"before: day min p {before_p:.0e}, 3 days max x{before_x:.1f}"
            )


def grid(spec: dict[str, list[Any]]) -> list[dict[str, Any]]:
    keys = list(spec)
    return [dict(zip(keys, combo, strict=True)) for combo in itertools.product(*spec.values())]


#: Per file, per NAB profile: (raw score, pages outside the windows, windows hit).
Scores = dict[str, dict[str, tuple[float, int, int]]]


def score_files(nab: ModuleType, files: list[Any], alerts: Callable[[Any], Any]) -> Scores:
    """One candidate's NAB figures on every file: ``alerts(file)`` is its alert column, scored
    under every profile at NAB's fixed 0.5 threshold."""
    per: Scores = {}
    for f in files:
        column = alerts(f)
        per[f.name] = {}
        for prof in nab.PROFILES:
            fs = nab.score_file(f, column, prof, 0.5)
            per[f.name][prof] = (fs.score, fs.fp, fs.windows_hit)
    return per


def normaliser(
    nab: ModuleType, files: list[Any], raw: list[Scores]
) -> Callable[[int, list[str], str], float]:
    """``norm(c, names, prof)``: candidate ``c``'s NAB score over the files ``names`` under
    ``prof``, normalised as NAB does (0 = no detection, 100 = every window hit, no false page)."""

    def norm(c: int, names: list[str], prof: str) -> float:
        w = nab.PROFILES[prof]
        n_win = sum(len(f.scored_windows) for f in files if f.name in names)
        s = sum(raw[c][n][prof][0] for n in names)
        null, perfect = -w["fn"] * n_win, w["tp"] * n_win
        return float(100.0 * (s - null) / (perfect - null))

    return norm


def loso(
    candidates: list[dict[str, Any]],
    names: list[str],
    prof: str,
    norm: Callable[[int, list[str], str], float],
) -> None:
    """For each series left out, pick the candidate best on the other four under ``prof`` and
    print its held-out score; then the mean held-out score and the candidate chosen most often."""
    chosen, held = [], []
    print(f"leave one series out, profile {prof}:")
    for out in names:
        train = [n for n in names if n != out]
        best = max(range(len(candidates)), key=lambda c: norm(c, train, prof))
        chosen.append(best)
        held.append(norm(best, [out], prof))
        print(
            f"fold {out}: chose {json.dumps(candidates[best])} "
            f"train={norm(best, train, prof):.1f} held-out={held[-1]:.1f}"
        )
    print(f"mean held-out fold score: {sum(held) / len(held):.1f}")
    top = Counter(chosen).most_common(1)[0][0]
    print(f"chosen most often: {json.dumps(candidates[top])}")


def main(argv: list[str] | None = None, build: Build = product) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--nab-dir", type=Path, default=DEFAULT_NAB)
    ap.add_argument("--scorer", type=Path, default=DEFAULT_SCORER)
    ap.add_argument("--grid", type=str, default="{}", help="JSON: field -> list of values")
    ap.add_argument(
        "--profile",
        default="standard",
        help="profile(s) the folds choose by, comma-separated (each gets its own LOSO table)",
    )
    ap.add_argument(
        "--calibration",
        action="store_true",
        help="print the share of buckets (and of runs) with p < alpha outside the labelled "
        "windows, for each setting in the grid, instead",
    )
    ap.add_argument(
        "--pages",
        action="store_true",
        help="list every page of each setting in the grid, with where NAB counts it, instead",
    )
    args = ap.parse_args(argv)
    nab = load_scorer(args.scorer)
    import numpy as np

    files = nab.load_corpus(args.nab_dir)
    data = {f.name: read(args.nab_dir / "realTweets" / f.name) for f in files}
    candidates = grid(json.loads(args.grid)) or [{}]
    if args.calibration:
        for cand in candidates:
            print(json.dumps(cand))
            calibration(files, data, build(cand))
        return 0
    if args.pages:
        for cand in candidates:
            print(json.dumps(cand))
            pages(files, data, build(cand))
        return 0

    def alerts_of(make: Callable[[], SeriesDetector]) -> Callable[[Any], Any]:
        return lambda f: np.asarray(run(make, *data[f.name])[0])

    raw = [score_files(nab, files, alerts_of(build(cand))) for cand in candidates]
    norm = normaliser(nab, files, raw)
    names = [f.name for f in files]
    for c, cand in enumerate(candidates):
        fps = sum(raw[c][n]["standard"][1] for n in names)
        hits = sum(raw[c][n]["standard"][2] for n in names)
        print(
            f"{json.dumps(cand)}  standard={norm(c, names, 'standard'):.1f} "
            f"lowFP={norm(c, names, 'reward_low_FP_rate'):.1f} "
            f"lowFN={norm(c, names, 'reward_low_FN_rate'):.1f} hits={hits} fp={fps}  "
            + " ".join(f"{n[15:-4]}={norm(c, [n], 'standard'):.0f}" for n in names)
        )
    if len(candidates) > 1:
        for prof in args.profile.split(","):
            loso(candidates, names, prof, norm)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
