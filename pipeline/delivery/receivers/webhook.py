"""Generic webhook receiver: the alert as JSON, signed with HMAC-SHA256 over ``timestamp.body``.

The scheme follows Slack's and Stripe's: the sender puts the Unix time in ``X-Tocsin-Timestamp``
and ``v1=<hex HMAC-SHA256(secret, f"{timestamp}.{body}")>`` in ``X-Tocsin-Signature``; the consumer
recomputes it over the raw body, compares with ``hmac.compare_digest`` and refuses timestamps older
than a few minutes, which stops replays. ``X-Tocsin-Idempotency-Key`` is the same on every retry so
the consumer can drop duplicates. :func:`verify_signature` is the consumer side, for our tests and
for anyone writing a receiver in Python.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

import httpx
from pydantic import SecretStr

from pipeline.delivery.receivers.base import Receiver, protect_secrets, raise_for_delivery, request
from pipeline.records import Alert

TIMESTAMP_HEADER = "X-Tocsin-Timestamp"
SIGNATURE_HEADER = "X-Tocsin-Signature"
IDEMPOTENCY_HEADER = "X-Tocsin-Idempotency-Key"
SCHEME = "v1"


def sign(secret: bytes, timestamp: int, body: bytes) -> str:
    """The signature header value for ``body`` sent at ``timestamp``."""
    digest = hmac.new(secret, str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"{SCHEME}={digest}"


def signed_headers(
    secret: SecretStr, body: bytes, idempotency_key: str, *, now: int, content_type: str
) -> dict[str, str]:
    """Headers of a signed POST: timestamp, signature over timestamp + body, idempotency key.

    Signed afresh per attempt (``now``): a retry is a new request, not a replay.
    """
    return {
        "Content-Type": content_type,
        TIMESTAMP_HEADER: str(now),
        SIGNATURE_HEADER: sign(secret.get_secret_value().encode(), now, body),
        IDEMPOTENCY_HEADER: idempotency_key,
    }


def verify_signature(
    secret: bytes,
    timestamp: str | None,
    body: bytes,
    signature: str | None,
    *,
    now: float,
    tolerance_s: float = 300.0,
) -> bool:
    """True if ``signature`` is ours for ``body`` and ``timestamp`` is within the replay window."""
    if not timestamp or not signature:
        return False
    try:
        sent = int(timestamp)
    except ValueError:
        return False
    if abs(now - sent) > tolerance_s:
        return False
    return hmac.compare_digest(sign(secret, sent, body), signature)


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
        body = webhook_body(alert, idempotency_key)
        headers = signed_headers(
            self._secret,
            body,
            idempotency_key,
            now=int(self._clock()),
            content_type="application/json",
        )
        response = await request(
            self._client,
            self.name,
            "POST",
            self._url.get_secret_value(),
            content=body,
            headers=headers,
        )
        raise_for_delivery(response, self.name)
        return response.status_code
