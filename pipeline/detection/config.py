"""The detector's settings: the product's defaults, explained one field at a time.

Every default below was chosen for 5-minute buckets of mentions per brand x topic, where a quiet
topic sees 0-10 mentions a bucket, the day has a strong rhythm (quiet at night, rising through the
morning) and a crisis builds from normal to 10-20x normal within tens of minutes. Durations are
given in seconds and converted to buckets, so the same settings work for ``tocsin backtest`` on
series with another bucket size.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class DetectorConfig:
    """Settings of the :class:`SeriesDetector`; the defaults are the product's."""

    bucket_seconds: int = 300
    """Width of one bucket. Buckets are known by their start time; missing buckets are zeros."""

    # -- warm-up ---------------------------------------------------------------------------------
    warmup_seconds: int = 2 * 3600
    """No alert fires before the series has this much history: the first readings only teach the
    baseline. Two hours lets the level tracker settle without needing a day of history."""
    min_warmup_buckets: int = 6
    """Floor on the warm-up, in buckets, for series with coarse buckets (hourly, daily)."""

    # -- baseline: level ---------------------------------------------------------------------------
    level_half_life_seconds: int = 1800
    """Half-life of the fast level tracker (deseasonalised volume). 30 minutes follows the normal
    morning rise within the hour while the seasonal profile is still immature, yet lags a surge
    that builds over 20 minutes enough to see it."""
    mature_level_half_life_seconds: int = 3 * 3600
    """Half-life of the level once the daily profile is mature. The fast 30 minutes is needed
    only while the profile cannot yet explain the morning rise; later it mostly adds noise: an
    average of ~17 bursty buckets is routinely 15-20 % off, and a level that happens to sit low
    makes a few ordinary high buckets in a row look like a surge (how quiet months paged). The
    half-life moves from the fast to this value with the daily profile's maturity
    ``d**2 / (d**2 + daily_prior_days**2)`` (``d`` = days of history)."""
    max_level_growth_per_hour: float = 2.0
    """The level may not exceed twice its value an hour earlier (after warm-up). The demo's morning
    rise is ~1.6x an hour, a crisis 10x in 20 minutes: the cap tells them apart on the first day,
    before any seasonality is known."""
    base_half_life_seconds: int = 3 * 86400
    """Half-life of the slow baseline against which the daily and weekly profiles are learned."""

    # -- baseline: seasonality ---------------------------------------------------------------------
    seasonal_daily: bool = True
    """Learn an hour-of-day profile (24 slots, interpolated between hour centres)."""
    seasonal_weekly: bool = True
    """Learn a day-of-week profile (7 slots, interpolated between day centres)."""
    daily_memory_days: float = 21.0
    """Each hour slot forgets old days with this time constant, so a changing rhythm is followed."""
    weekly_memory_weeks: float = 8.0
    """Each day slot forgets old weeks with this time constant."""
    daily_prior_days: float = 2.0
    """Shrinkage of the daily profile toward flat: after ``d`` days the profile is applied with
    weight ``d**2 / (d**2 + daily_prior_days**2)`` (in log space). With one day of history it counts
    a fifth, so the level tracker and wide intervals carry the first crisis day; after a week 92 %.
    (The earlier ``d / (d + prior)`` never passed ~90 % because ``d`` saturates at the memory, which
    kept strong rhythms flattened and the morning expectation 20-35 % low.)"""
    daily_spread: float = 0.5
    """Once a full day has been seen, an hour slot whose factor is precisely known is applied
    beyond the maturity weight above: with weight ``spread**2 / (spread**2 + se**2)``, ``se`` the
    standard error of the slot's log factor under the count model (``alpha_prior`` burstiness).
    ``spread`` is the typical size of a real log hour-of-day factor: 0.5 (a factor of about 1.6)
    lets a busy series (tens a bucket: se 0.1-0.2) use its first day's shape almost fully on day
    two, while a sparse one (a few a bucket, many zeros) keeps the slow maturity. Day-2 mornings
    of busy series with a strong rhythm paged without it (expected at 0.35-0.5 of the volume)."""
    weekly_prior_weeks: float = 0.5
    """Same shrinkage for the weekly profile, in weeks (80 % applied after one week, 94 % after
    two). Smaller than the daily prior because each weekday slot sees 288 buckets a week, and
    because a flattened weekend dip leaves Monday mornings expected low while the level is slow."""
    weekly_blend_hours: float = 4.0
    """The day-of-week factor changes over this many hours around midnight (UTC) and is flat
    within the day. Weekday and weekend habits switch around midnight (spread by time zones and
    night owls), not gradually from noon to noon: interpolating between day centres left Monday's
    early hours expected ~30 % low after a quiet weekend, and once the level is slow (mature
    profiles) nothing corrected it, so ordinary Monday 02:00 buckets could page."""
    seasonal_clip: float = 20.0
    """A seasonal factor is kept within [1/clip, clip] of the average, so an empty night cannot
    make the expected volume exactly zero."""

    # -- count model -------------------------------------------------------------------------------
    dispersion_half_life_seconds: int = 3 * 86400
    """Memory of the online variance model ``var = phi * mu + alpha * mu**2`` (quasi-Poisson
    times negative binomial: ``phi`` captures duplicated/lumpy counts, ``alpha`` burstiness)."""
    alpha_prior: float = 0.3
    """Prior burstiness, wide on purpose: until a series has shown its noise, intervals are wide."""
    phi_prior: float = 1.0
    """Prior count granularity (1 = plain counts)."""
    dispersion_prior_buckets: float = 72.0
    """Weight of the priors in buckets of evidence (six hours at 5-minute buckets)."""
    alpha_min: float = 0.01
    """Floor on burstiness: real mention counts are never Poisson; this also keeps huge series from
    paging on a few percent of deviation."""
    alpha_max: float = 5.0
    """Ceiling on burstiness, so one wild day cannot make the detector blind for weeks."""
    phi_min: float = 1.0
    """Floor on granularity: counts are at least as noisy as Poisson."""
    young_alpha: float = 0.5
    """Extra burstiness while the baseline is young (uncertainty of the level itself), fading as
    ``young_buckets / (young_buckets + n)``."""
    young_buckets: float = 144.0
    """How fast the young-series inflation fades, in buckets."""
    min_expected: float = 0.05
    """Floor on the expected count, so a long-silent series is not infinitely surprised by one
    mention (the minimum volume below is what actually stops such pages)."""

    # -- scoring and alerting ----------------------------------------------------------------------
    interval_coverage: float = 0.99
    """Two-sided coverage of the expected band (``lower``/``upper``) shown to users and used to
    clip what the baseline learns from an unusual bucket."""
    hot_p: float = 0.01
    """A bucket is *hot* (counts toward an alert) when its upper-tail probability
    ``P(X >= observed)`` is at most this and it passes the volume rules below. Hot buckets also
    barely teach the baseline and the noise model, so a building surge cannot widen its own band."""
    fire_evidence: float = 8.0
    """An alert fires when a run of consecutive hot buckets has gathered this much evidence,
    counted as the sum of ``-log10(p)`` over the run (8 = two 1-in-10^4 buckets, or four
    1-in-100 buckets). Under a perfect model with independent buckets the rule still fires about
    once in 2x10^6 buckets (0.4 % of 30-day months at 5 minutes; measured by simulating uniform
    p-values), before the volume rules remove most of those; see :mod:`.quiet` for the rate
    measured on quiet synthetic months.
    Summing lets a surge whose buckets are each only moderately unusual fire early, while a single
    extreme bucket still cannot (see ``confirm_buckets``). Chosen on the dev set: 6-8 give the same
    delays, 8 the fewest false alarms; 9 and above start to delay detection."""
    critical_p: float = 1e-6
    """A hot bucket is *critical* when its tail probability is at most this ..."""
    critical_ratio: float = 5.0
    """... and it is at least this many times the expected volume."""
    min_observed: float = 10.0
    """Minimum volume: a bucket with fewer mentions is never hot, so 0 -> 3 mentions never pages."""
    min_ratio: float = 1.5
    """A hot bucket must also be at least this many times the expected volume, so a large series
    does not page on a statistically significant but practically small rise."""
    first_day_min_ratio: float = 6.0
    """``min_ratio`` while the series has less than one day of history (``first_day_seconds``).
    Before a daily cycle has been seen, the level tracker is all the baseline there is, and it
    lags a steep morning rise on purpose (growth cap, clipped learning): a quiet first morning can
    reach 4-5x the expected volume for several buckets and look like a slowly building surge.
    Asking a first-day hot bucket to be further above the expected volume removes those pages
    without silencing a new series: a crisis from a quiet start is tens of times its expected
    volume. Only paging changes: such a bucket is still kept out of the baseline as before, so
    what the detector learns, and everything after the first day, is unchanged. Measured on the
    first day of 400 quiet series (before the rule), hot buckets stood a median 4.0x above the
    expected volume, 99th percentile 6.5x, largest 11.7x, and two in a row are needed to page.
    Set equal to ``min_ratio`` to turn the first-day rule off."""
    first_day_seconds: int = 86400
    """How long the first-day rule lasts: one full daily cycle of buckets."""
    confirm_buckets: int = 2
    """Minimum length of the run of hot buckets. Two means a one-bucket blip never pages, however
    extreme, at the cost of one bucket of delay."""
    resolve_p: float = 0.05
    """While firing, a bucket is *calm* when its tail probability is above this (hysteresis: this is
    looser than ``hot_p``, so a series hovering near the threshold stays firing)."""
    resolve_buckets: int = 3
    """Consecutive calm buckets needed to resolve."""
    cooldown_seconds: int = 3600
    """After a resolution no new alert fires for this long, so a dying surge does not page twice."""
    anomalous_learn_weight: float = 0.05
    """How much the baseline learns from hot or firing buckets (already clipped to the band): a
    crisis does not become the new normal, but a permanent level shift is absorbed in hours."""

    # -- reach weighting ---------------------------------------------------------------------------
    reach_weight: float = 0.0
    """0 (default) scores plain counts. Between 0 and 1, each bucket's count is multiplied by
    ``(reach per mention / usual reach per mention) ** reach_weight`` (clipped to
    [1/reach_clip, reach_clip]), so mentions from unusually large audiences count more. Off by
    default because follower counts are heavy-tailed and easy to inflate."""
    reach_clip: float = 10.0
    """Bound on the reach multiplier."""
    reach_half_life_seconds: int = 7 * 86400
    """Memory of the usual reach per mention."""

    # -- gaps --------------------------------------------------------------------------------------
    max_gap_buckets: int = 2016
    """At most this many missing buckets (one week at 5 minutes) are replayed as zeros; a longer
    silence is treated as a restart of the clock on the existing baseline."""

    def __post_init__(self) -> None:
        if self.bucket_seconds <= 0:
            raise ValueError("bucket_seconds must be positive")
        if not 0.0 < self.hot_p < 1.0 or not 0.0 < self.critical_p <= self.hot_p:
            raise ValueError("need 0 < critical_p <= hot_p < 1")
        if not self.hot_p <= self.resolve_p < 1.0:
            raise ValueError("resolve_p must lie between hot_p and 1 (hysteresis)")
        if self.fire_evidence <= 0.0:
            raise ValueError("fire_evidence must be positive")
        if not 0.0 < self.interval_coverage < 1.0:
            raise ValueError("interval_coverage must lie in (0, 1)")
        if self.mature_level_half_life_seconds < self.level_half_life_seconds:
            raise ValueError("mature_level_half_life_seconds must be >= level_half_life_seconds")
        if not 0.0 < self.weekly_blend_hours <= 24.0:
            raise ValueError("weekly_blend_hours must lie in (0, 24]")
        if self.max_level_growth_per_hour <= 1.0:
            raise ValueError("max_level_growth_per_hour must be > 1")
        if self.first_day_min_ratio < self.min_ratio:
            raise ValueError("first_day_min_ratio must be >= min_ratio")
        if self.first_day_seconds < 0:
            raise ValueError("first_day_seconds must be >= 0")
        if self.confirm_buckets < 1 or self.resolve_buckets < 1:
            raise ValueError("confirm_buckets and resolve_buckets must be >= 1")
        if not 0.0 <= self.reach_weight <= 1.0:
            raise ValueError("reach_weight must lie in [0, 1]")
        if not 0.0 <= self.anomalous_learn_weight <= 1.0:
            raise ValueError("anomalous_learn_weight must lie in [0, 1]")

    # Derived per-bucket constants. Kept as methods (not cached) so the dataclass stays frozen
    # and trivially comparable; the detector computes them once at construction.

    def per_bucket(self, half_life_seconds: float) -> float:
        """EWMA weight per bucket for a half-life in seconds."""
        return 1.0 - math.pow(0.5, self.bucket_seconds / max(half_life_seconds, 1e-9))

    def buckets(self, seconds: float) -> int:
        """A duration in whole buckets (at least 0)."""
        return max(0, math.ceil(seconds / self.bucket_seconds))

    def warmup_buckets(self) -> int:
        return max(self.min_warmup_buckets, self.buckets(self.warmup_seconds))
