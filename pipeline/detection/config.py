"""The detector's settings: the product's defaults, a named sensitivity, and per-series overrides.

The defaults were chosen for real social series: Twitter mention counts of five large companies
per 5 minutes (NAB realTweets), by leave-one-series-out cross-validation (``bench/nab_cv.py``,
figures in ``docs/detection.md``). Durations are in seconds and converted to buckets, so the same
settings serve ``tocsin backtest`` on series with another bucket size.
"""

from __future__ import annotations

import fnmatch
import math
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

import yaml

from pipeline.errors import ConfigError

SENSITIVITY_LEVELS: dict[str, float] = {"low": 1e-4, "standard": 3e-4, "high": 2e-3}
"""Named sensitivities: the tail probability a closed bucket must reach to page. ``standard`` is
the default chosen on real series; on the real dev series ``low`` pages outside the labelled
windows about a third as often and ``high`` about three times as often (``high`` was chosen on the
synthetic dev sets; the measured rates are in ``docs/detection.md``)."""
DEFAULT_SENSITIVITY = "standard"


class DetectorConfigError(ConfigError, ValueError):
    """A detector setting or configuration file that cannot be used; the message says where."""


@dataclass(frozen=True)
class DetectorConfig:
    """Settings of the :class:`~pipeline.detection.detector.SeriesDetector`."""

    bucket_seconds: int = 300
    """Width of one bucket. Buckets are known by their start time; missing buckets are zeros."""

    # -- warm-up -----------------------------------------------------------------------------------
    warmup_seconds: int = 6 * 3600
    """No page before the series has this much history (a new brand pages from its first
    morning; leave-one-series-out on the real series chose 6 h over 12 h and a day)."""
    min_warmup_buckets: int = 6
    """Floor on the warm-up, in buckets, for series with coarse buckets (hourly, daily)."""

    # -- baseline (log space: y = log(1 + count)) --------------------------------------------------
    level_half_life_seconds: float = 6 * 3600
    """Half-life of the deseasonalised level. Six hours follows drifts and level shifts within a
    day, yet a surge of an hour or two stays far above it."""
    scale_half_life_seconds: float = 3 * 86400
    """Half-life of the robust scale (the typical size of a residual)."""
    daily_gain: float = 0.05
    """How much of a residual the hour-of-day profile takes on each visit (24 slots,
    interpolated between hour centres)."""
    weekly_gain: float = 0.01
    """Same for the day-of-week profile (7 slots), which sees 288 buckets a day."""
    clip: float = 3.0
    """A residual teaches the baseline at most ``clip`` scales: past spikes do not inflate it."""
    scale_floor: float = 0.05
    """Floor on the scale (log units), so a perfectly regular series is not infinitely surprised."""
    scale_prior: float = 0.5
    """Scale before any residual has been seen (wide: a young series is uncertain)."""

    # -- time scales and tails ---------------------------------------------------------------------
    scales_seconds: tuple[int, ...] = (300, 1800, 10800)
    """Windows over which residuals are summed: a spike shows in one bucket, a surge building
    over half an hour or three hours in the longer sums. The bucket's p is the smallest of the
    scales' tail probabilities times their number (Bonferroni), so it stays a tail probability."""
    tail_rate: float = 0.02
    """Share of values above each scale's tracked threshold: the GPD is fitted above the 98th
    percentile of the series' own statistic (peaks over threshold)."""
    tail_step: float = 0.02
    """Step of the threshold's stochastic quantile tracking, in standardised units."""
    tail_memory: int = 50
    """Excesses kept per scale for the GPD fit (with the rate above, about nine days)."""
    tail_prior_scale: float = 0.7
    tail_prior_shape: float = 0.1
    tail_prior_weight: float = 20.0
    """The GPD a new series starts with, and how many excesses it weighs: a young series' tail is
    a moderately heavy one, not a Gaussian that would page on its first burst."""
    tail_shape: float | None = 0.0
    """Every series' tails have this GPD shape and only their scale is fitted (from the mean
    excess): 0, an exponential tail in log space, chosen by leave-one-series-out on the real
    series. A shape fitted to 50 excesses swings by about 0.15, and a negative one bounds the
    tail, so ordinary bursts landed on the floor probability (quiet synthetic months paged 16 in
    100 with it, 1 in 100 without). None fits the shape per series (probability-weighted
    moments)."""
    tail_initial: float = 2.0
    """Starting threshold of each scale (standardised units)."""
    tail_learn_after_seconds: int = 6 * 3600
    """The tails learn only once the baseline has had this long to settle."""
    tail_decluster: bool = False
    """Runs declustering of each scale's tail (:mod:`.pot`): the exceedances of one run (a
    burst, and the buckets a summed statistic stays high after it) count once in the GPD fit,
    and a bucket's tail probability is the chance it starts an episode that extreme."""
    tail_run_seconds: int = 1800
    """With declustering, a run ends after this long below the threshold, beyond the scale's own
    window (a k-bucket sum stays high for k buckets after one spike)."""

    # -- paging ------------------------------------------------------------------------------------
    alert_p: float = SENSITIVITY_LEVELS[DEFAULT_SENSITIVITY]
    """A closed bucket pages when its tail probability is at most this (see the sensitivities)."""
    hot_p: float = 1e-3
    """A bucket this unusual, or any bucket while an alert fires, teaches the baseline only
    ``anomalous_learn_weight`` as much: a crisis does not become the new normal."""
    anomalous_learn_weight: float = 0.1
    accept_shift_seconds: float = 3 * 3600
    """An episode still firing after this long is a level shift: the baseline learns it in full,
    so a lasting change resolves within a day instead of firing for days."""
    min_observed: float = 10.0
    """A bucket with fewer mentions never pages, so 0 -> 3 mentions is not a crisis."""
    first_day_min_ratio: float = 10.0
    """``min_ratio`` (and the early test's ratio) while the series has less than a day of history:
    before a daily cycle has been seen, the baseline cannot tell a morning rise (4-5x in a few
    hours on a quiet topic, single buckets up to 8x) from a surge, and a crisis from a quiet start
    is tens of times its expected volume."""
    min_ratio: float = 3.0
    """A paging bucket is also at least this many times its expected volume: a big brand's
    statistically significant but small rise is not a crisis either."""
    resolve_p: float = 0.05
    """While firing, a bucket is calm when its one-bucket tail probability is above this."""
    resolve_buckets: int = 3
    """Consecutive calm buckets that resolve an alert."""
    cooldown_seconds: int = 3600
    """After a resolution no new alert pages for this long, so a dying surge does not page twice."""
    repage_seconds: int = 86400
    """After an episode resolves, for this long a new page needs a smaller p than the episode's
    most extreme bucket (early firing too, on the bucket so far): real extremes come in runs, so
    a story that flares up again pages once (a day: leave-one-series-out on the real series
    chose it over 0, 6 h, 12 h and 2 days). 0 turns it off."""
    max_gap_buckets: int = 2016
    """At most this many missing buckets (a week at 5 minutes) are replayed as zeros."""

    # -- early firing on the filling bucket --------------------------------------------------------
    early_window_seconds: float = 90.0
    """The filling bucket is judged on the mentions of the last this-many seconds (event time)."""
    early_p: float = 1e-6
    """Their count must have at most this tail probability under the expected rate (negative
    binomial, with the series' own dispersion). Strict, because it is looked at on every
    mention."""
    early_min_count: int = 6
    """... be at least this many mentions ..."""
    early_ratio: float = 5.0
    """... and at least this many times the expected count for the window."""
    early_blip_seconds: float = 60.0
    """A burst no longer than this is a blip, not a surge: beyond the densest such stretch of the
    window, the rest of it must also be unusual (``early_rest_p``) and hold ``early_rest_min``
    mentions or more."""
    early_rest_p: float = 1e-3
    early_rest_min: int = 3

    def __post_init__(self) -> None:
        if self.bucket_seconds <= 0:
            raise DetectorConfigError("bucket_seconds must be positive")
        if not 0.0 < self.alert_p < 1.0 or not 0.0 < self.hot_p < 1.0:
            raise DetectorConfigError("alert_p and hot_p must lie in (0, 1)")
        if not 0.0 < self.resolve_p < 1.0:
            raise DetectorConfigError("resolve_p must lie in (0, 1)")
        if self.resolve_buckets < 1:
            raise DetectorConfigError("resolve_buckets must be >= 1")
        if not self.scales_seconds or min(self.scales_seconds) <= 0:
            raise DetectorConfigError("scales_seconds must be positive durations")
        if not 0.0 < self.tail_rate < 0.5 or self.tail_memory < 3:
            raise DetectorConfigError("tail_rate must lie in (0, 0.5), tail_memory >= 3")
        if not 0.0 <= self.anomalous_learn_weight <= 1.0:
            raise DetectorConfigError("anomalous_learn_weight must lie in [0, 1]")
        if self.early_window_seconds <= self.early_blip_seconds:
            raise DetectorConfigError("early_window_seconds must exceed early_blip_seconds")
        if not 0.0 < self.early_p < 1.0 or not 0.0 < self.early_rest_p < 1.0:
            raise DetectorConfigError("early_p and early_rest_p must lie in (0, 1)")

    def per_bucket(self, half_life_seconds: float) -> float:
        """EWMA weight per bucket for a half-life in seconds."""
        return 1.0 - math.pow(0.5, self.bucket_seconds / max(half_life_seconds, 1e-9))

    def buckets(self, seconds: float) -> int:
        """A duration in whole buckets (at least 0)."""
        return max(0, math.ceil(seconds / self.bucket_seconds))

    def warmup_buckets(self) -> int:
        return max(self.min_warmup_buckets, self.buckets(self.warmup_seconds))

    @classmethod
    def for_sensitivity(cls, level: str = DEFAULT_SENSITIVITY, **settings: Any) -> DetectorConfig:
        """The defaults at a named sensitivity, with any other settings given."""
        if level not in SENSITIVITY_LEVELS:
            known = ", ".join(SENSITIVITY_LEVELS)
            raise DetectorConfigError(f"unknown sensitivity {level!r} (known: {known})")
        return cls(**{"alert_p": SENSITIVITY_LEVELS[level], **settings})


