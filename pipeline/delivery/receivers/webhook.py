"""Generic webhook receiver: the alert as canonical JSON, signed (``pipeline/delivery/signing.py``).

The signature scheme, its headers and the consumer-side :func:`verify_signature` live in
``signing.py``, shared with the publish webhook; they are re-exported here for consumers.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

import httpx
from pydantic import SecretStr

from pipeline.delivery.receivers.base import Receiver, protect_secrets
from pipeline.delivery.signing import (
    IDEMPOTENCY_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    post_signed,
    sign,
    signed_headers,
    verify_signature,
)
from pipeline.records import Alert


def _json_default(value: Any) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def webhook_body(alert: Alert, idempotency_key: str) -> bytes:
    """Canonical JSON (sorted keys, no spaces) so the signed bytes are exactly the sent bytes."""
    payload = {
        "version": 1,
        "idempotency_key": idempotency_key,
        "alert": {
            "dedup_key": alert.dedup_key,
            "state": alert.state,
            "severity": alert.severity,
            "brand": alert.brand,
            "topic": alert.topic,
            "started_at": alert.started_at,
            "updated_at": alert.updated_at,
            "observed": alert.observed,
            "expected": alert.expected,
            "score": alert.score,
            "summary": alert.summary,
            "why": alert.why,
            "top_mentions": alert.top_mentions,
        },
    }
    return json.dumps(
        payload, sort_keys=True, separators=(",", ":"), default=_json_default
    ).encode()


class WebhookReceiver(Receiver):
    name = "webhook"
    kind = "webhook"

    def __init__(
        self,
        url: SecretStr,
        secret: SecretStr,
        client: httpx.AsyncClient,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._url = url
        self._secret = secret
        self._client = client
        self._clock = clock

    async def setup(self) -> None:
        protect_secrets(self._url, self._secret)

    async def send(self, alert: Alert, *, idempotency_key: str) -> int | None:
        return await post_signed(
            self._client,
            self.name,
            self._url.get_secret_value(),
            body=webhook_body(alert, idempotency_key),
            secret=self._secret,
            idempotency_key=idempotency_key,
            now=int(self._clock()),
        )


__all__ = [
    "IDEMPOTENCY_HEADER",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "WebhookReceiver",
    "sign",
    "signed_headers",
    "verify_signature",
    "webhook_body",
]
