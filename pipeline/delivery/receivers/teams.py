"""Microsoft Teams receiver: a Workflows (Power Automate) webhook posting an Adaptive Card.

The Workflows "post to a channel when a webhook request is received" template expects a message
whose ``attachments`` hold one ``application/vnd.microsoft.card.adaptive`` card; it answers 202
when the flow accepted the run, 429 when throttled. The URL carries a ``sig`` and is a secret.
"""

from __future__ import annotations

from typing import Any

import httpx
from pydantic import SecretStr

from pipeline.delivery.receivers.base import Receiver, protect_secrets, raise_for_delivery, request
from pipeline.records import Alert

CARD_CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
_COLOURS = {"critical": "attention", "warning": "warning", "info": "accent"}


def adaptive_card(alert: Alert, *, link: str | None = None) -> dict[str, Any]:
    """An Adaptive Card 1.4 (the highest version Teams renders everywhere) for one alert step."""
    colour = "good" if alert.state == "resolved" else _COLOURS.get(alert.severity, "default")
    body: list[dict[str, Any]] = [
        {
            "type": "TextBlock",
            "text": f"{alert.state.upper()}: {alert.brand} / {alert.topic.replace('_', ' ')}",
            "weight": "bolder",
            "size": "medium",
            "color": colour,
            "wrap": True,
        },
        {"type": "TextBlock", "text": alert.summary[:2000], "wrap": True},
        {
            "type": "FactSet",
            "facts": [
                {"title": "Severity", "value": alert.severity},
                {"title": "Observed", "value": f"{alert.observed:g}"},
                {"title": "Expected", "value": f"{alert.expected:.1f}"},
                {"title": "Since", "value": f"{alert.started_at:%Y-%m-%d %H:%M} UTC"},
                {"title": "Key", "value": alert.dedup_key},
            ],
        },
    ]
    for item in (alert.top_mentions or [])[:3]:
        text = str(item.get("text", ""))[:200]
        url = item.get("url")
        body.append(
            {
                "type": "TextBlock",
                "text": f"- [{text}]({url})" if url else f"- {text}",
                "wrap": True,
            }
        )
    card: dict[str, Any] = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": body,
    }
    if link:
        card["actions"] = [{"type": "Action.OpenUrl", "title": "Open in Tocsin", "url": link}]
    return {
        "type": "message",
        "attachments": [{"contentType": CARD_CONTENT_TYPE, "contentUrl": None, "content": card}],
    }


class TeamsReceiver(Receiver):
    name = "teams"
    kind = "teams"

    def __init__(
        self, workflow_url: SecretStr, client: httpx.AsyncClient, *, link: str | None = None
    ) -> None:
        self._url = workflow_url
        self._client = client
        self._link = link

    async def setup(self) -> None:
        protect_secrets(self._url)

    async def send(self, alert: Alert, *, idempotency_key: str) -> int | None:
        response = await request(
            self._client,
            self.name,
            "POST",
            self._url.get_secret_value(),
            json=adaptive_card(alert, link=self._link),
        )
        raise_for_delivery(response, self.name)
        return response.status_code
