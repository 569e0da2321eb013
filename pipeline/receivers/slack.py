"""Slack incoming-webhook receiver (``POST`` JSON with ``text`` and Block Kit ``blocks``).

Slack answers 200 with the body ``ok``; 429 with ``Retry-After``; 400/403/404/410 with an error
string (``invalid_payload``, ``action_prohibited``, ``channel_not_found``, ``channel_is_archived``),
which no retry can fix. The webhook URL is a secret (it embeds a token) and is never logged.
"""

from __future__ import annotations

from typing import Any

import httpx
from pydantic import SecretStr

from pipeline.errors import RetryableDelivery
from pipeline.receivers.base import Receiver, protect_secrets, raise_for_delivery
from pipeline.records import Alert

_EMOJI = {"firing": ":rotating_light:", "resolved": ":white_check_mark:"}


def slack_payload(alert: Alert) -> dict[str, Any]:
    """Block Kit message: headline, observed vs expected, and the top mentions with links."""
    headline = (
        f"{_EMOJI.get(alert.state, ':bell:')} *{alert.state.upper()}* "
        f"{alert.brand} / {alert.topic.replace('_', ' ')} ({alert.severity})"
    )
    facts = (
        f"*Observed* {alert.observed:g} mentions vs *expected* {alert.expected:.1f} "
        f"(score {alert.score:.3f}) since {alert.started_at:%Y-%m-%d %H:%M} UTC"
    )
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": headline[:3000]}},
        {"type": "section", "text": {"type": "mrkdwn", "text": facts[:3000]}},
    ]
    lines = []
    for item in (alert.top_mentions or [])[:3]:
        text = str(item.get("text", ""))[:200]
        url = item.get("url")
        lines.append(f"• <{url}|{text}>" if url else f"• {text}")
    if lines:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(lines)}})
    blocks.append(
        {"type": "context", "elements": [{"type": "mrkdwn", "text": f"key `{alert.dedup_key}`"}]}
    )
    return {
        "text": f"{alert.state.upper()} {alert.brand}/{alert.topic}: {alert.summary}"[:3000],
        "blocks": blocks,
    }


class SlackWebhookReceiver(Receiver):
    name = "slack"

    def __init__(self, webhook_url: SecretStr, client: httpx.AsyncClient) -> None:
        self._url = webhook_url
        self._client = client

    async def setup(self) -> None:
        protect_secrets(self._url)

    async def send(self, alert: Alert, *, idempotency_key: str) -> int | None:
        try:
            response = await self._client.post(
                self._url.get_secret_value(),
                json=slack_payload(alert),
                headers={"X-Tocsin-Idempotency-Key": idempotency_key},
            )
        except httpx.TimeoutException as exc:
            raise RetryableDelivery(f"slack: timeout ({type(exc).__name__})") from exc
        except httpx.TransportError as exc:
            raise RetryableDelivery(f"slack: transport error ({type(exc).__name__})") from exc
        raise_for_delivery(response, self.name)
        return response.status_code
