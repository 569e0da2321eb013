"""Experimental paging rules beside the product's detector, judged by leave-one-series-out on NAB.

    python -m bench.nab_ideas --profile standard,reward_low_FP_rate --grid JSON [--pages]

The same runner as ``bench.nab_cv``; a grid may also hold the fields of :class:`Ideas` (any
other field is a ``DetectorConfig`` setting). Each idea only holds back or adds pages of the
product's detector on closed buckets (its baseline and tails are unchanged), so an idea that
passes the choosing rule in ``docs/detection.md`` can then be built into the product:

* ``lik_*``: a second stage as in Numenta's anomaly likelihood (Ahmad et al. 2017): the mean of
  ``-log10 p`` over the last ``lik_short`` buckets, against the mean and spread of that mean over
  the last ``lik_long`` buckets, gives a Gaussian tail probability ``q``; ``lik_mode`` "and" pages
  only when ``p`` and ``q`` both pass, "or" when either does (with the same volume conditions);
  with ``lik_empirical``, ``q`` is the short mean's rank among those of the last ``lik_long``
  buckets instead (no Gaussian: real series' bursts are heavy-tailed);
* ``rise_ratio``: the bucket is at least this many times the mean of the previous
  ``rise_buckets`` (a surge at its onset, not a level reached slowly);
* ``snaive_ratio``: the bucket is at least this many times the largest of the same hour
  (± ``snaive_buckets``) yesterday and a week ago (a seasonal-naive second opinion); with
  ``snaive_both``, only a bucket that both yesterday's and last week's reached is held back
  (a burst that recurs at the same minute, as a scheduled post);
* ``space_seconds``: a page within this long of the last page of the series needs
  ``elapsed >= space_seconds * (log p / log alert_p) ** -space_power``: the more extreme the
  new page, the sooner it may follow;
* ``cluster_k``: also pages (with the same volume conditions) when at least this many of the
  last ``cluster_buckets`` buckets have ``p <= cluster_p``: a run of moderately unusual hours
  (a story that keeps coming back) rather than one extreme bucket.
"""

from __future__ import annotations

import bisect
import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from typing import Any

from bench import nab_cv
from pipeline.detection.config import DetectorConfig
from pipeline.detection.detector import SeriesDetector
from pipeline.detection.reading import Reading

DAY = 288
WEEK = 7 * DAY


@dataclass(frozen=True)
class Ideas:
    lik_short: int = 0
    lik_long: int = WEEK
    lik_p: float = 1e-4
    lik_mode: str = "and"
    lik_empirical: bool = False
    rise_ratio: float = 0.0
    rise_buckets: int = 12
    snaive_ratio: float = 0.0
    snaive_buckets: int = 6
    snaive_both: bool = False
    space_seconds: float = 0.0
    space_power: float = 1.0
    cluster_k: int = 0
    cluster_p: float = 1e-2
    cluster_buckets: int = 72


IDEA_FIELDS = frozenset(f.name for f in fields(Ideas))


class IdeaDetector(SeriesDetector):
    """The product's detector with the paging decision at close filtered by :class:`Ideas`."""

    def __init__(self, config: DetectorConfig, ideas: Ideas) -> None:
        # The volume conditions stay in the parent's ``hot``; the p test moves here.
        super().__init__(replace(config, alert_p=0.999))
        self.alert_p = config.alert_p
        self.ideas = ideas
        self.values: deque[float] = deque(maxlen=WEEK + ideas.snaive_buckets + 1)
        self.raw: deque[float] = deque(maxlen=max(1, ideas.lik_short))
        self.means: deque[float] = deque(maxlen=ideas.lik_long)
        self.sums = [0.0, 0.0]
        self.ranked: list[float] = []
        self.observed = 0.0
        self.last_page: float | None = None
        self.unusual: deque[bool] = deque(maxlen=max(1, ideas.cluster_buckets))

    def _step(self, t: float, observed: float, peak: float | None = None) -> Reading:
        self.observed = observed
        reading = super()._step(t, observed, peak)
        self.values.append(observed)
        return reading

    def _likelihood(self, p: float) -> float:
        """Tail probability of the short mean of -log10 p against its own recent history."""
        ideas = self.ideas
        self.raw.append(-math.log10(max(p, 1e-12)))
        m = sum(self.raw) / len(self.raw)
        n = len(self.means)
        q = 1.0
        if n >= DAY and ideas.lik_empirical:
            q = (1 + n - bisect.bisect_left(self.ranked, m)) / (n + 1)
        elif n >= DAY:
            mean = self.sums[0] / n
            sd = math.sqrt(max(self.sums[1] / n - mean * mean, 1e-6))
            q = 0.5 * math.erfc((m - mean) / (sd * math.sqrt(2.0)))
        if n == ideas.lik_long:
            old = self.means[0]
            self.sums[0] -= old
            self.sums[1] -= old * old
            if ideas.lik_empirical:
                del self.ranked[bisect.bisect_left(self.ranked, old)]
        if ideas.lik_empirical:
            bisect.insort(self.ranked, m)
        self.means.append(m)
        self.sums[0] += m
        self.sums[1] += m * m
        return q

    def _agrees(self, t: float, p: float) -> bool:
        ideas, v, obs = self.ideas, self.values, self.observed
        if ideas.rise_ratio > 0 and len(v) >= ideas.rise_buckets:
            before = list(v)[-ideas.rise_buckets :]
            if obs < ideas.rise_ratio * max(sum(before) / len(before), 1.0):
                return False
        if ideas.snaive_ratio > 0 and len(v) > WEEK + ideas.snaive_buckets:
            k = ideas.snaive_buckets
            past = list(v)
            refs = (
                max(past[len(past) - DAY - k : len(past) - DAY + k + 1]),
                max(past[len(past) - WEEK - k : len(past) - WEEK + k + 1]),
            )
            ref = min(refs) if ideas.snaive_both else max(refs)
            if obs < ideas.snaive_ratio * max(ref, 1.0):
                return False
        if ideas.space_seconds > 0 and self.last_page is not None:
            elapsed = t - self.last_page
            strength = math.log(max(p, 1e-12)) / math.log(self.alert_p)
            if elapsed < ideas.space_seconds * max(strength, 1e-3) ** -ideas.space_power:
                return False
        return True

    def _advance(self, t: float, hot: bool, p: float, p_short: float) -> str | None:
        ideas = self.ideas
        passes = p <= self.alert_p
        if ideas.lik_short > 0:
            q = self._likelihood(p)
            passes = (passes and q <= ideas.lik_p) if ideas.lik_mode == "and" else passes
            passes = passes or (ideas.lik_mode == "or" and q <= ideas.lik_p)
        if ideas.cluster_k > 0:
            self.unusual.append(p <= ideas.cluster_p)
            passes = passes or (p <= ideas.cluster_p and sum(self.unusual) >= ideas.cluster_k)
        if not self.firing:
            hot = hot and passes and self._agrees(t, p)
        out = super()._advance(t, hot, p, p_short)
        if out == "fired":
            self.last_page = t
        return out


def build(cand: dict[str, Any]) -> Callable[[], SeriesDetector]:
    ideas = Ideas(**{k: v for k, v in cand.items() if k in IDEA_FIELDS})
    cfg = replace(DetectorConfig(), **{k: v for k, v in cand.items() if k not in IDEA_FIELDS})
    return lambda: IdeaDetector(cfg, ideas)


if __name__ == "__main__":
    raise SystemExit(nab_cv.main(build=build))
