"""ARTime (Hampton 2021), re-implemented in numpy to check its NAB figure on the dev series.

    python -m bench.artime [--out DIR] [--nab-dir DIR] [--scorer nab_score.py]

ARTime is the adaptive-resonance detector that tops NAB's scoreboard (github.com/markNZed/ARTimeNAB.jl,
AGPL-3; this is a reading of it, not a copy). At its own fixed settings and NAB's corpus thresholds it
is run on the five NAB realTweets development series; each output file (``timestamp,value,
anomaly_score``, NAB's result format) is scored by the shared NAB scorer (``nab_score.evaluate``),
and the script prints standard / reward_low_FP / reward_low_FN, windows hit and rows that fire
outside the windows. What it computes (docs/detection.md, "ARTime"):

* NAB hands every detector the file's minimum and maximum (``inputMin``/``inputMax``, taken over
  the whole file, future included) and its length; ARTime scales every value by them;
* downsampling: every ``sstep`` = 7 rows (750 probationary rows / (8 x 13)) the 7-row block becomes
  one value: its maximum (its minimum when that lies farther from a running average), or its mean
  when the extreme is within 10 % of the mean; scaled to [0, 1], rounded to 80 levels and snapped
  to a running median level when within 0.075 of it;
* features: the last 8 downsampled values, min-max scaled, and their 3-level Haar transform,
  min-max scaled (16 values, complement-coded to 32);
* a dual-vigilance fuzzy ART (DVFA) learns categories of these vectors; a vector that resonates
  with no category (match below the lower vigilance ``rho_lb``) is novel; the vigilances start from
  a batch pass over the probationary period and then track the match history;
* a novel vector outside masking (just after a new category or an anomaly, unless it matches
  much worse than the last anomaly) gets a confidence in (0, 1] from how far its match lies below
  the vigilances; every other row scores 0.
"""

from __future__ import annotations

import argparse
import csv
import json
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from bench import nab_cv

# NAB config/thresholds.json (numenta/NAB, the commit that added ARTime): thresholds optimised on
# the whole NAB corpus (58 files), not on these five series.
NAB_CORPUS_THRESHOLDS = {
    "standard": 0.317486,
    "reward_low_FP_rate": 0.317585,
    "reward_low_FN_rate": 0.317486,
}


def _haar_matrix(n: int = 8) -> np.ndarray:
    """The full-depth periodic Haar DWT of Wavelets.jl as a matrix (columns: images of unit vectors).

    Wavelets.jl filters with the reversed scaling filter and the mirrored (sign-alternating) one,
    downsampling the detail at odd and the scaling at even positions; the result is laid out as
    [scaling, coarsest detail, ..., finest details]. The transform is linear, so one matrix holds it.
    """
    c = 1.0 / np.sqrt(2.0)
    out = np.zeros((n, n))
    for k in range(n):
        s = np.zeros(n)
        s[k] = 1.0
        y = np.zeros(n)
        length = n
        while length > 1:
            half = length // 2
            pairs = s[:length].reshape(half, 2)
            # detail filter [c, -c] applied with a one-sample shift: x[2i] - x[2i-1] (1-based)
            y[half:length] = c * (pairs[:, 1] - pairs[:, 0])
            y[:half] = c * (pairs[:, 0] + pairs[:, 1])
            s = y[:half].copy()
            length = half
        out[:, k] = y
    return out


HAAR8 = _haar_matrix(8)

SCALES = ("file", "running", "probation")
"""What values are scaled to [0, 1] by: ``file``, the whole file's min and max (NAB's inputs, as
published; a stream cannot know them); ``running``, the min and max seen so far; ``probation``,
those of the probationary rows, then frozen (larger values clip at the top level)."""


