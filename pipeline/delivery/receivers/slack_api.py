"""Slack Web API receiver: ``chat.postMessage`` with a bot token, then ``chat.update`` in place.

Calls go through the one Slack Web API client (``pipeline/delivery/slack_web.py``), which also
classifies Slack's ``ok: false`` bodies into the delivery error tree. The first step
of an alert posts a message; later steps (acknowledged, resolved) update that message, found by
the ``ts`` Slack returned. That map lives in memory only: after a restart a later step posts anew.
"""

from __future__ import annotations

from typing import Any

from pipeline.delivery.receivers.base import Receiver
from pipeline.delivery.receivers.slack import slack_payload
from pipeline.delivery.slack_web import (
    RETRYABLE_ERRORS,
    SlackWebClient,
    check_slack_body,
)
from pipeline.records import Alert

__all__ = ["RETRYABLE_ERRORS", "SlackApiReceiver", "action_buttons", "check_slack_body"]

ACTIONS = (
    ("acknowledge", "Acknowledge", "primary"),
    ("resolve", "Resolve", None),
    ("draft_response", "Draft response", None),
)


def action_buttons(alert: Alert) -> dict[str, Any] | None:
    """Block Kit buttons that Tocsin's interactivity endpoint handles; none once resolved.

    ``action_id`` says what to do and ``value`` carries the dedup key, so the endpoint needs no
    lookup to find the alert. Buttons only work from the Web API (a Slack app), not webhooks.
    """
    if alert.state == "resolved":
        return None
    elements: list[dict[str, Any]] = []
    for action, label, style in ACTIONS:
        if action == "acknowledge" and alert.state == "acknowledged":
            continue
        button: dict[str, Any] = {
            "type": "button",
            "text": {"type": "plain_text", "text": label},
            "action_id": f"tocsin_{action}",
            "value": alert.dedup_key[:2000],
        }
        if style:
            button["style"] = style
        elements.append(button)
    return {"type": "actions", "block_id": "tocsin_actions", "elements": elements}


class SlackApiReceiver(Receiver):
    name = "slack_api"
    kind = "slack_api"

    def __init__(self, slack: SlackWebClient) -> None:
        self._slack = slack
        self._client = slack.client
        self._channel = slack.channel
        self._posted: dict[str, tuple[str, str]] = {}  # dedup key -> (channel id, message ts)

    def thread_of(self, dedup_key: str) -> tuple[str, str] | None:
        """(channel id, ts) of the message posted for an alert, so approvals reply in its thread."""
        return self._posted.get(dedup_key)

    async def send(self, alert: Alert, *, idempotency_key: str) -> int | None:
        body: dict[str, Any] = {**slack_payload(alert), "unfurl_links": False}
        buttons = action_buttons(alert)
        if buttons is not None:
            body["blocks"] = [*body["blocks"], buttons]
        previous = self._posted.get(alert.dedup_key)
        if previous is None:
            method = "chat.postMessage"
            body["channel"] = self._channel
        else:
            method = "chat.update"
            body["channel"], body["ts"] = previous
        status, data = await self._slack.call(method, body, receiver=self.name)
        if previous is None and isinstance(data.get("ts"), str):
            self._posted[alert.dedup_key] = (str(data.get("channel", self._channel)), data["ts"])
        return status
