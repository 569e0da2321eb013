"""Prometheus Alertmanager receiver: ``POST /api/v2/alerts`` so SREs route Tocsin alerts as usual.

Alertmanager identifies an alert by its label set, so the labels hold only what is stable for the
life of the alert (alertname, brand, topic, severity, dedup key); state and numbers go into
annotations. A firing step is sent without ``endsAt`` (Alertmanager then applies its
``resolve_timeout``); a resolved step sets ``endsAt``. Alertmanager answers 200 with an empty body.
Alertmanager has no acknowledge: an acknowledged step is re-sent as firing with the state annotated.
"""

from __future__ import annotations

from typing import Any

import httpx

from pipeline.receivers.base import Receiver, raise_for_delivery, request
from pipeline.records import Alert

ALERTNAME = "TocsinSpike"


def alertmanager_alert(alert: Alert, *, generator_url: str | None = None) -> dict[str, Any]:
    """One ``postableAlert`` for Alertmanager API v2."""
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
        item["endsAt"] = alert.updated_at.isoformat()
    if generator_url:
        item["generatorURL"] = generator_url
    return item


class AlertmanagerReceiver(Receiver):
    name = "alertmanager"

    def __init__(
        self, base_url: str, client: httpx.AsyncClient, *, generator_url: str | None = None
    ) -> None:
        self._url = base_url.rstrip("/") + "/api/v2/alerts"
        self._client = client
        self._generator_url = generator_url

    async def send(self, alert: Alert, *, idempotency_key: str) -> int | None:
        body = [alertmanager_alert(alert, generator_url=self._generator_url)]
        response = await request(self._client, self.name, "POST", self._url, json=body)
        raise_for_delivery(response, self.name)
        return response.status_code
