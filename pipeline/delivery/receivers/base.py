"""The base class every alert destination implements: ``setup`` / ``send`` / ``close``.

A receiver turns one alert step into one outbound call and classifies the outcome into the error
tree of ``pipeline/errors.py``; it never retries by itself. Retrying, backoff and ``Retry-After``
live in one place (``pipeline/delivery/retry.py``) so every receiver gets the same guarantees.

Grouped routes (``group_wait`` above zero, see ``agents/notify_groups.py``) hand a receiver a
:class:`GroupNotice` -- every firing alert of one group -- through ``send_group``. Its default sends
the alerts one by one through ``send``, so every receiver works grouped without change; receivers
whose people read messages (Slack, the console) override it with one message listing the group.
PagerDuty keeps the default on purpose: it de-duplicates per incident (``dedup_key``), so one event
per alert is what it expects, and Alertmanager does the same.

Client-side rate limits (``pipeline/delivery/ratelimit.py``): ``build_receivers`` gives each receiver a
``limiter``, and every outbound request takes a token through :meth:`Receiver.throttle` first --
``deliver`` before each ``send``, the default ``send_group`` before each alert it sends, and
:func:`send_group` once before a receiver's own one-message ``send_group``.
"""

from __future__ import annotations

import email.utils
import logging
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

import httpx
from pydantic import SecretStr

from pipeline.delivery.ratelimit import Limiter
from pipeline.errors import PermanentDelivery, RateLimited, RetryableDelivery
from pipeline.records import Alert

#: Loggers of the HTTP stack that may write a request URL (webhook URLs embed tokens).
_HTTP_LOGGERS = ("httpx", "httpcore")


@dataclass(frozen=True)
class GroupNotice:
    """One notification for one alert group: its alerts (latest step of each) and its place.

    ``group`` names the group (route path and label values, e.g. ``route|brand=quillon``);
    ``labels`` are the values it is grouped by; ``sequence`` counts the group's notifications
    (1 the first, then updates); ``repeat`` marks a re-send of an unchanged group.
    """

    group: str
    labels: tuple[tuple[str, str], ...]
    alerts: tuple[Alert, ...]
    sequence: int = 1
    repeat: bool = False


class Receiver(ABC):
    """An alert destination. ``name`` is a fixed, low-cardinality metrics label."""

    name: str = "receiver"
    #: Tocsin's own rate limit for this receiver (set by ``build_receivers``); None: unlimited.
    limiter: Limiter | None = None

    async def throttle(self) -> float:
        """Wait for this receiver's rate limit (asyncio, never blocking); seconds waited."""
        return 0.0 if self.limiter is None else await self.limiter.acquire()

    async def setup(self) -> None:  # noqa: B027 - optional hook
        """Prepare connections; called once before the first ``send``."""

    @abstractmethod
    async def send(self, alert: Alert, *, idempotency_key: str) -> int | None:
        """Deliver one alert step; return the HTTP status (None if not HTTP) or raise."""

    async def send_group(self, notice: GroupNotice, *, idempotency_key: str) -> int | None:
        """Deliver a group notification; by default each alert through ``send``, in order.

        Each alert gets ``<idempotency_key>/<dedup key>``, the same on every attempt, so when a
        retry of the whole group re-sends alerts that already went through, receivers that
        de-duplicate on the key drop them. Returns the last status.
        """
        status: int | None = None
        for alert in notice.alerts:
            await self.throttle()  # one request per alert
            status = await self.send(alert, idempotency_key=f"{idempotency_key}/{alert.dedup_key}")
        return status

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Release what ``setup`` acquired."""


async def send_group(
    receiver: Receiver, notice: GroupNotice, *, idempotency_key: str
) -> int | None:
    """A group notification within the receiver's rate limit: one token per request it makes.

    The default ``send_group`` sends alert by alert and throttles each; a receiver with its own
    ``send_group`` sends one message, which takes one token here.
    """
    if type(receiver).send_group is not Receiver.send_group:
        await receiver.throttle()
    return await receiver.send_group(notice, idempotency_key=idempotency_key)


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


class SecretRedactor(logging.Filter):
    """Replaces known secret values in log records with ``***`` before any handler sees them.

    httpx logs every request's full URL at INFO; for Slack/Teams webhooks the URL *is* the secret.
    Installed on the HTTP stack's loggers by receivers' ``setup`` rather than at import time.
    """

    def __init__(self) -> None:
        super().__init__("tocsin-secrets")
        self._secrets: set[str] = set()

    def add(self, secret: str) -> None:
        if len(secret) >= 4:
            self._secrets.add(secret)

    def filter(self, record: logging.LogRecord) -> bool:
        if not self._secrets:
            return True
        message = record.getMessage()
        redacted = message
        for secret in sorted(self._secrets, key=len, reverse=True):
            redacted = redacted.replace(secret, "***")
        if redacted != message:
            # () rather than None: a handler that wraps non-tuple args as (args,) would try
            # "msg % (None,)" and print a logging error instead of the line (seen in a worker log)
            record.msg, record.args = redacted, ()
        return True


def protect_secrets(*secrets: SecretStr | str | None) -> None:
    """Make sure the HTTP stack's loggers redact ``secrets`` (idempotent, one filter per logger)."""
    raws = [s.get_secret_value() if isinstance(s, SecretStr) else s for s in secrets if s]
    for name in _HTTP_LOGGERS:
        log = logging.getLogger(name)
        redactor = next((f for f in log.filters if isinstance(f, SecretRedactor)), None)
        if redactor is None:
            redactor = SecretRedactor()
            log.addFilter(redactor)
        for raw in raws:
            redactor.add(raw)
            if "?" in raw:  # the query string alone (e.g. a Teams ``sig=``) is also secret
                redactor.add(raw.split("?", 1)[1])