SETTABLE = frozenset(f.name for f in fields(DetectorConfig)) - {"bucket_seconds"}


@dataclass(frozen=True)
class Override:
    """Settings for the series whose brand, topic (shell patterns) or name match."""

    brand: str = "*"
    topic: str = "*"
    series: str = "*"
    sensitivity: str | None = None
    settings: Mapping[str, Any] | None = None

    def matches(self, brand: str, topic: str, series: str) -> bool:
        return (
            fnmatch.fnmatchcase(brand, self.brand)
            and fnmatch.fnmatchcase(topic, self.topic)
            and fnmatch.fnmatchcase(series, self.series)
        )


@dataclass(frozen=True)
class DetectionSettings:
    """A sensitivity and settings for every series, and overrides per brand / topic / series.

    Read from YAML (``TOCSIN_DETECTION_FILE`` in the worker, ``--config`` in ``tocsin
    backtest``)::

        sensitivity: standard
        settings: {min_observed: 10}
        overrides:
          - {brand: valmoreau, topic: adverse_event, sensitivity: high}
          - {series: "Twitter_volume_*", settings: {min_ratio: 2.0}}

    Later overrides win over earlier ones; each names only what it changes.
    """

    sensitivity: str = DEFAULT_SENSITIVITY
    settings: Mapping[str, Any] | None = None
    overrides: tuple[Override, ...] = ()

    def config_for(
        self, bucket_seconds: int, brand: str = "", topic: str = "", series: str = ""
    ) -> DetectorConfig:
        level, merged = self.sensitivity, dict(self.settings or {})
        for o in self.overrides:
            if o.matches(brand, topic, series):
                level = o.sensitivity or level
                merged.update(o.settings or {})
        return DetectorConfig.for_sensitivity(level, bucket_seconds=bucket_seconds, **merged)


