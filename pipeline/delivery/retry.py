"""Retries with backoff for one alert step to one receiver: the only place retrying happens.

Exponential backoff with "equal jitter" (half fixed, half random) spreads retries from many workers;
a 429's ``Retry-After`` is honoured as a floor, never shortened. Every attempt is reported through
``on_attempt`` so the caller can write a receipt per attempt to ``alerts.deliveries``. The
idempotency key is the same on every attempt, so a receiver that de-duplicates (PagerDuty's
``dedup_key``, Opsgenie's alias) never pages twice for a retry.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from pipeline.delivery.health_data import for_receiver
from pipeline.delivery.receivers.base import Receiver
from pipeline.errors import DeliveryError, PermanentDelivery, RateLimited, RetryableDelivery
from pipeline.records import Alert
from pipeline.settings import Settings

AttemptHook = Callable[[int, str, "int | None", "str | None"], Awaitable[None]]
Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 5
    backoff_s: float = 0.5
    backoff_max_s: float = 30.0
    retry_after_max_s: float = 600.0

    def delay(self, attempt: int, rng: random.Random, retry_after: float | None = None) -> float:
        """Wait before attempt ``attempt + 1``; ``Retry-After`` is a floor (capped at 10 min)."""
        ceiling = min(self.backoff_max_s, self.backoff_s * 2.0 ** (attempt - 1))
        wait = ceiling / 2 + rng.random() * ceiling / 2
        if retry_after is not None:
            wait = max(wait, min(retry_after, self.retry_after_max_s))
        return wait

    @classmethod
    def from_settings(cls, settings: Settings) -> RetryPolicy:
        """The policy ``TOCSIN_DELIVERY_ATTEMPTS`` / ``_BACKOFF_S`` / ``_BACKOFF_MAX_S`` set."""
        return cls(
            attempts=settings.delivery_attempts,
            backoff_s=settings.delivery_backoff_s,
            backoff_max_s=settings.delivery_backoff_max_s,
        )


async def deliver(
    receiver: Receiver,
    alert: Alert,
    *,
    idempotency_key: str,
    policy: RetryPolicy,
    on_attempt: AttemptHook,
    sleep: Sleep = asyncio.sleep,
    rng: random.Random | None = None,
) -> bool:
    """Try until delivered, a permanent failure, or the attempts run out; True if delivered."""
    send = sender(receiver, alert, idempotency_key)
    return await retry_call(send, policy=policy, on_attempt=on_attempt, sleep=sleep, rng=rng)


def sender(
    receiver: Receiver, alert: Alert, idempotency_key: str
) -> Callable[[], Awaitable[int | None]]:
    """One attempt at sending ``alert`` to ``receiver``: a rate-limit token, then the request.

    The receiver gets the alert as it may see it: health-data evidence withheld unless it is
    cleared for it (``pipeline/delivery/health_data.py``).
    """
    outbound = for_receiver(alert, receiver)

    async def send() -> int | None:
        await receiver.throttle()  # every attempt is a request: within Tocsin's own rate limit
        return await receiver.send(outbound, idempotency_key=idempotency_key)

    return send


async def retry_call(
    send: Callable[[], Awaitable[int | None]],
    *,
    policy: RetryPolicy,
    on_attempt: AttemptHook,
    sleep: Sleep = asyncio.sleep,
    rng: random.Random | None = None,
) -> bool:
    """The retry loop behind :func:`deliver`, for any call that raises the delivery error tree.

    Kept separate so the response receivers (publish webhook, Slack thread) and group notices get
    exactly the same backoff, ``Retry-After`` and receipt semantics as alert delivery.
    """
    rng = rng or random.Random()
    for attempt in range(1, policy.attempts + 1):
        try:
            status = await send()
        except PermanentDelivery as exc:
            await on_attempt(attempt, "failed", exc.status_code, str(exc))
            return False
        except RetryableDelivery as exc:
            last = attempt == policy.attempts
            await on_attempt(attempt, "failed" if last else "retried", exc.status_code, str(exc))
            if last:
                return False
            retry_after = exc.retry_after if isinstance(exc, RateLimited) else None
            await sleep(policy.delay(attempt, rng, retry_after))
        except DeliveryError as exc:  # an unclassified delivery error is not worth a retry
            await on_attempt(attempt, "failed", exc.status_code, str(exc))
            return False
        else:
            await on_attempt(attempt, "delivered", status, None)
            return True
    return False
