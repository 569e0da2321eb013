"""The base class every alert destination implements: ``setup`` / ``send`` / ``close``.

A receiver turns one alert step into one outbound call and classifies the outcome into the error
tree of ``pipeline/errors.py``; it never retries by itself. Retrying, backoff and ``Retry-After``
live in one place (``pipeline/delivery.py``) so every receiver gets the same guarantees.
"""

from __future__ import annotations

import email.utils
import time
from abc import ABC, abstractmethod

import httpx

from pipeline.errors import PermanentDelivery, RateLimited, RetryableDelivery
from pipeline.records import Alert


class Receiver(ABC):
    """An alert destination. ``name`` is a fixed, low-cardinality metrics label."""

    name: str = "receiver"

    async def setup(self) -> None:  # noqa: B027 - optional hook
        """Prepare connections; called once before the first ``send``."""

    @abstractmethod
    async def send(self, alert: Alert, *, idempotency_key: str) -> int | None:
        """Deliver one alert step; return the HTTP status (None if not HTTP) or raise."""

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Release what ``setup`` acquired."""


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
