"""Slack incoming-webhook receiver (``POST`` JSON with ``text`` and Block Kit ``blocks``).

Slack answers 200 with the body ``ok``; 429 with ``Retry-After``; 400/403/404/410 with an error
string (``invalid_payload``, ``action_prohibited``, ``channel_not_found``, ``channel_is_archived``),
which no retry can fix. The webhook URL is a secret (it embeds a token) and is never logged.

A group notification (``send_group``) is one message: a headline naming the group and how many
alerts it holds, then one short section per alert (at most :data:`GROUP_MAX_SHOWN`, so the
message stays far below Slack's 50-block limit), then the dedup keys.
"""

from __future__ import annotations

from typing import Any

import httpx
from pydantic import SecretStr

from pipeline.delivery.receivers.base import (
    GroupNotice,
    Receiver,
    protect_secrets,
    raise_for_delivery,
    request,
)
from pipeline.records import Alert

_EMOJI = {"firing": ":rotating_light:", "resolved": ":white_check_mark:"}
GROUP_MAX_SHOWN = 10


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


def slack_group_payload(notice: GroupNotice) -> dict[str, Any]:
    """One Block Kit message for a whole group: headline, one section per alert, keys."""
    alerts = notice.alerts
    states = sorted({a.state for a in alerts})
    state = states[0] if len(states) == 1 else "mixed"
    where = ", ".join(value for _, value in notice.labels if value) or "all alerts"
    topics = ", ".join(dict.fromkeys(a.topic.replace("_", " ") for a in alerts))
    update = " (repeat)" if notice.repeat else " (update)" if notice.sequence > 1 else ""
    headline = (
        f"{_EMOJI.get(state, ':bell:')} *{state.upper()}* {len(alerts)} alert"
        f"{'s' if len(alerts) != 1 else ''} for {where}: {topics}{update}"
    )
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": headline[:3000]}},
    ]
    for alert in alerts[:GROUP_MAX_SHOWN]:
        text = (
            f"*{alert.brand} / {alert.topic.replace('_', ' ')}* ({alert.severity}, {alert.state}): "
            f"{alert.observed:g} mentions vs {alert.expected:.1f} expected "
            f"(score {alert.score:.3f}) since {alert.started_at:%Y-%m-%d %H:%M} UTC"
        )
        top = (alert.top_mentions or [])[:1]
        if top:
            url, quote = top[0].get("url"), str(top[0].get("text", ""))[:200]
            text += f"\n• <{url}|{quote}>" if url else f"\n• {quote}"
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": text[:3000]}})
    hidden = len(alerts) - GROUP_MAX_SHOWN
    if hidden > 0:
        more = f"… and {hidden} more alert{'s' if hidden != 1 else ''} in this group"
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": more}})
    keys = ", ".join(f"`{a.dedup_key}`" for a in alerts[:GROUP_MAX_SHOWN])
    blocks.append(
        {"type": "context", "elements": [{"type": "mrkdwn", "text": f"keys {keys}"[:3000]}]}
    )
    summary = "; ".join(f"{a.brand}/{a.topic}: {a.summary}" for a in alerts)
    return {"text": f"{state.upper()} {len(alerts)} alerts: {summary}"[:3000], "blocks": blocks}


class SlackWebhookReceiver(Receiver):
    name = "slack"
    kind = "slack"

    def __init__(self, webhook_url: SecretStr, client: httpx.AsyncClient) -> None:
        self._url = webhook_url
        self._client = client

    async def setup(self) -> None:
        protect_secrets(self._url)

    async def send(self, alert: Alert, *, idempotency_key: str) -> int | None:
        return await self._post(slack_payload(alert), idempotency_key)

    async def send_group(self, notice: GroupNotice, *, idempotency_key: str) -> int | None:
        return await self._post(slack_group_payload(notice), idempotency_key)

    async def _post(self, payload: dict[str, Any], idempotency_key: str) -> int | None:
        response = await request(
            self._client,
            self.name,
            "POST",
            self._url.get_secret_value(),
            json=payload,
            headers={"X-Tocsin-Idempotency-Key": idempotency_key},
        )
        raise_for_delivery(response, self.name)
        return response.status_code
