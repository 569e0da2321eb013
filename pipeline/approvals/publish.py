"""The publish step: hand a fully approved response to the publish webhook and the Slack thread.

The one rule that matters: **never publish a text whose hash differs from the approved hash**.
:func:`check_text` recomputes the hash of the exact bytes about to leave and raises
:class:`TextMismatch` when it differs, before any request is built. The webhook body is canonical
JSON signed like the alert webhook (``X-Tocsin-Signature: v1=HMAC(secret, "ts.body")`` with
``X-Tocsin-Timestamp``), and ``X-Tocsin-Idempotency-Key`` is ``draft_id:hash`` on every attempt,
so the publisher can drop a retry it already acted on. Retries and backoff are
:func:`pipeline.delivery.retry_call`'s, the same as for alerts.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import httpx
from pydantic import SecretStr

from pipeline.approvals.audit import text_hash
from pipeline.delivery.receivers.base import protect_secrets, raise_for_delivery, request
from pipeline.delivery.receivers.slack_api import check_slack_body
from pipeline.delivery.receivers.webhook import signed_headers
from pipeline.errors import PermanentDelivery, TocsinError
from pipeline.records import ApprovedRecord

TARGET_WEBHOOK = "publish_webhook"
TARGET_SLACK = "slack_thread"


class TextMismatch(TocsinError):
    """The text about to be published is not the text that was approved; nothing was sent."""


def check_text(approved: ApprovedRecord, hasher: Callable[[str], str] = text_hash) -> None:
    """Raise :class:`TextMismatch` unless ``approved.text`` hashes to ``approved.text_hash``."""
    if hasher(approved.text) != approved.text_hash:
        raise TextMismatch(f"draft {approved.draft_id}: text hash differs from the approved hash")


def idempotency_key(approved: ApprovedRecord) -> str:
    return f"{approved.draft_id}:{approved.text_hash}"


def publish_body(approved: ApprovedRecord) -> bytes:
    """Canonical JSON (sorted keys, no spaces): the signed bytes are exactly the sent bytes."""
    payload: dict[str, Any] = {
        "version": 1,
        "idempotency_key": idempotency_key(approved),
        "draft_id": approved.draft_id,
        "alert_key": approved.alert_key,
        "lang": approved.lang,
        "text": approved.text,
        "text_sha256": approved.text_hash,
        "approved_at": approved.approved_at.isoformat(),
        "approvers": list(approved.approvers),
    }
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


class PublishWebhook:
    """POSTs approved responses to the configured publish endpoint (a CMS, a social scheduler)."""

    name = TARGET_WEBHOOK

    def __init__(
        self,
        url: str,
        secret: SecretStr,
        client: httpx.AsyncClient,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._url = url
        self._secret = secret
        self._client = client
        self._clock = clock
        protect_secrets(secret)

    async def send(self, approved: ApprovedRecord) -> int:
        check_text(approved)
        body = publish_body(approved)
        headers = signed_headers(
            self._secret,
            body,
            idempotency_key(approved),
            now=int(self._clock()),
            content_type="application/json; charset=utf-8",
        )
        response = await request(
            self._client, self.name, "POST", self._url, content=body, headers=headers
        )
        raise_for_delivery(response, self.name)
        return response.status_code


class SlackThreadPoster:
    """Posts the approved text in the incident's Slack thread with ``chat.postMessage``."""

    name = TARGET_SLACK

    def __init__(
        self, token: SecretStr, channel: str, client: httpx.AsyncClient, *, api_url: str
    ) -> None:
        self._token = token
        self._channel = channel
        self._client = client
        self._base = api_url.rstrip("/")
        protect_secrets(token)

    async def send(self, approved: ApprovedRecord) -> int:
        check_text(approved)
        thread = approved.slack_thread or {}
        body: dict[str, Any] = {
            "channel": str(thread.get("channel") or self._channel),
            "text": f"Approved response published ({approved.draft_id}):\n>>> {approved.text}",
            "unfurl_links": False,
        }
        if thread.get("ts"):
            body["thread_ts"] = str(thread["ts"])
        response = await request(
            self._client,
            self.name,
            "POST",
            f"{self._base}/chat.postMessage",
            json=body,
            headers={"Authorization": f"Bearer {self._token.get_secret_value()}"},
        )
        raise_for_delivery(response, self.name)
        check_slack_body(response, self.name)
        return response.status_code


def require_config(url: str | None, secret: SecretStr | None) -> tuple[str, SecretStr]:
    """The publish webhook must be fully configured; a half-configured one is refused."""
    if url is None or secret is None:
        raise PermanentDelivery(
            "publish webhook not configured (TOCSIN_PUBLISH_WEBHOOK_URL and _SECRET)"
        )
    return url, secret
