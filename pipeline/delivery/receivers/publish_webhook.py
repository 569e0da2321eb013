"""Publish webhook receiver: a fully approved response, as signed canonical JSON, to a CMS or scheduler.

The body is canonical JSON (sorted keys, no spaces), signed like the alert webhook
(``pipeline/delivery/signing.py``), and ``X-Tocsin-Idempotency-Key`` is ``draft_id:text_hash`` on
every attempt, so the publisher can drop a retry it already acted on. The ``guard`` (the approvals'
approved-hash check) runs on the exact record before the body is built.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import httpx
from pydantic import SecretStr

from pipeline.delivery.receivers.base import ResponseGuard, ResponseReceiver, response_key
from pipeline.delivery.redaction import protect_secrets
from pipeline.delivery.signing import post_signed
from pipeline.records import ApprovedRecord


def publish_body(approved: ApprovedRecord) -> bytes:
    """Canonical JSON (sorted keys, no spaces): the signed bytes are exactly the sent bytes."""
    payload: dict[str, Any] = {
        "version": 1,
        "idempotency_key": response_key(approved),
        "draft_id": approved.draft_id,
        "alert_key": approved.alert_key,
        "lang": approved.lang,
        "text": approved.text,
        "text_sha256": approved.text_hash,
        "approved_at": approved.approved_at.isoformat(),
        "approvers": list(approved.approvers),
    }
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


class PublishWebhookReceiver(ResponseReceiver):
    """POSTs approved responses to the configured publish endpoint."""

    name = "publish_webhook"
    kind = "publish_webhook"

    def __init__(
        self,
        url: str,
        secret: SecretStr,
        client: httpx.AsyncClient,
        *,
        clock: Callable[[], float] = time.time,
        guard: ResponseGuard | None = None,
    ) -> None:
        super().__init__(guard)
        self._url = url
        self._secret = secret
        self._client = client
        self._clock = clock
        protect_secrets(secret)

    async def send(self, approved: ApprovedRecord) -> int | None:
        self.check(approved)
        return await post_signed(
            self._client,
            self.name,
            self._url,
            body=publish_body(approved),
            secret=self._secret,
            idempotency_key=response_key(approved),
            now=int(self._clock()),
            content_type="application/json; charset=utf-8",
        )
