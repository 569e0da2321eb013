"""The per-series spike detector: seasonal baseline, count model, alert state (no I/O, no clock).

One :class:`SeriesDetector` follows one brand x topic series of event-time buckets. For each bucket
(fed in order of start time) it

1. predicts the expected volume ``mu = level * daily(t) * weekly(t)``, where ``level`` tracks
   the deseasonalised volume (a ratio of EWMAs of the volume and of the seasonal factor, so quiet
   hours weigh in as little as they inform; half-life 30 min while the daily profile is young,
   growing to 3 h as it matures), and the seasonal profiles are learned online against a slow
   baseline and shrunk toward flat while immature;
2. scores the bucket with the upper tail ``p = P(X >= observed)`` of a negative binomial with
   online dispersion (``var = phi*mu + alpha*mu**2``, see :mod:`.dispersion`), widened while the
   series is young and by the uncertainty of the level itself (a posterior-predictive tail: the
   level's relative variance ``v`` is propagated through its EWMA, and a gamma-mixed mean turns
   ``alpha`` into ``(1 + alpha)(1 + v) - 1``); ``score = 1 - p`` is a calibrated tail
   probability in [0, 1];
3. runs the alert state machine: a run of at least ``confirm_buckets`` consecutive *hot* buckets
   (tail probability <= ``hot_p``, volume >= ``min_observed``, ratio >= ``min_ratio``) whose summed
   ``-log10(p)`` reaches ``fire_evidence`` fires; ``resolve_buckets`` consecutive calm buckets
   (tail probability > ``resolve_p``) resolve; a cool-down follows;
4. learns, robustly: every bucket is clipped to the band's upper edge before it is learned, the
   level may not climb faster than ``max_level_growth_per_hour``, and hot or firing buckets teach
   the level only ``anomalous_learn_weight`` as much and the profiles nothing, so a crisis does
   not become the new normal (while a lasting shift is absorbed within hours). The noise model
   still learns the tail it is kept from: the first bucket of a run past ``hot_p`` counts with the
   residual the model expects of a tail bucket (:func:`.negbin.tail_residual_sq`), since without
   it ``alpha`` ran ~7 % low (up to 15 % on bursty series).

What "quiet" means (the no-page promise). A surge-free series within these bounds should not
page over a 30-day month at default settings: a weekday mean of 0.5-60 mentions per 5-minute
bucket; negative-binomial burstiness alpha 0-0.3; a daily rhythm of 0-1 times the demo profile
(night down to ~1/17 of the afternoon); weekends at 0.5-1 times weekdays; zero inflation up to 0.3
for means below 5; any start weekday and hour (:data:`.quiet.QUIET_BOUNDS`, drawn from by the
Hypothesis property). It is a statistical promise, not a certainty: even a perfect model with
this firing rule would page on ~0.4 % of such months before the volume rules; measured rates are
printed by ``python -m pipeline.detection.quiet MONTHS SEED`` (2026-11-22, seed 2028: 1 of 150
months paged, 0.0016 pages per series-week, on its first day of history; before that day's
changes about 3-7 % of months paged). First-day pages (no daily profile yet, so a morning rise
of 4x in two hours looked like a slowly building surge) are now stopped by ``first_day_min_ratio``
(seeds 5151, 6262, 2028, 150 months each: 0, 1, 1 first-day pages before, 0 after; the other pages,
day 2-3 mornings and later, are unchanged since the rule changes paging only, not learning).
Pages late in the month came from a noise model biased low by the tail it did not learn (seed
6262, day 27: alpha 0.232 against a true 0.268); with the tail-aware fit, seeds 6262, 5151, 2028,
7373, 8484 (150 months each) paged 1, 0, 0, 0, 1 months, against 2, 0, 0, 0, 1 before. Both
of those were day-2 mornings on busy series with the full demo rhythm: each morning hour had
been seen once, its factor was shrunk toward flat (weight 0.2), the first day's factors were
biased toward 1 (a slot was compared with a baseline still learning from the hours just before
it), and the level, averaging the last hour of a 4-5x rise, expected 0.35-0.5 of the true
volume. The daily profile is now *settled* after one full day (:meth:`SeasonalProfile.settle`:
slots compared with the day's mean, the weekly profile restarted, the level re-expressed) and
a precisely known slot is applied in full from then on (``daily_spread``, an empirical-Bayes
weight); both months are quiet, and so are all 750 (see the README for the figures).
Outside the bounds (alpha well above 0.3, sharper rhythms, trends) ordinary noise pages more.

Everything the detector knows is in :meth:`SeriesDetector.to_state` (compact, JSON-serialisable);
a detector rebuilt from that state produces exactly the same readings afterwards, which is what lets
the Faust agent keep it in a changelog-backed table and ``tocsin backtest`` replay it offline.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from pipeline.detection.config import DetectorConfig
from pipeline.detection.dispersion import DispersionModel
from pipeline.detection.negbin import normal_ppf, quantile, tail_residual_sq, upper_tail
from pipeline.detection.seasonal import SeasonalProfile

STATE_VERSION = 1
SEVERITIES = ("info", "warning", "critical")


@dataclass(frozen=True)
class Reading:
    """The detector's verdict on one bucket (and the alert state after it)."""

    start: datetime
    """Start of the bucket (timezone-aware, UTC)."""
    observed: float
    """Mentions counted in the bucket, as given."""
    expected: float
    """Expected volume from the baseline (in the units of ``volume``)."""
    lower: float
    """Lower edge of the expected band (``interval_coverage`` two-sided)."""
    upper: float
    """Upper edge of the expected band."""
    score: float
    """``1 - P(X >= volume)`` under the baseline's count model: 0.999 means a 1-in-1000 bucket."""
    severity: str
    """``info`` (not unusual enough to act on), ``warning`` (hot) or ``critical``."""
    firing: bool
    """Alert state after this bucket."""
    transition: str | None
    """``"fired"`` on the bucket where an alert starts (a page goes out), ``"resolved"`` where it
    ends, else ``None``."""
    episode_start: datetime | None
    """Start of the first hot bucket of the current (or just-resolved) episode; stable across
    replays, so it belongs in the alert's dedup key."""
    warming_up: bool
    """True while the series is too young to alert."""
    p_value: float = 1.0
    """Upper-tail probability ``P(X >= volume)`` (``1 - score``, kept for its precision)."""
    volume: float = 0.0
    """What was scored: ``observed``, or the reach-weighted volume when reach weighting is on."""
    hot: bool = False
    """This bucket alone passed the firing test (tail, minimum volume, minimum ratio)."""

    @property
    def surprise(self) -> float:
        """``-log10(p_value)``: 3 means a 1-in-1000 bucket; handy for plots and explanations."""
        return -math.log10(max(self.p_value, 1e-300))


