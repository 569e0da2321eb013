"""The detector in the counting stage: closed buckets are judged as they close, filling ones as
mentions arrive (``count_mentions`` calls this through :mod:`.buckets`).

Each brand's detectors live in its counting state (``state["det"][topic]``, with the recent
arrival times the early test needs in ``state["arr"][topic]``), so counts and detector move
together: one record per brand, written once per batch, on the partition the brand's stream is
on. A worker killed mid-batch re-counts the batch from the last stored state, which replays the
same decisions; the alert's dedup key (brand, topic, episode bucket) makes a re-sent step a no-op
downstream.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pipeline import services
from pipeline.counting.cells import bucket_of
from pipeline.detection.detector import SeriesDetector
from pipeline.detection.mentions import recent_arrivals
from pipeline.detection.stream import Configs, alert_for, signal_for, zero_bucket
from pipeline.records import Alert, Bucket, ClassifiedMention
from pipeline.topics import alerts, signals

AGENT = "count_mentions"


def configs() -> Configs:
    """The detection settings of this worker (read once, on first use)."""
    extra = services.extra()
    found = extra.get("detection_configs")
    if found is None:
        cfg = services.settings()
        found = Configs(cfg.bucket_seconds, cfg.detection_file, cfg.detection_sensitivity)
        extra["detection_configs"] = found
    assert isinstance(found, Configs)
    return found


class Detectors:
    """The detectors one batch touches, built once from their brands' states, stored once."""

    def __init__(self) -> None:
        self._live: dict[tuple[str, str], SeriesDetector] = {}

    def get(self, state: dict[str, Any], brand: str, topic: str) -> SeriesDetector:
        key = (brand, topic)
        detector = self._live.get(key)
        if detector is None:
            saved = state.get("det", {}).get(topic)
            config = configs().for_series(brand, topic)
            try:
                detector = SeriesDetector(config, saved or None)
            except (KeyError, TypeError, ValueError):
                # A state of another version or bucket width: start this series again.
                services.metrics().detector_resets.inc()
                detector = SeriesDetector(config)
            self._live[key] = detector
        return detector

    def save_into(self, brand: str, state: dict[str, Any]) -> None:
        """Write the brand's live detectors into its state (before the state is stored)."""
        saved = state.setdefault("det", {})
        for (b, topic), detector in self._live.items():
            if b == brand:
                saved[topic] = detector.to_state()

    def clear(self) -> None:
        self._live.clear()


async def send_alert(alert: Alert) -> None:
    metrics = services.metrics()
    await alerts.send(key=alert.dedup_key, value=alert)
    metrics.alerts.labels(alert.state, alert.severity).inc()
    metrics.alerts_firing.inc(1 if alert.state == "firing" else -1)
    metrics.messages_out.labels(AGENT).inc()


async def judge_closed(state: dict[str, Any], bucket: Bucket, detectors: Detectors) -> None:
    """Feed a closed bucket to its series' detector; send its signal and any alert steps."""
    metrics = services.metrics()
    detector = detectors.get(state, bucket.brand, bucket.topic)
    # update_all also returns readings for skipped buckets (zeros), so no transition is lost.
    peak = None if bucket.peak is None else float(bucket.peak)
    readings = detector.update_all(bucket.start, float(bucket.count), peak)
    reading = readings[-1]
    metrics.observed.labels(bucket.brand, bucket.topic).set(bucket.count)
    metrics.expected.labels(bucket.brand, bucket.topic).set(reading.expected)
    metrics.anomaly_score.labels(bucket.brand, bucket.topic).set(reading.score)
    await signals.send(key=bucket.series_key, value=signal_for(bucket, reading))
    for each in readings:
        if each.transition not in ("fired", "resolved"):
            continue
        source = bucket if each.start == bucket.start else zero_bucket(bucket, each.start)
        await send_alert(alert_for(source, each))


def _arrivals(state: dict[str, Any], topic: str, ts: float, window: float) -> list[float]:
    """The topic's arrival times within ``window`` of ``ts``, with ``ts`` added (kept in state)."""
    kept = recent_arrivals(state.setdefault("arr", {}).get(topic, []), ts, window)
    state["arr"][topic] = kept
    return kept


async def judge_filling(
    state: dict[str, Any],
    item: ClassifiedMention,
    topics: tuple[str, ...],
    width: int,
    detectors: Detectors,
) -> None:
    """Judge the mention's filling bucket for each watched topic it carries: page early when the
    last minute and a half already says surge (:meth:`SeriesDetector.judge_filling`)."""
    mention = item.mention
    ts = mention.created_at.timestamp()
    start = int(ts) - int(ts) % width
    slot = state.get("open", {}).get(str(start), {})
    begin = datetime.fromtimestamp(start, UTC)
    for topic in item.topics:
        cell = slot.get(topic)
        if topic not in topics or not cell:
            continue
        detector = detectors.get(state, mention.brand, topic)
        arrivals = _arrivals(state, topic, ts, detector.config.early_window_seconds)
        reading = detector.judge_filling(begin, float(cell["n"]), arrivals, ts)
        if reading is None:
            continue
        services.metrics().early_pages.inc()
        bucket = bucket_of(
            mention.brand, topic, begin, datetime.fromtimestamp(start + width, UTC), cell
        )
        tipping = {
            "id": mention.id,
            "url": mention.url,
            "platform": mention.platform,
            "at": mention.created_at.isoformat(),
        }
        await send_alert(alert_for(bucket, reading, tipping))
