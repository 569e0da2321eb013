"""Detection in the counting stage: what a reading becomes on the stream (signals and alert steps).

The detector runs next to the counts (:mod:`pipeline.counting.buckets`), with no Kafka hop before a
decision: a closed bucket is judged as it closes (confirm, page or resolve), a filling bucket on
every mention counted into it (an early page). This module turns a reading into the records that
leave the stage. The dedup key is brand, topic and the episode's bucket, so a replay, a retry or a
restart produces the same key and never a second incident, and an early page and the close that
confirms it share one key.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pipeline.detection.config import DetectionSettings, DetectorConfig, load_detection_settings
from pipeline.detection.reading import Reading
from pipeline.records import Alert, Bucket, Signal

WHY_TOP = 3
"""Authors and mentions quoted in an alert's ``why``: enough to see who is driving a surge,
few enough that a Slack message or a PagerDuty payload stays small."""
WHY_TEXT_CHARS = 140


def dedup_key(brand: str, topic: str, episode_start: datetime) -> str:
    return f"{brand}:{topic}:{episode_start.astimezone(UTC):%Y%m%dT%H%MZ}"


def describe(score: float) -> str:
    """Plain words for a tail-probability score."""
    if score >= 0.999:
        return "far outside anything seen at this time of day"
    if score >= 0.99:
        return "very unusual"
    if score >= 0.95:
        return "unusual"
    return "within the normal range"


def dominant(counts: Mapping[str, int] | None) -> str | None:
    """The most frequent key (ties: alphabetical), or None for no counts."""
    if not counts:
        return None
    return min(counts, key=lambda k: (-counts[k], k))


def _author_line(author: dict[str, Any]) -> dict[str, Any]:
    """An author as quoted in ``why``: only the fields a responder needs, with known keys."""
    keep = ("id", "handle", "kind", "verified", "followers", "mentions")
    return {k: author.get(k) for k in keep if author.get(k) is not None}


def _mention_line(mention: dict[str, Any]) -> dict[str, Any]:
    """A top mention as quoted in ``why`` (text cut short; the full text is in top_mentions)."""
    keep = ("id", "url", "platform", "reach", "author_kind", "at", "first")
    line = {k: mention.get(k) for k in keep if mention.get(k) is not None}
    text = str(mention.get("text", ""))
    line["text"] = text if len(text) <= WHY_TEXT_CHARS else text[: WHY_TEXT_CHARS - 1] + "…"
    return line


def _summary(bucket: Bucket, reading: Reading, firing: bool) -> str:
    topic = bucket.topic.replace("_", " ")
    if not firing:
        return (
            f"{topic} mentions of {bucket.brand} back to normal "
            f"({bucket.count} vs about {reading.expected:.1f} expected)"
        )
    ratio = bucket.count / reading.expected if reading.expected > 0 else float("inf")
    if reading.early and reading.fired_at is not None:
        minutes = max(0, int((reading.fired_at - bucket.start).total_seconds() // 60))
        return (
            f"{bucket.count} {topic} mentions of {bucket.brand} in the first {minutes + 1} min "
            f"of a {int((bucket.end - bucket.start).total_seconds() // 60)}-min bucket, "
            f"expected about {reading.expected:.1f} for the whole bucket; surging now"
        )
    return (
        f"{bucket.count} {topic} mentions of {bucket.brand} in "
        f"{int((bucket.end - bucket.start).total_seconds() // 60)} min, "
        f"expected about {reading.expected:.1f} ({ratio:.1f}x); {describe(reading.score)}"
    )


def alert_for(bucket: Bucket, reading: Reading, tipping: dict[str, Any] | None = None) -> Alert:
    """The alert step for a detector transition, with the why a person needs to act on it."""
    assert reading.episode_start is not None
    firing = reading.transition == "fired"
    why: dict[str, Any] = {
        "bucket_start": bucket.start.isoformat(),
        "bucket_end": bucket.end.isoformat(),
        "interval": [round(reading.lower, 2), round(reading.upper, 2)],
        "score_words": describe(reading.score),
        "reach": bucket.reach,
        "authors": bucket.authors,
        "stance": bucket.stance or {},
        "first_source": next((m for m in bucket.top_mentions or [] if m.get("first")), None),
        "top_authors": [_author_line(a) for a in (bucket.top_authors or [])[:WHY_TOP]],
        "top_mentions": [_mention_line(m) for m in (bucket.top_mentions or [])[:WHY_TOP]],
        "early": reading.early,
    }
    # Routing and silences match on these labels (pipeline.oncall.routing.alert_labels).
    for label, counts in (("language", bucket.languages), ("author_kind", bucket.author_kinds)):
        value = dominant(counts)
        if value is not None:
            why[label] = value
    fired_at = reading.fired_at if firing else None
    if fired_at is not None:
        why["fired_at"] = fired_at.isoformat()
    return Alert(
        dedup_key=dedup_key(bucket.brand, bucket.topic, reading.episode_start),
        state="firing" if firing else "resolved",
        severity=reading.severity,
        brand=bucket.brand,
        topic=bucket.topic,
        started_at=reading.episode_start,
        updated_at=fired_at or bucket.end,
        observed=float(bucket.count),
        expected=round(reading.expected, 3),
        score=round(reading.score, 6),
        summary=_summary(bucket, reading, firing),
        why=why,
        top_mentions=bucket.top_mentions or [],
        fired_at=fired_at,
        early=reading.early,
        tipping_mention=tipping if firing else None,
    )


def signal_for(bucket: Bucket, reading: Reading) -> Signal:
    return Signal(
        brand=bucket.brand,
        topic=bucket.topic,
        start=bucket.start,
        end=bucket.end,
        observed=float(bucket.count),
        expected=reading.expected,
        lower=reading.lower,
        upper=reading.upper,
        score=reading.score,
        severity=reading.severity,
        firing=reading.firing,
    )


def zero_bucket(like: Bucket, start: datetime) -> Bucket:
    """The empty bucket the detector filled in for a gap (no mentions at all)."""
    return Bucket(
        brand=like.brand,
        topic=like.topic,
        start=start,
        end=start + (like.end - like.start),
        count=0,
    )


class Configs:
    """Detector settings per series, from the detection settings file (read once), cached."""

    def __init__(self, bucket_seconds: int, path: Path | None, sensitivity: str | None) -> None:
        settings = load_detection_settings(path) if path else DetectionSettings()
        if sensitivity:
            settings = DetectionSettings(sensitivity, settings.settings, settings.overrides)
        self.settings = settings
        self.bucket_seconds = bucket_seconds
        self._cache: dict[tuple[str, str], DetectorConfig] = {}

    def for_series(self, brand: str, topic: str) -> DetectorConfig:
        key = (brand, topic)
        config = self._cache.get(key)
        if config is None:
            config = self.settings.config_for(self.bucket_seconds, brand, topic, f"{brand}|{topic}")
            self._cache[key] = config
        return config

    @property
    def early_window(self) -> timedelta:
        return timedelta(seconds=DetectorConfig().early_window_seconds)
