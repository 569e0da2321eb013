"""Slack Web API receiver: ``chat.postMessage`` with a bot token, then ``chat.update`` in place.

Unlike the incoming webhook, the Web API answers HTTP 200 for most failures and puts
``{"ok": false, "error": "..."}`` in the body, so the body decides: ``ratelimited`` (also sent as
HTTP 429 with ``Retry-After``) is a rate limit, Slack's own outages are retryable, and everything
else (``invalid_auth``, ``channel_not_found``, ``invalid_blocks`` ...) is permanent. The first step
of an alert posts a message; later steps (acknowledged, resolved) update that message, found by
the ``ts`` Slack returned. That map lives in memory only: after a restart a later step posts anew.
"""

from __future__ import annotations

from typing import Any

import httpx
from pydantic import SecretStr

from pipeline.delivery.receivers.base import (
    Receiver,
    parse_retry_after,
    protect_secrets,
    raise_for_delivery,
    request,
)
from pipeline.delivery.receivers.slack import slack_payload
from pipeline.errors import PermanentDelivery, RateLimited, RetryableDelivery
from pipeline.records import Alert

RETRYABLE_ERRORS = frozenset(
    {"internal_error", "fatal_error", "service_unavailable", "request_timeout"}
)


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


def check_slack_body(response: httpx.Response, receiver: str) -> dict[str, Any]:
    """Raise for an ``ok: false`` body; return the parsed body when Slack says ``ok``."""
    try:
        data = response.json()
    except ValueError as exc:
        raise RetryableDelivery(
            f"{receiver}: unreadable body (HTTP {response.status_code})",
            status_code=response.status_code,
        ) from exc
    if not isinstance(data, dict):
        raise PermanentDelivery(f"{receiver}: unexpected body", status_code=response.status_code)
    if data.get("ok") is True:
        return data
    error = str(data.get("error", "unknown_error"))[:100]
    if error == "ratelimited":
        raise RateLimited(
            f"{receiver}: ratelimited",
            retry_after=parse_retry_after(response.headers.get("Retry-After")),
        )
    if error in RETRYABLE_ERRORS:
        raise RetryableDelivery(f"{receiver}: {error}", status_code=response.status_code)
    raise PermanentDelivery(f"{receiver}: {error}", status_code=response.status_code)


class SlackApiReceiver(Receiver):
    name = "slack_api"

    def __init__(
        self,
        token: SecretStr,
        channel: str,
        client: httpx.AsyncClient,
        *,
        api_url: str = "https://slack.com/api",
    ) -> None:
        self._token = token
        self._channel = channel
        self._client = client
        self._base = api_url.rstrip("/")
        self._posted: dict[str, tuple[str, str]] = {}  # dedup key -> (channel id, message ts)

    async def setup(self) -> None:
        protect_secrets(self._token)

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
        response = await request(
            self._client,
            self.name,
            "POST",
            f"{self._base}/{method}",
            json=body,
            headers={"Authorization": f"Bearer {self._token.get_secret_value()}"},
        )
        raise_for_delivery(response, self.name)
        data = check_slack_body(response, self.name)
        if previous is None and isinstance(data.get("ts"), str):
            self._posted[alert.dedup_key] = (str(data.get("channel", self._channel)), data["ts"])
        return response.status_code