class DVFA:
    """Dual-vigilance fuzzy ART as ARTime uses it: match = |x∧w|/|w| cubed times the match of the
    current value's complement pair squared; every category at or above ``rho_ub`` learns (fuzzy
    AND); a best match in [rho_lb, rho_ub) commits a new category of an existing cluster; below
    rho_lb a new cluster (the sample is novel: label -1)."""

    def __init__(self, dim: int) -> None:
        self.dim = dim
        self.rho_lb = 0.0
        self.rho_ub = 0.0
        self.w: np.ndarray | None = None  # (categories, 2 dim)
        self.labels: list[int] = []
        self.n_clusters = 0
        self.a: list[float] = []  # best match per sample
        self.ae: list[float] = []  # its value-pair match

    def _match(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        assert self.w is not None
        em = np.minimum(x[None, :], self.w)
        nw = self.w.sum(axis=1)
        nw = np.where(nw == 0.0, 0.001, nw)
        feature = em.sum(axis=1) / nw
        d = self.dim
        energy = (em[:, d - 1] + em[:, 2 * d - 1]) / (self.w[:, d - 1] + self.w[:, 2 * d - 1])
        return feature**3 * energy**2, energy, em

    def train(self, f: np.ndarray, learning: bool = True) -> int:
        x = np.concatenate([f, 1.0 - f])
        if self.w is None:
            # the first sample only creates an all-ones category (it is never learned from)
            self.w = np.ones((1, 2 * self.dim))
            self.labels.append(1)
            self.n_clusters = 1
            self.a.append(0.0)
            self.ae.append(0.0)
            return 1
        m, me, em = self._match(x)
        order = np.argsort(-m, kind="stable")
        best = int(order[0])
        self.a.append(float(m[best]))
        self.ae.append(float(me[best]) if m[best] > 0.0 else 0.0)
        if not learning:
            return -1
        label = -1
        mismatch = True
        for j in order:
            j = int(j)
            if m[j] >= self.rho_ub:
                self.w[j] = em[j]
                if j == best:
                    label = self.labels[j]
                mismatch = False
            elif m[j] >= self.rho_lb and mismatch:
                if j == best:
                    label = self.labels[j]
                self.labels.append(label)
                self.w = np.vstack([self.w, x])
                mismatch = False
                break
            else:
                break
        if mismatch:
            label = -1
            self.labels.append(self.n_clusters + 1)
            self.w = np.vstack([self.w, x])
            self.n_clusters += 1
        return label


def _similarity(t1: np.ndarray, t2: np.ndarray) -> float:
    n1, n2 = float(np.linalg.norm(t1)), float(np.linalg.norm(t2))
    if n1 == 0.0:
        return 1.0 - n2
    if n2 == 0.0:
        return 1.0 - n1
    return float(t1 @ t2) / (n1 * n2)


class ARTime:
    """One series' detector at ARTime's fixed settings; ``process`` takes one row, returns its score."""

    window = 8
    windows_per_pb = 13
    discretize_chomp = 0.075
    nlevels = 80
    initial_rho = 0.80

    def __init__(self, dmin: float, dmax: float, dlength: int, scale: str = "file") -> None:
        if scale not in SCALES:
            raise ValueError(f"scale {scale!r}: one of {', '.join(SCALES)}")
        self.dmin, self.dmax = dmin, dmax
        self.scale = scale
        pb = int(np.floor(0.15 * dlength)) if dlength < 5000 else 750
        self.probationary = pb - pb % 2
        self.sstep = max(1, round(self.probationary // (self.window * self.windows_per_pb)))
        self.trend_window = self.probationary // self.sstep
        self.mask_after_anomaly = int(self.window * 1.5)
        self.art = DVFA(2 * self.window)
        self.i = 1
        self.dsi = 1
        self.ds_window = np.zeros(self.sstep)
        self.ds_moving_average = 0.0
        self.medbin = np.zeros(self.nlevels + 1, dtype=int)
        self.medlevel = self.belowmed = self.abovemed = 0
        self.f_window = np.zeros(self.window)
        self.trend_f: list[np.ndarray] = []
        self.last_anomaly_i = 0
        self.last_anomaly_sim = 0.0
        self.last_rho_update_i = 0
        self.mask_after_cat = False
        self.no_new_cat_count = 0
        self.anomaly_sim_history: list[float] = []
        self.sim_window = np.ones(self.trend_window // 2 + 1)
        self.sim_diff_window = np.zeros(self.trend_window + 1)
        self.rho_ub_sum = 0.0
        self.rho_ub_n = 0

    def process(self, value: float) -> float:
        self.ds_window = np.append(self.ds_window[1:], value)
        if self.scale == "running" or (self.scale == "probation" and self.i <= self.probationary):
            self.dmin = value if self.i == 1 else min(self.dmin, value)
            self.dmax = value if self.i == 1 else max(self.dmax, value)
        anomaly = 0.0
        if self.i % self.sstep == 0:
            anomaly = self._process_features(self._features(self._downsample()), self.dsi)
            self.dsi += 1
        self.i += 1
        return anomaly

    def _downsample(self) -> float:
        block = self.ds_window
        mean, top, low = float(block.mean()), float(block.max()), float(block.min())
        if self.dsi == 1:
            self.ds_moving_average = mean
        self.ds_moving_average = (self.ds_moving_average + mean) / 2
        ds = top
        if abs(top - self.ds_moving_average) < abs(low - self.ds_moving_average):
            ds = low
        if abs(ds - mean) < 0.1 * mean:
            ds = mean
        ds -= self.dmin
        if self.dmax - self.dmin != 0:
            ds /= self.dmax - self.dmin
        ds = min(max(ds, 0.0), 1.0)  # only a frozen (probation) scale can be exceeded
        level = int(np.round(ds * self.nlevels))
        ds = level / self.nlevels
        return self._snap_to_median(ds, level)

    def _snap_to_median(self, ds: float, level: int) -> float:
        """A running (approximate) median of the levels; a value within the chomp of it becomes it."""
        self.medbin[level] += 1
        medpos = self.dsi // 2
        if self.dsi == 1:
            self.medlevel = level
        if self.medlevel > level:
            self.belowmed += 1
        elif self.medlevel < level:
            self.abovemed += 1
        if medpos < self.abovemed:
            self.belowmed += self.medbin[self.medlevel]
            self.medlevel += 1
            while self.medbin[self.medlevel] == 0:
                self.medlevel += 1
            self.abovemed -= self.medbin[self.medlevel]
        elif medpos < self.belowmed:
            self.abovemed += self.medbin[self.medlevel]
            self.medlevel -= 1
            while self.medbin[self.medlevel] == 0:
                self.medlevel -= 1
            self.belowmed -= self.medbin[self.medlevel]
        med = self.medlevel / self.nlevels
        return med if abs(ds - med) < self.discretize_chomp else ds

    def _features(self, ds: float) -> np.ndarray:
        self.f_window = np.append(self.f_window[1:], ds)
        if self.dsi < self.window:
            return np.zeros(2 * self.window)
        dw = self.f_window - self.f_window.min()
        if dw.max() != 0:
            dw = dw / dw.max()
        fw = HAAR8 @ dw
        fw = fw - fw.min()
        if fw.max() != 0:
            fw = fw / fw.max()
        return np.concatenate([fw, self.f_window])

    def _process_features(self, f: np.ndarray, i: int) -> float:
        if i > self.trend_window:
            return self._detect(f, i)
        self.trend_f.append(f)
        if i == self.trend_window:
            # the probationary period in one batch: initial vigilance, then each vector in turn
            mat = np.array(self.trend_f)
            rho = self._init_rho(mat[self.window - 1 : self.trend_window])
            self.art.rho_lb = self.art.rho_ub = rho
            for fi, ff in enumerate(mat, start=1):
                self._detect(ff, fi)
        return 0.0

    def _init_rho(self, feats: np.ndarray) -> float:
        """Train a fresh ART at vigilance 0.8 on the probationary vectors, least typical first;
        the mean best match over its second half is the starting vigilance."""
        n = len(feats)
        sim = np.ones((n, n))
        for a in range(n):
            for b in range(a):
                sim[a, b] = sim[b, a] = _similarity(feats[a], feats[b])
        order = np.argsort(sim.sum(axis=0), kind="stable")
        art = DVFA(self.art.dim)
        art.rho_lb = art.rho_ub = self.initial_rho
        for col in order:
            art.train(feats[col])
        start = self.trend_window // 2 - 1  # Julia's A[trend_window ÷ 2 : end], 1-based
        return float(np.mean(art.a[start:]))

    def _detect(self, f: np.ndarray, i: int) -> float:
        art = self.art
        since = i - self.last_anomaly_i
        update_after_anomaly = since == self.mask_after_anomaly
        update_for_trend = (i - self.last_rho_update_i) >= self.trend_window // 2
        mask_after_anomaly = since <= self.mask_after_anomaly
        settled = self.no_new_cat_count >= self.mask_after_anomaly
        if i > self.trend_window + self.mask_after_anomaly and self.mask_after_cat and settled:
            self.mask_after_cat = False
        cat = art.train(f, learning=False) if i < self.window else art.train(f)
        if i < self.window:
            cat = -1
        self.no_new_cat_count = 0 if cat == -1 else self.no_new_cat_count + 1
        sim, energy = art.a[i - 1], art.ae[i - 1]
        self.rho_ub_sum += sim
        self.rho_ub_n += 1
        self.sim_window = np.append(self.sim_window[1:], sim)
        self.sim_diff_window = np.append(self.sim_diff_window[1:], art.rho_ub - sim)
        if since < self.mask_after_anomaly and self.anomaly_sim_history:
            self.anomaly_sim_history[-1] = min(self.anomaly_sim_history[-1], sim)
        masking = self.mask_after_cat or mask_after_anomaly
        below_last = sim < self.last_anomaly_sim * (0.90 if mask_after_anomaly else 0.70)
        anomaly = 0.0
        if i > self.trend_window and cat == -1 and (not masking or below_last):
            anomaly = self._confidence(sim, energy)
            self.anomaly_sim_history.append(sim)
            self.last_anomaly_sim = sim
            self.last_anomaly_i = i
        self.mask_after_cat = cat == -1 or self.mask_after_cat
        if i > self.trend_window and (update_after_anomaly or update_for_trend):
            self._update_rho(i)
        return anomaly

    def _update_rho(self, i: int) -> None:
        """Upper vigilance: the mean match so far (at most 0.97); lower: up 19 % of the way to the
        trend window's worst match, or down by half the typical shortfall, not below the mean match
        of past anomalies."""
        art = self.art
        new_ub = min(0.97, self.rho_ub_sum / self.rho_ub_n)
        min_sim = float(self.sim_window.min())
        lb = art.rho_lb
        if lb <= min_sim:
            new_lb = lb + (min_sim - lb) * 0.19
        else:
            decr = 0.0
            if i > self.trend_window * 2:
                below = self.sim_diff_window[self.sim_diff_window > 0.05]
                if below.size:
                    decr = float(np.minimum(0.37, below).mean())
            new_lb = lb - max(0.01, decr) / 2
            if self.anomaly_sim_history:
                new_lb = max(float(np.mean(self.anomaly_sim_history)), new_lb)
        art.rho_lb = min(new_ub, new_lb)
        art.rho_ub = new_ub
        self.last_rho_update_i = i
        self.mask_after_cat = True

    def _confidence(self, sim: float, energy: float) -> float:
        sim = min(0.999, sim)
        ub = ((1 - sim) - (1 - self.art.rho_ub)) / (1 - sim)
        lb = ((1 - sim) - (1 - self.art.rho_lb)) / (1 - sim)
        s = (ub * 0.35 + lb * 0.65) + (1.0 - energy) * 1.5
        return round(min(1.0, s), 6)


def run_series(values: list[float], scale: str = "file") -> list[float]:
    """ARTime's score of every row, with NAB's inputs (the file's min, max and length); ``scale``
    as in :data:`SCALES`."""
    det = ARTime(min(values), max(values), len(values), scale=scale)
    return [det.process(v) for v in values]


def write_result(
    path: Path, timestamps: list[str], values: list[float], scores: list[float]
) -> None:
    with path.open("w", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(["timestamp", "value", "anomaly_score"])
        for t, v, s in zip(timestamps, values, scores, strict=True):
            out.writerow([t, f"{v:g}", repr(s)])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--out", type=Path, help="folder for the result files (default: a new temporary one)"
    )
    parser.add_argument("--nab-dir", type=Path, default=nab_cv.DEFAULT_NAB)
    parser.add_argument("--scorer", type=Path, default=nab_cv.DEFAULT_SCORER)
    parser.add_argument("--json", action="store_true", help="print the scorer's JSON result")
    parser.add_argument(
        "--scale", choices=SCALES, default="file", help="what values are scaled by (SCALES)"
    )
    args = parser.parse_args(argv)
    scorer = nab_cv.load_scorer(args.scorer)
    args.out = args.out or Path(tempfile.mkdtemp(prefix="artime-nab."))
    args.out.mkdir(parents=True, exist_ok=True)
    print(f"result files in {args.out}")
    for path in sorted((args.nab_dir / "realTweets").glob("*.csv")):
        with path.open() as handle:
            rows = list(csv.DictReader(handle))
        values = [float(r["value"]) for r in rows]
        scores = run_series(values, scale=args.scale)
        write_result(args.out / path.name, [r["timestamp"] for r in rows], values, scores)
        fired = sum(1 for s in scores if s > 0)
        print(f"{path.name}: {len(rows)} rows, {fired} rows with a score > 0", flush=True)
    fixed: dict[str, Any] = scorer.evaluate(
        args.out, thresholds=NAB_CORPUS_THRESHOLDS, nab_dir=args.nab_dir
    )
    best: dict[str, Any] = scorer.evaluate(args.out, optimize=True, nab_dir=args.nab_dir)
    if args.json:
        print(json.dumps({"fixed": fixed, "optimised": best}, indent=2))
        return 0
    print(scorer.report(fixed))
    print("\nthreshold re-optimised on these five series (optimistic):")
    print(best["summary"])
    for profile, r in fixed["profiles"].items():
        outside = {
            s["file"].removeprefix("Twitter_volume_").removesuffix(".csv"): s["fp"]
            for s in r["per_file"]
        }
        print(
            f"{profile}: windows hit {r['windows_hit']}/{r['windows']}, rows firing outside windows "
            f"{r['fp']} {outside}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