def _settings(where: str, raw: Any) -> dict[str, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise DetectorConfigError(f"{where}: settings must be a mapping")
    unknown = sorted(set(raw) - SETTABLE)
    if unknown:
        raise DetectorConfigError(f"{where}: unknown setting(s) {', '.join(unknown)}")
    out = dict(raw)
    if "scales_seconds" in out:
        out["scales_seconds"] = tuple(int(v) for v in out["scales_seconds"])
    return out


def _level(where: str, raw: Any) -> str | None:
    if raw is not None and raw not in SENSITIVITY_LEVELS:
        known = ", ".join(SENSITIVITY_LEVELS)
        raise DetectorConfigError(f"{where}: unknown sensitivity {raw!r} (known: {known})")
    return None if raw is None else str(raw)


def load_detection_settings(path: Path) -> DetectionSettings:
    """Read and validate a detection settings file; errors name the file and the entry."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError as exc:
        raise DetectorConfigError(f"{path}: cannot read ({exc.strerror})") from exc
    except yaml.YAMLError as exc:
        raise DetectorConfigError(f"{path}: not YAML ({exc})") from exc
    if not isinstance(raw, dict):
        raise DetectorConfigError(f"{path}: expected a mapping at the top")
    unknown = sorted(set(raw) - {"sensitivity", "settings", "overrides"})
    if unknown:
        raise DetectorConfigError(f"{path}: unknown key(s) {', '.join(unknown)}")
    overrides = []
    for i, entry in enumerate(raw.get("overrides") or []):
        where = f"{path}: overrides[{i}]"
        if not isinstance(entry, dict):
            raise DetectorConfigError(f"{where}: expected a mapping")
        bad = sorted(set(entry) - {"brand", "topic", "series", "sensitivity", "settings"})
        if bad:
            raise DetectorConfigError(f"{where}: unknown key(s) {', '.join(bad)}")
        overrides.append(
            Override(
                brand=str(entry.get("brand", "*")),
                topic=str(entry.get("topic", "*")),
                series=str(entry.get("series", "*")),
                sensitivity=_level(where, entry.get("sensitivity")),
                settings=_settings(where, entry.get("settings")),
            )
        )
    result = DetectionSettings(
        sensitivity=_level(str(path), raw.get("sensitivity")) or DEFAULT_SENSITIVITY,
        settings=_settings(str(path), raw.get("settings")),
        overrides=tuple(overrides),
    )
    try:  # every combination must build: check the defaults and each override once
        result.config_for(300)
        for o in result.overrides:
            replace(result, overrides=(o,)).config_for(300, o.brand, o.topic, o.series)
    except (TypeError, ValueError) as exc:
        raise DetectorConfigError(f"{path}: {exc}") from exc
    return result
