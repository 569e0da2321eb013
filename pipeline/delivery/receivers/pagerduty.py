"""PagerDuty Events API v2 receiver: ``POST /v2/enqueue`` with trigger / acknowledge / resolve.

The ``dedup_key`` is the alert's own dedup key (brand + topic + window start), never a clock value,
so a retried trigger lands on the incident already open and a resolve closes that same incident.
PagerDuty answers 202 when it accepted the event, 400 for an invalid event (no retry can fix it),
429 when the routing key sends too fast (about 120 events a minute) and 5xx when it is unwell.
The routing key is a secret: it travels in the JSON body only and never in a message.
"""

from __future__ import annotations

from typing import Any

import httpx
from pydantic import SecretStr

from pipeline.delivery.receivers.base import Receiver, protect_secrets, raise_for_delivery, request
from pipeline.records import Alert

SUMMARY_MAX = 1024
DEDUP_KEY_MAX = 255
_ACTIONS = {
    "firing": "trigger",
    "escalated": "trigger",
    "acknowledged": "acknowledge",
    "resolved": "resolve",
}
# PagerDuty severities are critical / error / warning / info; Tocsin has no "error" level.
_SEVERITIES = {"critical": "critical", "warning": "warning", "info": "info"}


def pagerduty_event(alert: Alert, routing_key: str, *, link: str | None = None) -> dict[str, Any]:
    """The Events API v2 body for one alert step, with PagerDuty's field limits applied."""
    action = _ACTIONS.get(alert.state, "trigger")
    event: dict[str, Any] = {
        "routing_key": routing_key,
        "event_action": action,
        "dedup_key": alert.dedup_key[:DEDUP_KEY_MAX],
    }
    if action == "trigger":
        summary = f"[{alert.severity}] {alert.brand}/{alert.topic}: {alert.summary}"
        event["payload"] = {
            "summary": summary[:SUMMARY_MAX],
            "source": f"tocsin/{alert.brand}",
            "severity": _SEVERITIES.get(alert.severity, "warning"),
            "timestamp": alert.started_at.isoformat(),
            "component": alert.brand,
            "group": alert.topic,
            "class": "social-media-spike",
            "custom_details": {
                "state": alert.state,
                "observed": alert.observed,
                "expected": alert.expected,
                "score": alert.score,
                "top_mentions": [
                    {"text": str(m.get("text", ""))[:280], "url": m.get("url")}
                    for m in (alert.top_mentions or [])[:3]
                ],
            },
        }
        if link:
            event["links"] = [{"href": link, "text": "Tocsin dashboard"}]
    return event


class PagerDutyReceiver(Receiver):
    name = "pagerduty"
    kind = "pagerduty"

    def __init__(
        self,
        routing_key: SecretStr,
        client: httpx.AsyncClient,
        *,
        events_url: str = "https://events.pagerduty.com/v2/enqueue",
        link: str | None = None,
    ) -> None:
        self._key = routing_key
        self._client = client
        self._url = events_url
        self._link = link

    async def setup(self) -> None:
        protect_secrets(self._key)

    async def send(self, alert: Alert, *, idempotency_key: str) -> int | None:
        body = pagerduty_event(alert, self._key.get_secret_value(), link=self._link)
        response = await request(self._client, self.name, "POST", self._url, json=body)
        raise_for_delivery(response, self.name)
        return response.status_code
