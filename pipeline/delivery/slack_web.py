"""The one Slack Web API client: a bot token, ``POST <api>/<method>``, errors classified.

The alert receiver (``receivers/slack_api.py``), the approval requests (``approvals/slack.py``)
and the published response in the incident's thread (``receivers/slack_thread.py``) all call
Slack through :class:`SlackWebClient`. Unlike the incoming webhook, the Web API answers HTTP 200
for most failures and puts ``{"ok": false, "error": "..."}`` in the body, so the body decides
(:func:`check_slack_body`): ``ratelimited`` (also sent as HTTP 429 with ``Retry-After``) is a
rate limit, Slack's own outages are retryable, and everything else (``invalid_auth``,
``channel_not_found``, ``invalid_blocks`` ...) is permanent.
"""

from __future__ import annotations

from typing import Any

import httpx
from pydantic import SecretStr

from pipeline.delivery.http import parse_retry_after, raise_for_delivery, request
from pipeline.delivery.redaction import protect_secrets
from pipeline.errors import PermanentDelivery, RateLimited, RetryableDelivery

DEFAULT_API_URL = "https://slack.com/api"
RETRYABLE_ERRORS = frozenset(
    {"internal_error", "fatal_error", "service_unavailable", "request_timeout"}
)


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


class SlackWebClient:
    """Calls Web API methods as one bot in one default channel, over the shared ``httpx`` client."""

    def __init__(
        self,
        token: SecretStr,
        channel: str,
        client: httpx.AsyncClient,
        *,
        api_url: str = DEFAULT_API_URL,
    ) -> None:
        self.channel = channel
        self.client = client
        self._token = token
        self._base = api_url.rstrip("/")
        protect_secrets(token)

    async def call(
        self, method: str, body: dict[str, Any], *, receiver: str
    ) -> tuple[int, dict[str, Any]]:
        """``POST`` one method; (HTTP status, Slack's ``ok`` body) or the delivery error tree.

        ``receiver`` names the caller in error messages and metrics (``slack_api``,
        ``slack_approvals``, ``slack_thread``).
        """
        response = await request(
            self.client,
            receiver,
            "POST",
            f"{self._base}/{method}",
            json=body,
            headers={"Authorization": f"Bearer {self._token.get_secret_value()}"},
        )
        raise_for_delivery(response, receiver)
        return response.status_code, check_slack_body(response, receiver)
