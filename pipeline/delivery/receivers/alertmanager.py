"""Prometheus Alertmanager receiver: ``POST /api/v2/alerts`` so SREs route Tocsin alerts as usual.

Alertmanager identifies an alert by its label set, so the labels hold only what is stable for the
life of the alert (alertname, brand, topic, severity, dedup key); state and numbers go into
annotations. Alertmanager answers 200 with an empty body. It has no acknowledge: an acknowledged
step is re-sent as firing with the state annotated.

``endsAt`` matters more than it looks. An alert posted without one is resolved by Alertmanager
itself after its ``resolve_timeout`` (5 minutes by default), because Prometheus re-sends firing
alerts every minute or so and Tocsin does not: it sends a step once. So a firing step carries
``endsAt`` = now + ``firing_ttl`` (12 hours by default, far beyond an episode's length), and the
resolved step ends the alert at its resolution time, clipped to [startsAt, now] so a clock
ahead of ours cannot keep it firing and Alertmanager never sees an end before the start.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from pipeline.delivery.receivers.base import Receiver, raise_for_delivery, request
from pipeline.records import Alert

ALERTNAME = "TocsinSpike"
FIRING_TTL = timedelta(hours=12)


def _utcnow() -> datetime:
    return datetime.now(UTC)


def alertmanager_alert(
    alert: Alert,
    *,
    generator_url: str | None = None,
    now: datetime | None = None,
    firing_ttl: timedelta = FIRING_TTL,
) -> dict[str, Any]:
    """One ``postableAlert`` for Alertmanager API v2."""
    now = now or _utcnow()
    item: dict[str, Any] = {
        "labels": {
            "alertname": ALERTNAME,
            "brand": alert.brand,
            "topic": alert.topic,
            "severity": alert.severity,
            "dedup_key": alert.dedup_key,
            "source": "tocsin",
        },
        "annotations": {
            "summary": alert.summary,
            "state": alert.state,
            "observed": f"{alert.observed:g}",
            "expected": f"{alert.expected:.1f}",
            "score": f"{alert.score:.4f}",
        },
        "startsAt": alert.started_at.isoformat(),
    }
    if alert.state == "resolved":
        item["endsAt"] = max(alert.started_at, min(alert.updated_at, now)).isoformat()
    else:
        item["endsAt"] = (now + firing_ttl).isoformat()
    if generator_url:
        item["generatorURL"] = generator_url
    return item


class AlertmanagerReceiver(Receiver):
    name = "alertmanager"
    kind = "alertmanager"

    def __init__(
        self,
        base_url: str,
        client: httpx.AsyncClient,
        *,
        generator_url: str | None = None,
        firing_ttl: timedelta = FIRING_TTL,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self._url = base_url.rstrip("/") + "/api/v2/alerts"
        self._client = client
        self._generator_url = generator_url
        self._firing_ttl = firing_ttl
        self._clock = clock

    async def send(self, alert: Alert, *, idempotency_key: str) -> int | None:
        body = [
            alertmanager_alert(
                alert,
                generator_url=self._generator_url,
                now=self._clock(),
                firing_ttl=self._firing_ttl,
            )
        ]
        response = await request(self._client, self.name, "POST", self._url, json=body)
        raise_for_delivery(response, self.name)
        return response.status_code
