"""The signed-webhook helper: HMAC-SHA256 over ``timestamp.body``, for every signed POST Tocsin sends.

The scheme follows Slack's and Stripe's: the sender puts the Unix time in ``X-Tocsin-Timestamp``
and ``v1=<hex HMAC-SHA256(secret, f"{timestamp}.{body}")>`` in ``X-Tocsin-Signature``; the consumer
recomputes it over the raw body, compares with ``hmac.compare_digest`` and refuses timestamps older
than a few minutes, which stops replays. ``X-Tocsin-Idempotency-Key`` is the same on every retry so
the consumer can drop duplicates. The alert webhook and the publish webhook both send through
:func:`post_signed`; :func:`verify_signature` is the consumer side, for tests and for anyone
writing a consumer in Python.
"""

from __future__ import annotations

import hashlib
import hmac

import httpx
from pydantic import SecretStr

from pipeline.delivery.http import raise_for_delivery, request

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


async def post_signed(
    client: httpx.AsyncClient,
    receiver: str,
    url: str,
    *,
    body: bytes,
    secret: SecretStr,
    idempotency_key: str,
    now: int,
    content_type: str = "application/json",
) -> int:
    """POST ``body`` signed with ``secret``; the status, or the delivery error tree."""
    headers = signed_headers(secret, body, idempotency_key, now=now, content_type=content_type)
    response = await request(client, receiver, "POST", url, content=body, headers=headers)
    raise_for_delivery(response, receiver)
    return response.status_code