def _epoch(start: datetime) -> float:
    if start.tzinfo is None:
        start = start.replace(tzinfo=UTC)
    return start.timestamp()


def _dt(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


class SeriesDetector:
    """Online detector for one series; see the module docstring for the method."""

    def __init__(
        self, config: DetectorConfig | None = None, state: Mapping[str, Any] | None = None
    ) -> None:
        cfg = config or DetectorConfig()
        self.config = cfg
        self._a_level = cfg.per_bucket(cfg.level_half_life_seconds)
        self._a_base = cfg.per_bucket(cfg.base_half_life_seconds)
        self._a_reach = cfg.per_bucket(cfg.reach_half_life_seconds)
        self._warmup = cfg.warmup_buckets()
        self._cooldown_buckets = cfg.buckets(cfg.cooldown_seconds)
        self._q_lo = (1.0 - cfg.interval_coverage) / 2.0
        self._q_hi = 1.0 - self._q_lo
        self._z_lo = normal_ppf(self._q_lo)
        self._z_hi = normal_ppf(self._q_hi)
        self._z_hot = normal_ppf(1.0 - cfg.hot_p)
        self._recent_len = max(1, cfg.buckets(3600))
        self._first_day = cfg.buckets(cfg.first_day_seconds)
        self._daily = SeasonalProfile(
            slots=24,
            period_seconds=86400,
            bucket_seconds=cfg.bucket_seconds,
            memory_periods=cfg.daily_memory_days,
            prior_periods=cfg.daily_prior_days,
            clip=cfg.seasonal_clip,
            noise_alpha=cfg.alpha_prior,
            spread=cfg.daily_spread,
        )
        # Weekly profile keyed to the Unix epoch: day 0 (1970-01-01) was a Thursday; the phase
        # does not matter, only that the same weekday always maps to the same slot.
        self._weekly = SeasonalProfile(
            slots=7,
            period_seconds=7 * 86400,
            bucket_seconds=cfg.bucket_seconds,
            memory_periods=cfg.weekly_memory_weeks,
            prior_periods=cfg.weekly_prior_weeks,
            clip=cfg.seasonal_clip,
            blend=cfg.weekly_blend_hours / 24.0,
        )
        self._use_daily = cfg.seasonal_daily and cfg.bucket_seconds < 86400 / 2
        self._use_weekly = cfg.seasonal_weekly and cfg.bucket_seconds < 7 * 86400 / 2
        self._disp = DispersionModel(
            decay=1.0 - cfg.per_bucket(cfg.dispersion_half_life_seconds),
            phi_prior=cfg.phi_prior,
            alpha_prior=cfg.alpha_prior,
            prior_buckets=cfg.dispersion_prior_buckets,
            phi_min=cfg.phi_min,
            alpha_min=cfg.alpha_min,
            alpha_max=cfg.alpha_max,
        )
        # Baseline.
        self.n = 0  # buckets learned from (including zero-filled gaps)
        # The level is a ratio of two EWMAs, of what was seen and of the seasonal factor, so a
        # night bucket (small factor, few counts) moves it as little as it informs it.
        self.seen = 0.0
        self.weight = 0.0
        self.base = 0.0
        # Variance of ``seen`` as an estimate (an EWMA of noisy counts), propagated with the same
        # weights; ``lvar / seen**2`` is the relative uncertainty of the level itself.
        self.lvar = 0.0
        self.log_rpm = 0.0  # usual log(1 + reach per mention)
        self.n_reach = 0
        self.recent: list[float] = []  # the level over the past hour, oldest first
        self.unit = 0  # gcd of the integer volumes seen so far (0: none yet, 1: ordinary counts)
        # Alert state.
        self.last_epoch: float | None = None
        self.firing = False
        self.hot_streak = 0
        self.hot_start: float | None = None
        self.evidence = 0.0  # summed -log10(p) over the current run of hot buckets
        self.calm_streak = 0
        self.cooldown = 0
        self.episode_start: float | None = None
        self._last: Reading | None = None
        if state is not None:
            self._load(state)

    # ------------------------------------------------------------------ public API

    def update(self, start: datetime, observed: float, reach: float | None = None) -> Reading:
        """Feed one bucket and return its reading (see :meth:`update_all` for gaps)."""
        return self.update_all(start, observed, reach)[-1]

    def update_all(
        self, start: datetime, observed: float, reach: float | None = None
    ) -> list[Reading]:
        """Feed one bucket; return readings for any skipped buckets (as zeros) and then this one.

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
                # A long silence: replay only the last max_gap_buckets as zeros.
                fill_from = t - (self.config.max_gap_buckets + 1) * step
                missing = self.config.max_gap_buckets
            for i in range(1, missing + 1):
                out.append(self._step(fill_from + i * step, 0.0, None))
        out.append(self._step(t, float(observed), reach))
        return out

    def to_state(self) -> dict[str, Any]:
        """Everything needed to continue exactly where this detector is (JSON-serialisable)."""
        last = self._last
        return {
            "v": STATE_VERSION,
            "b": self.config.bucket_seconds,
            "n": self.n,
            "lv": [self.seen, self.weight, self.base, self.log_rpm, self.n_reach, self.unit],
            "lq": self.lvar,
            "rl": self.recent[:],
            "d": self._daily.dump(),
            "w": self._weekly.dump(),
            "x": self._disp.dump(),
            "al": [
                self.last_epoch,
                self.firing,
                self.hot_streak,
                self.hot_start,
                self.calm_streak,
                self.cooldown,
                self.episode_start,
                self.evidence,
            ],
            "r": None if last is None else _reading_to_list(last),
        }

    @property
    def level(self) -> float:
        """Deseasonalised volume: recent volume over recent seasonal factor."""
        return self.seen / self.weight if self.weight > 0.0 else 0.0

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
        self.seen, self.weight, self.base, self.log_rpm = (float(v) for v in state["lv"][:4])
        self.n_reach = int(state["lv"][4])
        self.unit = int(state["lv"][5])
        self.recent = [float(v) for v in state["rl"]]
        self.lvar = float(state.get("lq", 0.0))  # states written before it existed: no extra width
        self._daily.configure(unit=self.unit, settled=self._daily_settled)
        self._daily.load(state["d"])
        self._weekly.load(state["w"])
        self._disp.load(state["x"])
        (
            last_epoch,
            firing,
            hot_streak,
            hot_start,
            calm_streak,
            cooldown,
            episode_start,
            evidence,
        ) = state["al"]
        self.evidence = float(evidence)
        self.last_epoch = None if last_epoch is None else float(last_epoch)
        self.firing = bool(firing)
        self.hot_streak = int(hot_streak)
        self.hot_start = None if hot_start is None else float(hot_start)
        self.calm_streak = int(calm_streak)
        self.cooldown = int(cooldown)
        self.episode_start = None if episode_start is None else float(episode_start)
        r = state.get("r")
        self._last = None if r is None else _reading_from_list(r)

    @property
    def _daily_settled(self) -> bool:
        """The daily profile was settled when the first full day had been learned (see _step)."""
        return self._use_daily and self.n >= self._first_day

    def _level_rate(self) -> float:
        """EWMA weight of the level: fast while the daily profile is young, slower once mature."""
        cfg = self.config
        if not self._use_daily or cfg.mature_level_half_life_seconds == cfg.level_half_life_seconds:
            return self._a_level
        d = self.n * cfg.bucket_seconds / 86400.0
        prior = cfg.daily_prior_days
        m = d * d / (d * d + prior * prior) if d > 0.0 else 0.0
        young, mature = cfg.level_half_life_seconds, cfg.mature_level_half_life_seconds
        return cfg.per_bucket(young + (mature - young) * m)

    def _seasonal(self, t_mid: float) -> tuple[float, float]:
        d = self._daily.factor_at(t_mid) if self._use_daily else 1.0
        w = self._weekly.factor_at(t_mid) if self._use_weekly else 1.0
        return d, w

    def _volume(self, observed: float, reach: float | None) -> tuple[float, float | None]:
        """The scored volume and the log reach-per-mention to learn (None: nothing to learn)."""
        cfg = self.config
        if cfg.reach_weight <= 0.0 or reach is None or observed <= 0.0:
            return observed, None
        lrpm = math.log1p(max(reach, 0.0) / observed)
        if self.n_reach == 0:
            return observed, lrpm
        bound = math.log(cfg.reach_clip)
        shift = max(-bound, min(bound, cfg.reach_weight * (lrpm - self.log_rpm)))
        return observed * math.exp(shift), lrpm

    def _step(self, t: float, observed: float, reach: float | None) -> Reading:
        cfg = self.config
        t_mid = t + cfg.bucket_seconds / 2.0
        f_day, f_week = self._seasonal(t_mid)
        f = f_day * f_week
        volume, lrpm = self._volume(observed, reach)
        if self.n == 0:
            # Nothing known yet: start the level at the first observation.
            self.seen, self.weight = volume, f
            self.base = volume / f
        if volume > 0.0 and self.unit != 1:
            self.unit = math.gcd(self.unit, int(volume)) if volume.is_integer() else 1
        unit = max(self.unit, 1)
        mu = max(self.level * f, cfg.min_expected * unit)

        # Count model: Y = X / phi ~ NB(mu / phi, alpha_eff); young series get extra width.
        phi = max(self._disp.phi, cfg.phi_min * unit)
        alpha = self._disp.alpha + cfg.young_alpha * cfg.young_buckets / (
            cfg.young_buckets + self.n
        )
        # Posterior-predictive width: the level is an average of a few noisy buckets, so the true
        # mean is only known to a relative variance ``v``. Mixing the NB over a gamma-distributed
        # mean of relative variance ``v`` gives an NB with ``(1 + alpha)(1 + v) - 1``. Without
        # it, a level that happens to sit 20-30 % low makes several consecutive buckets look
        # unusual together, which is how quiet months paged (about 3 % of them).
        v = min(self.lvar / (self.seen * self.seen), cfg.alpha_max) if self.seen > 0.0 else 0.0
        alpha = alpha + v * (1.0 + alpha)
        m = mu / phi
        p_value = upper_tail(volume / phi, m, alpha)
        lower = phi * quantile(self._q_lo, m, alpha, z=self._z_lo)
        upper = phi * quantile(self._q_hi, m, alpha, z=self._z_hi)
        warming = self.warming_up
        unusual = (
            not warming
            and p_value <= cfg.hot_p
            and volume >= cfg.min_observed
            and volume >= cfg.min_ratio * mu
        )
        # No daily cycle seen yet: the level alone cannot tell a morning rise from a slow surge,
        # so on the first day a bucket must also stand first_day_min_ratio above the expected
        # volume to count toward an alert. Only paging changes: an unusual bucket is still kept
        # out of the baseline, so what the detector learns (and does after day one) is unchanged.
        hot = unusual and (self.n >= self._first_day or volume >= cfg.first_day_min_ratio * mu)
        if hot and p_value <= cfg.critical_p and volume >= cfg.critical_ratio * mu:
            severity = "critical"
        elif hot:
            severity = "warning"
        else:
            severity = "info"

        transition = self._advance_alert(t, hot, p_value)

        # Learn, robustly: what the baseline learns from a bucket is clipped to the band's upper
        # edge (never less than one count unit above mu, so a near-zero level can still climb
        # into a genuine morning rise), which bounds how far a building surge drags it before it
        # is hot. Hot or firing buckets are clipped at the largest volume that would not have
        # been hot, teach the level only ``anomalous_learn_weight`` as much, and never teach the
        # profiles: a crisis does not become the new normal, a lasting shift is absorbed in hours.
        anomalous = unusual or self.firing
        if anomalous:
            lw = cfg.anomalous_learn_weight
            ceiling = phi * quantile(1.0 - cfg.hot_p, m, alpha, z=self._z_hot)
        else:
            lw = 1.0
            ceiling = upper
        clipped = min(volume, max(ceiling, mu + unit))
        a = max(self._level_rate(), 1.0 / (self.n + 1))
        self.seen += a * lw * (clipped - self.seen)
        # Same weights for the variance of that average: each bucket brings the model's variance.
        gain = a * lw
        # Until a first mention the unit (and so phi) is unknown: count no noise, which keeps the
        # model exactly equivariant under scaling of the counts.
        noise = phi * mu + self._disp.alpha * mu * mu if self.unit else 0.0
        self.lvar = (1.0 - gain) ** 2 * self.lvar + gain * gain * noise
        self.weight += a * lw * (f - self.weight)
        if self.n >= self._warmup and self.recent:
            # A normal rise (the morning) is gradual; a crisis is not. The level may not exceed
            # max_level_growth_per_hour times its value an hour ago, which keeps a surge building
            # over 20 minutes from becoming the new normal before it is hot, yet leaves noise and
            # the daily rhythm alone (a cap on each step would ratchet the level down on bursty
            # series, since falls would be free and rises capped).
            cap = self.recent[0] * cfg.max_level_growth_per_hour + a * unit / f
            if self.level > cap:
                self.seen = cap * self.weight
        self.recent.append(self.level)
        if len(self.recent) > self._recent_len:
            del self.recent[0]
        b = max(self._a_base, 1.0 / (self.n + 1))
        base_before = self.base
        self.base += b * lw * (clipped / f - self.base)
        if not anomalous:
            if self._use_daily:
                self._daily.learn(t_mid, clipped / f_week, base_before)
            if self._use_weekly:
                self._weekly.learn(t_mid, clipped / f_day, base_before)
        if self.unit:  # until a first mention, the scale (and so the noise) is unknown
            # Statistically unusual buckets (even when too small to be hot) barely teach the noise
            # model: a building surge must not widen the band it is measured against.
            dw = lw if p_value > cfg.hot_p else lw * cfg.anomalous_learn_weight
            residual_sq = (clipped - mu) ** 2
            prev = self._last
            if (
                p_value <= cfg.hot_p
                and not self.firing
                and (prev is None or prev.p_value > cfg.hot_p)
            ):
                # ... but dropping them all biases the noise model low: the tail above hot_p
                # holds 10-15 % of the variance, so alpha came out ~7 % low (up to 15 % on bursty
                # series) and quiet months paged on runs the true model finds ordinary. The first
                # bucket of a tail run counts in full with the residual the model expects of a
                # tail bucket (a censored observation), whatever its size; the rest of a run, as
                # in a surge, keeps the small weight, so a crisis adds one ordinary tail bucket.
                residual_sq = phi * phi * tail_residual_sq(m, self._disp.alpha, cfg.hot_p)
                dw = 1.0
            self._disp.learn(mu, residual_sq, 0.25 * base_before, dw, unit)
        if lrpm is not None:
            ar = max(self._a_reach, 1.0 / (self.n_reach + 1))
            self.log_rpm += ar * (lrpm - self.log_rpm)
            self.n_reach += 1
        self.n += 1
        self.last_epoch = t
        if self._use_daily:
            if self.n == self._first_day:
                self._settle_daily(t_mid, f_week)
            self._daily.configure(unit=self.unit, settled=self._daily_settled)

        episode = self.episode_start
        reading = Reading(
            start=_dt(t),
            observed=observed,
            expected=mu,
            lower=lower,
            upper=upper,
            score=1.0 - p_value,
            severity=severity,
            firing=self.firing,
            transition=transition,
            episode_start=None if episode is None else _dt(episode),
            warming_up=warming,
            p_value=p_value,
            volume=volume,
            hot=hot,
        )
        self._last = reading
        return reading

    def _settle_daily(self, t_mid: float, f_week: float) -> None:
        """One full day learned: settle the daily profile and re-express the level against it.

        The level is ``seen / weight``, ``weight`` being the recent seasonal factor; after the
        profile jumps from its shrunk first-day shape to the settled one, the recent factor is
        the new one, so ``weight`` takes it and the past hour's levels (the growth cap) are
        rescaled by the same ratio: the expected volume of the next bucket is unchanged by the
        switch itself and follows the settled shape from there. The weekly profile starts
        again: its first day was deseasonalised by the unsettled daily profile, so a night read
        as a quiet weekday (a series starting on a Friday expected Saturday at ~0.65 of Friday
        because Saturday had only been seen at night).
        """
        self._daily.settle()
        if self._use_weekly:
            self._weekly.reset()
            f_week = 1.0
        # ``seen`` is an EWMA of the past volumes, so its partner is the same EWMA of the *new*
        # factors at those buckets (the current factor alone overstates it on a rising morning).
        a = self._level_rate()
        step = self.config.bucket_seconds
        weight, kept = 0.0, 1.0
        for j in range(self._first_day):
            weight += a * kept * self._daily.factor_at(t_mid - j * step)
            kept *= 1.0 - a
        weight = (weight + kept * self._daily.factor_at(t_mid - self._first_day * step)) * f_week
        if self.weight > 0.0 and weight > 0.0:
            ratio = self.weight / weight
            self.recent = [v * ratio for v in self.recent]
            self.weight = weight

    def _advance_alert(self, t: float, hot: bool, p_value: float) -> str | None:
        cfg = self.config
        if hot:
            if self.hot_streak == 0:
                self.hot_start = t
                self.evidence = 0.0
            self.hot_streak += 1
            self.evidence += -math.log10(max(p_value, 1e-300))
        else:
            self.hot_streak = 0
            self.hot_start = None
            self.evidence = 0.0
        if self.firing:
            if p_value > cfg.resolve_p:
                self.calm_streak += 1
            else:
                self.calm_streak = 0
            if self.calm_streak >= cfg.resolve_buckets:
                self.firing = False
                self.calm_streak = 0
                self.cooldown = self._cooldown_buckets
                return "resolved"
            return None
        if self.cooldown > 0:
            self.cooldown -= 1
            return None
        if self.hot_streak >= cfg.confirm_buckets and self.evidence >= cfg.fire_evidence:
            self.firing = True
            self.calm_streak = 0
            self.episode_start = self.hot_start
            return "fired"
        return None


def _reading_to_list(r: Reading) -> list[Any]:
    return [
        r.start.timestamp(),
        r.observed,
        r.expected,
        r.lower,
        r.upper,
        r.score,
        SEVERITIES.index(r.severity),
        r.firing,
        r.transition,
        None if r.episode_start is None else r.episode_start.timestamp(),
        r.warming_up,
        r.p_value,
        r.volume,
        r.hot,
    ]


def _reading_from_list(v: list[Any]) -> Reading:
    return Reading(
        start=_dt(float(v[0])),
        observed=float(v[1]),
        expected=float(v[2]),
        lower=float(v[3]),
        upper=float(v[4]),
        score=float(v[5]),
        severity=SEVERITIES[int(v[6])],
        firing=bool(v[7]),
        transition=v[8],
        episode_start=None if v[9] is None else _dt(float(v[9])),
        warming_up=bool(v[10]),
        p_value=float(v[11]),
        volume=float(v[12]),
        hot=bool(v[13]),
    )
