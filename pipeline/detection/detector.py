"""The per-series surge detector: robust seasonal baseline, tails from the series' own extremes.

One :class:`SeriesDetector` follows one brand x topic series of event-time buckets. For each closed
bucket (fed in order of start time) it

1. predicts ``y_hat = level + daily(hour) + weekly(day)`` in log space (``y = log(1 + count)``):
   an additive, robust Holt-Winters. Each residual teaches the level and the profiles at most
   ``clip`` scales, and an unusual bucket (or any while an alert fires) a tenth as much, so past
   spikes do not inflate the baseline and a crisis does not become the new normal, while a
   lasting level shift is absorbed within hours;
2. standardises the residual by a robust scale and sums it over several time scales (one
   bucket, half an hour, three hours): a spike shows in the first, a surge that builds in the
   others;
3. turns each scale's statistic into a tail probability with peaks over threshold
   (:mod:`.pot`): a generalised Pareto tail fitted to the series' own largest values, so a big
   brand's routine news bursts are priced as routine and a quiet product's first burst is not;
   the bucket's ``p`` is the smallest scale's times the number of scales, and ``score = 1 - p``;
4. pages when ``p <= alert_p`` (the sensitivity), the bucket holds ``min_observed`` mentions or
   more and at least ``min_ratio`` times its expected volume; resolves after
   ``resolve_buckets`` calm buckets, then cools down.

It also judges the bucket still filling (:meth:`SeriesDetector.judge_filling`): when the mentions
of the last ``early_window_seconds`` are already extreme for the expected rate, and not a blip,
it pages then, without waiting for the bucket to close or for the allowed lateness.

Everything it knows is in :meth:`SeriesDetector.to_state` (compact, JSON-serialisable); a detector
rebuilt from that state continues exactly as the original, which lets the stream keep it in a
changelog-backed table and ``tocsin backtest`` replay it offline.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from pipeline.detection.config import DetectorConfig
from pipeline.detection.negbin import upper_tail
from pipeline.detection.pot import TailModel
from pipeline.detection.reading import (
    Reading,
    epoch_datetime,
    reading_from_list,
    reading_to_list,
)

STATE_VERSION = 2
CRITICAL_P = 1e-6
"""A paging bucket this unusual and ``CRITICAL_RATIO`` times its expected volume is critical."""
CRITICAL_RATIO = 10.0
BLIP_SECONDS = 120.0
"""The stretch of a bucket ``peak`` covers (two adjacent minutes: any one-minute blip fits)."""
Z_BAND = 2.576
"""Half-width of the expected band shown to people, in scales (99 % for a normal residual)."""


def _epoch(start: datetime) -> float:
    if start.tzinfo is None:
        start = start.replace(tzinfo=UTC)
    return start.timestamp()


def densest(times: Sequence[float], width: float) -> int:
    """Most of the sorted ``times`` that fit in any interval of ``width`` seconds."""
    best, lo = 0, 0
    for hi, t in enumerate(times):
        while t - times[lo] > width:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


class SeriesDetector:
    """Online detector for one series; see the module docstring for the method."""

    def __init__(
        self, config: DetectorConfig | None = None, state: Mapping[str, Any] | None = None
    ) -> None:
        cfg = config or DetectorConfig()
        self.config = cfg
        self._a_level = cfg.per_bucket(cfg.level_half_life_seconds)
        self._a_scale = cfg.per_bucket(cfg.scale_half_life_seconds)
        self._ks = [max(1, cfg.buckets(s)) for s in cfg.scales_seconds]
        self._kmax = max(self._ks)
        self._warmup = cfg.warmup_buckets()
        self._tail_after = cfg.buckets(cfg.tail_learn_after_seconds)
        self._cooldown_buckets = cfg.buckets(cfg.cooldown_seconds)
        self._season_after = min(12, self._warmup)
        self._first_day = cfg.buckets(86400)
        self.tails = [
            TailModel(
                rate=cfg.tail_rate,
                step=cfg.tail_step,
                memory=cfg.tail_memory,
                initial_threshold=cfg.tail_initial,
                prior_scale=cfg.tail_prior_scale,
                prior_shape=cfg.tail_prior_shape,
                prior_weight=cfg.tail_prior_weight,
            )
            for _ in self._ks
        ]
        self.n = 0
        self.level = 0.0
        self.scale = cfg.scale_prior
        self.daily = [0.0] * 24
        self.weekly = [0.0] * 7
        self.resid: list[float] = []  # standardised residuals of the last buckets, oldest first
        self.last_epoch: float | None = None
        self.firing = False
        self.calm = 0
        self.cooldown = 0
        self.episode_start: float | None = None
        self._last: Reading | None = None
        if state is not None:
            self._load(state)

    # ------------------------------------------------------------------ public API

    def update(self, start: datetime, observed: float, peak: float | None = None) -> Reading:
        """Feed one closed bucket and return its reading (see :meth:`update_all` for gaps)."""
        return self.update_all(start, observed, peak)[-1]

    def update_all(
        self, start: datetime, observed: float, peak: float | None = None
    ) -> list[Reading]:
        """Feed one closed bucket; return readings for skipped buckets (zeros) and then this one.

        ``peak``, when known (mention-level counting), is the most mentions the bucket holds in
        any two adjacent minutes: a bucket whose excess all lies there is a blip (a minute or
        two of noise), which pages only if the rest of the bucket would page on its own.

        A bucket whose start is not after the last one seen is a replay (the stream is
        at-least-once): it changes nothing and returns the previous reading with no transition.
        """
        if observed < 0 or not math.isfinite(observed):
            raise ValueError(f"observed must be a finite count >= 0, got {observed!r}")
        t = _epoch(start)
        last = self.last_epoch
        if last is not None and t <= last:
            if self._last is None:  # pragma: no cover - last_epoch implies a last reading
                raise RuntimeError("detector state has a last bucket but no last reading")
            return [replace(self._last, transition=None)]
        out: list[Reading] = []
        if last is not None:
            step = self.config.bucket_seconds
            missing = max(0, round((t - last) / step) - 1)
            fill_from = last
            if missing > self.config.max_gap_buckets:
                fill_from = t - (self.config.max_gap_buckets + 1) * step
                missing = self.config.max_gap_buckets
            for i in range(1, missing + 1):
                out.append(self._step(fill_from + i * step, 0.0))
        out.append(self._step(t, float(observed), peak))
        return out

    def judge_filling(
        self, start: datetime, count: float, arrivals: Sequence[float], now: float
    ) -> Reading | None:
        """Page early on the bucket starting at ``start`` if its recent mentions already say so.

        ``count`` is the bucket's count so far, ``arrivals`` the event times (epoch seconds,
        sorted) of the series' mentions in the last ``early_window_seconds`` up to ``now`` (they
        may reach into the previous bucket). Returns the ``fired`` reading when it pages (and
        marks the alert firing, so the close of the bucket confirms rather than pages again),
        else None. Only the alert state changes; the baseline learns at the close, as ever.
        """
        cfg = self.config
        t = _epoch(start)
        if self.firing or self.cooldown > 0 or self.n < self._warmup:
            return None
        if self.last_epoch is not None and t <= self.last_epoch:
            return None
        lo = now - cfg.early_window_seconds
        window = [a for a in arrivals if lo < a <= now]
        n = len(window)
        if n < cfg.early_min_count:
            return None
        yhat = self._predict(t)
        mu = max(math.expm1(yhat), 0.0)
        rate = max(mu, 0.05) / cfg.bucket_seconds
        alpha = min(max(math.expm1(self._scale() ** 2), 0.05), 3.0)
        expected = rate * cfg.early_window_seconds
        if n < max(cfg.early_ratio, self._min_ratio()) * expected:
            return None
        p = upper_tail(float(n), expected, alpha)
        if p > cfg.early_p:
            return None
        rest = n - densest(window, cfg.early_blip_seconds)
        rest_expected = rate * (cfg.early_window_seconds - cfg.early_blip_seconds)
        if (
            rest < cfg.early_rest_min
            or upper_tail(float(rest), rest_expected, alpha) > cfg.early_rest_p
        ):
            return None
        self.firing = True
        self.calm = 0
        self.episode_start = t
        severity = "critical" if p <= CRITICAL_P and n >= CRITICAL_RATIO * expected else "warning"
        lower, upper = self._band(yhat)
        return Reading(
            start=epoch_datetime(t),
            observed=count,
            expected=mu,
            lower=lower,
            upper=upper,
            score=1.0 - p,
            severity=severity,
            firing=True,
            transition="fired",
            episode_start=epoch_datetime(t),
            warming_up=False,
            p_value=p,
            volume=count,
            hot=True,
            fired_at=epoch_datetime(now),
            early=True,
        )

    def score_filling(self, start: datetime, count: float) -> float:
        """``1 - p`` of a bucket that holds ``count`` so far: a floor on its score at close
        (counts only grow). Changes nothing."""
        t = _epoch(start)
        if self.last_epoch is not None and t <= self.last_epoch:
            return 0.0
        yhat = self._predict(t)
        return 1.0 - self._p_after(self.resid, count, yhat)

    def to_state(self) -> dict[str, Any]:
        """Everything needed to continue exactly where this detector is (JSON-serialisable)."""
        last = self._last
        return {
            "v": STATE_VERSION,
            "b": self.config.bucket_seconds,
            "n": self.n,
            "lv": [self.level, self.scale],
            "d": self.daily[:],
            "w": self.weekly[:],
            "rs": self.resid[:],
            "t": [tail.dump() for tail in self.tails],
            "al": [self.last_epoch, self.firing, self.calm, self.cooldown, self.episode_start],
            "r": None if last is None else reading_to_list(last),
        }

    @property
    def warming_up(self) -> bool:
        return self.n < self._warmup

    # ------------------------------------------------------------------ internals

    def _load(self, state: Mapping[str, Any]) -> None:
        if state.get("v") != STATE_VERSION:
            raise ValueError(f"unsupported detector state version {state.get('v')!r}")
        if state.get("b") != self.config.bucket_seconds:
            raise ValueError(
                f"state was built with {state.get('b')}s buckets, config has "
                f"{self.config.bucket_seconds}s"
            )
        self.n = int(state["n"])
        self.level, self.scale = (float(v) for v in state["lv"])
        self.daily = [float(v) for v in state["d"]]
        self.weekly = [float(v) for v in state["w"]]
        self.resid = [float(v) for v in state["rs"]][-self._kmax :]
        tails = state["t"]
        if len(tails) != len(self.tails):
            raise ValueError("detector state has another number of time scales than the config")
        for tail, dumped in zip(self.tails, tails, strict=True):
            tail.load(dumped)
        last_epoch, firing, calm, cooldown, episode_start = state["al"]
        self.last_epoch = None if last_epoch is None else float(last_epoch)
        self.firing = bool(firing)
        self.calm = int(calm)
        self.cooldown = int(cooldown)
        self.episode_start = None if episode_start is None else float(episode_start)
        r = state.get("r")
        self._last = None if r is None else reading_from_list(r)

    def _slots(self, t: float) -> tuple[int, int, float, int]:
        """Hour slots either side of the bucket's middle, the weight of the later, the weekday."""
        t_mid = t + self.config.bucket_seconds / 2.0
        h = (t_mid % 86400.0) / 3600.0 - 0.5
        lo = math.floor(h)
        return lo % 24, (lo + 1) % 24, h - lo, int(t_mid // 86400.0) % 7

    def _predict(self, t: float) -> float:
        s0, s1, frac, day = self._slots(t)
        return self.level + (1.0 - frac) * self.daily[s0] + frac * self.daily[s1] + self.weekly[day]

    def _min_ratio(self) -> float:
        """How far above its expected volume a bucket must be to page (higher on the first day)."""
        cfg = self.config
        if self.n < self._first_day:
            return max(cfg.min_ratio, cfg.first_day_min_ratio)
        return cfg.min_ratio

    def _scale(self) -> float:
        return max(self.scale, self.config.scale_floor)

    def _standardise(self, observed: float, yhat: float, e: float) -> float:
        """The bucket's log residual in standard units: over the robust scale, or over the
        counting noise of the expected volume when that is larger (``log(1 + X)`` of a Poisson
        count of mean m varies by about sqrt(m) / (m + 1)), so a very regular series is not
        infinitely surprised by one mention more."""
        m = max(math.expm1(yhat), 0.05)
        return e / max(self._scale(), math.sqrt(m) / (m + 1.0))

    def _band(self, yhat: float) -> tuple[float, float]:
        half = Z_BAND * self._scale()
        return max(0.0, math.expm1(yhat - half)), math.expm1(yhat + half)

    def _step(self, t: float, observed: float, peak: float | None = None) -> Reading:
        cfg = self.config
        y = math.log1p(observed)
        if self.n == 0:
            self.level = y
        yhat = self._predict(t)
        e = y - yhat
        scale = self._scale()
        self.resid.append(self._standardise(observed, yhat, e))
        if len(self.resid) > self._kmax:
            del self.resid[0]
        stats = [sum(self.resid[-k:]) / math.sqrt(len(self.resid[-k:])) for k in self._ks]
        ps = [tail.tail(s) for tail, s in zip(self.tails, stats, strict=True)]
        p = min(1.0, len(ps) * min(ps))
        mu = max(math.expm1(yhat), 0.0)
        warming = self.n < self._warmup
        hot = (
            not warming
            and p <= cfg.alert_p
            and observed >= cfg.min_observed
            and observed >= self._min_ratio() * mu
        )
        if hot and p <= CRITICAL_P and observed >= CRITICAL_RATIO * mu:
            severity = "critical"
        elif hot:
            severity = "warning"
        else:
            severity = "info"
        if hot and peak is not None and self._blip(observed, peak, yhat, mu):
            hot = False
        # An early page can go out while older buckets are still filling (they close after the
        # allowed lateness): those predate the episode, so they neither resolve nor feed it.
        before = self.firing and self.episode_start is not None and t < self.episode_start
        transition = None if before else self._advance(t, hot, ps[0])
        # A surge is kept out of the baseline, but one that lasts past ``accept_shift_seconds``
        # is a new level: from then on the baseline follows it and the alert can resolve.
        settled = (
            self.firing
            and self.episode_start is not None
            and t - self.episode_start >= cfg.accept_shift_seconds
        )
        firing = self.firing and not before
        self._learn(t, e, scale, (firing or p <= cfg.hot_p) and not settled, stats, firing)
        lower, upper = self._band(yhat)
        reading = Reading(
            start=epoch_datetime(t),
            observed=observed,
            expected=mu,
            lower=lower,
            upper=upper,
            score=1.0 - p,
            severity=severity,
            firing=self.firing,
            transition=transition,
            episode_start=None
            if self.episode_start is None
            else epoch_datetime(self.episode_start),
            warming_up=warming,
            p_value=p,
            volume=observed,
            hot=hot,
            fired_at=epoch_datetime(t + cfg.bucket_seconds) if transition == "fired" else None,
        )
        self._last = reading
        return reading

    def _p_after(self, prior: list[float], count: float, yhat: float) -> float:
        """The combined tail probability of a bucket of ``count`` that follows the standardised
        residuals ``prior``, without learning anything."""
        e = self._standardise(count, yhat, math.log1p(count) - yhat)
        ps = []
        for k, tail in zip(self._ks, self.tails, strict=True):
            window = prior[-(k - 1) :] if k > 1 else []
            ps.append(tail.tail((sum(window) + e) / math.sqrt(len(window) + 1)))
        return min(1.0, len(ps) * min(ps))

    def _blip(self, observed: float, peak: float, yhat: float, mu: float) -> bool:
        """True when the bucket would not page without its densest two minutes (scaled up to
        the whole bucket): the surge is a blip, not a surge."""
        cfg = self.config
        span = cfg.bucket_seconds - BLIP_SECONDS
        if span <= 0:
            return False
        rest = max(0.0, observed - peak) * cfg.bucket_seconds / span
        p = self._p_after(self.resid[:-1], rest, yhat)  # the bucket's own residual replaced
        return not (p <= cfg.alert_p and rest >= cfg.min_observed and rest >= cfg.min_ratio * mu)

    def _learn(
        self,
        t: float,
        e: float,
        scale: float,
        anomalous: bool,
        stats: Sequence[float],
        firing: bool,
    ) -> None:
        """Robust updates: residuals clipped to ``clip`` scales, unusual buckets down-weighted."""
        cfg = self.config
        lw = cfg.anomalous_learn_weight if anomalous else 1.0
        ec = max(-cfg.clip * scale, min(cfg.clip * scale, e))
        self.level += max(self._a_level, 1.0 / (self.n + 1)) * lw * ec
        if self.n >= self._season_after:
            s0, s1, frac, day = self._slots(t)
            gain = cfg.daily_gain * lw
            self.daily[s0] += gain * (1.0 - frac) * ec
            self.daily[s1] += gain * frac * ec
            self.weekly[day] += cfg.weekly_gain * lw * ec
            # Profiles keep mean 0 and hand their mean to the level: they cannot drift together.
            md = sum(self.daily) / 24.0
            mw = sum(self.weekly) / 7.0
            self.daily = [d - md for d in self.daily]
            self.weekly = [w - mw for w in self.weekly]
            self.level += md + mw
        b = max(self._a_scale, 1.0 / (self.n + 2))
        # Mean absolute residual x sqrt(pi/2): the standard deviation for a normal residual.
        self.scale += b * lw * (min(abs(e), cfg.clip * scale) * 1.2533 - self.scale)
        if self.n >= self._tail_after and not firing:
            for tail, s in zip(self.tails, stats, strict=True):
                tail.learn(s)
        self.n += 1
        self.last_epoch = t

    def _advance(self, t: float, hot: bool, p_short: float) -> str | None:
        cfg = self.config
        if self.firing:
            self.calm = self.calm + 1 if p_short > cfg.resolve_p else 0
            if self.calm >= cfg.resolve_buckets:
                self.firing = False
                self.calm = 0
                self.cooldown = self._cooldown_buckets
                return "resolved"
            return None
        if self.cooldown > 0:
            self.cooldown -= 1
            return None
        if hot:
            self.firing = True
            self.calm = 0
            self.episode_start = t
            return "fired"
        return None
