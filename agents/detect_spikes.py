"""detect_spikes: closed buckets -> signals, and alert steps when a series starts or stops spiking.

The detector itself is pure (``pipeline/detection``) and is the same code ``tocsin backtest`` runs;
this agent only keeps its state per series in a changelog-backed table (keyed like the stream, by
"brand|topic") and turns its transitions into alert steps. The dedup key is brand, topic and the
episode's first bucket, so a replay, a retry or a restart produces the same key and never a second
incident.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from faust.types import StreamT

from pipeline import services
from pipeline.app import app
from pipeline.detection import DetectorConfig, Reading, SeriesDetector
from pipeline.records import Alert, Bucket, Signal
from pipeline.tables import detectors
from pipeline.topics import alerts, buckets, signals

AGENT = "detect_spikes"


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


WHY_TOP = 3
"""Authors and mentions quoted in an alert's ``why``: enough to see who is driving a surge,
few enough that a Slack message or a PagerDuty payload stays small."""
WHY_TEXT_CHARS = 140


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


def alert_for(bucket: Bucket, reading: Reading) -> Alert:
    """The alert step for a detector transition, with the why a person needs to act on it."""
    assert reading.episode_start is not None
    state = "firing" if reading.transition == "fired" else "resolved"
    ratio = bucket.count / reading.expected if reading.expected > 0 else float("inf")
    summary = (
        f"{bucket.count} {bucket.topic.replace('_', ' ')} mentions of {bucket.brand} in "
        f"{int((bucket.end - bucket.start).total_seconds() // 60)} min, "
        f"expected about {reading.expected:.1f} ({ratio:.1f}x); {describe(reading.score)}"
        if state == "firing"
        else f"{bucket.topic.replace('_', ' ')} mentions of {bucket.brand} back to normal "
        f"({bucket.count} vs about {reading.expected:.1f} expected)"
    )
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
    }
    return Alert(
        dedup_key=dedup_key(bucket.brand, bucket.topic, reading.episode_start),
        state=state,
        severity=reading.severity,
        brand=bucket.brand,
        topic=bucket.topic,
        started_at=reading.episode_start,
        updated_at=bucket.end,
        observed=float(bucket.count),
        expected=round(reading.expected, 3),
        score=round(reading.score, 6),
        summary=summary,
        why=why,
        top_mentions=bucket.top_mentions or [],
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


def detector_config() -> DetectorConfig:
    return DetectorConfig(bucket_seconds=services.settings().bucket_seconds)


@app.agent(buckets, name=AGENT)
async def detect_spikes(stream: StreamT[Bucket]) -> None:
    metrics = services.metrics()
    config = detector_config()
    async for bucket in stream:
        metrics.messages_in.labels(AGENT).inc()
        key = bucket.series_key
        detector = SeriesDetector(config, detectors[key] or None)
        # update_all also returns readings for skipped buckets (zeros), so no transition is lost.
        readings = detector.update_all(bucket.start, float(bucket.count), float(bucket.reach))
        detectors[key] = detector.to_state()
        reading = readings[-1]
        metrics.observed.labels(bucket.brand, bucket.topic).set(bucket.count)
        metrics.expected.labels(bucket.brand, bucket.topic).set(reading.expected)
        metrics.anomaly_score.labels(bucket.brand, bucket.topic).set(reading.score)
        await signals.send(key=key, value=signal_for(bucket, reading))
        for each in readings:
            if each.transition not in ("fired", "resolved"):
                continue
            source = bucket if each.start == bucket.start else zero_bucket(bucket, each.start)
            alert = alert_for(source, each)
            await alerts.send(key=alert.dedup_key, value=alert)
            metrics.alerts.labels(alert.state, alert.severity).inc()
            metrics.alerts_firing.inc(1 if alert.state == "firing" else -1)
            metrics.messages_out.labels(AGENT).inc()
