"""Opsgenie Alert API receiver: create, acknowledge and close one alert by its alias.

The alias is the alert's dedup key, so Opsgenie de-duplicates a retried create onto the alert
already open (it only bumps its count) and acknowledge/close find it with ``identifierType=alias``.
Opsgenie processes requests asynchronously and answers 202; 401/403 mean a bad key, 422 a bad body,
429 too many requests. The key is sent as ``Authorization: GenieKey ...`` and never logged.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx
from pydantic import SecretStr

from pipeline.delivery.receivers.base import Receiver, protect_secrets, raise_for_delivery, request
from pipeline.records import Alert

MESSAGE_MAX = 130
ALIAS_MAX = 512
DESCRIPTION_MAX = 15000
_PRIORITIES = {"critical": "P1", "warning": "P3", "info": "P5"}


def opsgenie_create(alert: Alert, *, link: str | None = None) -> dict[str, Any]:
    """Body of ``POST /v2/alerts`` with Opsgenie's length limits applied."""
    description = (
        f"{alert.summary}\n\nObserved {alert.observed:g} mentions vs expected "
        f"{alert.expected:.1f} (score {alert.score:.3f}) since {alert.started_at:%Y-%m-%d %H:%M} UTC."
    )
    for item in (alert.top_mentions or [])[:3]:
        description += f"\n- {str(item.get('text', ''))[:280]} {item.get('url') or ''}".rstrip()
    details = {
        "brand": alert.brand,
        "topic": alert.topic,
        "state": alert.state,
        "observed": f"{alert.observed:g}",
        "expected": f"{alert.expected:.1f}",
        "score": f"{alert.score:.4f}",
    }
    if link:
        details["dashboard"] = link
    return {
        "message": f"[{alert.severity}] {alert.brand}/{alert.topic}: {alert.summary}"[:MESSAGE_MAX],
        "alias": alert.dedup_key[:ALIAS_MAX],
        "description": description[:DESCRIPTION_MAX],
        "tags": ["tocsin", alert.brand, alert.topic, alert.severity],
        "details": details,
        "entity": alert.brand,
        "source": "tocsin",
        "priority": _PRIORITIES.get(alert.severity, "P3"),
    }


class OpsgenieReceiver(Receiver):
    name = "opsgenie"
    kind = "opsgenie"

    def __init__(
        self,
        api_key: SecretStr,
        client: httpx.AsyncClient,
        *,
        api_url: str = "https://api.opsgenie.com",
        link: str | None = None,
    ) -> None:
        self._key = api_key
        self._client = client
        self._base = api_url.rstrip("/")
        self._link = link

    async def setup(self) -> None:
        protect_secrets(self._key)

    async def send(self, alert: Alert, *, idempotency_key: str) -> int | None:
        headers = {"Authorization": f"GenieKey {self._key.get_secret_value()}"}
        alias = quote(alert.dedup_key[:ALIAS_MAX], safe="")
        if alert.state in ("acknowledged", "resolved"):
            action = "acknowledge" if alert.state == "acknowledged" else "close"
            url = f"{self._base}/v2/alerts/{alias}/{action}"
            body: dict[str, Any] = {"source": "tocsin", "note": f"{alert.state} in Tocsin"}
            params = {"identifierType": "alias"}
            response = await request(
                self._client, self.name, "POST", url, json=body, params=params, headers=headers
            )
        else:
            body = opsgenie_create(alert, link=self._link)
            url = f"{self._base}/v2/alerts"
            response = await request(
                self._client, self.name, "POST", url, json=body, headers=headers
            )
        raise_for_delivery(response, self.name)
        return response.status_code
