"""The outbound HTTP helpers every receiver shares: one request, its outcome in the error tree.

:func:`request` turns transport failures into ``RetryableDelivery`` (the URL never in the message:
several receivers' URLs are secrets); :func:`raise_for_delivery` maps a status onto the tree
(429 -> ``RateLimited`` with ``Retry-After``; 408/409/425/5xx retryable; other 4xx permanent).
"""

from __future__ import annotations

import email.utils
import time
from typing import Any

import httpx

from pipeline.errors import PermanentDelivery, RateLimited, RetryableDelivery


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def raise_for_delivery(response: httpx.Response, receiver: str) -> None:
    """Map an HTTP response onto the delivery error tree (2xx returns quietly)."""
    status = response.status_code
    if 200 <= status < 300:
        return
    snippet = response.text[:200]
    if status == 429:
        raise RateLimited(
            f"{receiver}: rate limited ({snippet})",
            retry_after=parse_retry_after(response.headers.get("Retry-After")),
        )
    if status in (408, 409, 425) or status >= 500:
        raise RetryableDelivery(f"{receiver}: HTTP {status} ({snippet})", status_code=status)
    raise PermanentDelivery(f"{receiver}: HTTP {status} ({snippet})", status_code=status)


async def request(
    client: httpx.AsyncClient, receiver: str, method: str, url: str, **kwargs: Any
) -> httpx.Response:
    """Send one request, turning transport failures into ``RetryableDelivery``.

    Only the exception's *type* goes into the message: httpx error texts can carry the URL, and
    several receivers' URLs are secrets. The status is not checked here so receivers whose API
    reports errors inside a 200 body (Slack's Web API) can look at it first.
    """
    try:
        return await client.request(method, url, **kwargs)
    except httpx.TimeoutException as exc:
        raise RetryableDelivery(f"{receiver}: timeout ({type(exc).__name__})") from exc
    except httpx.TransportError as exc:
        raise RetryableDelivery(f"{receiver}: transport error ({type(exc).__name__})") from exc
