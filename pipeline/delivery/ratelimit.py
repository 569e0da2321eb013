"""Client-side rate limits per receiver, so Tocsin itself never sends faster than an API allows.

A 429 is handled (``Retry-After`` is a floor, see ``pipeline/delivery/retry.py``), but being refused is
the slow path: PagerDuty may drop events over its limit and Slack answers 429 for a whole minute.
So each receiver gets a token bucket sized from the API's documented limit, and every outbound
request (every attempt, every alert of a group sent alert by alert) takes a token first. One
Tocsin receiver is one PagerDuty routing key, one Slack webhook, one Slack channel: a limit per
receiver is the API's limit per key.

The bucket (``pipeline/token_bucket.py``, shared with HTTP ingest) reserves:
:meth:`TokenBucket.reserve` always takes the token, letting the count go
negative, and returns how long the caller must wait for it. Callers running at once (several
partitions' agents share a receiver) therefore queue in arrival order without a lock, each
sleeping for its own slot. Waiting is ``asyncio.sleep`` -- the event loop keeps serving the other
agents, the web server and the timers -- and every wait is reported (``on_wait``) so the worker
counts it in ``tocsin_delivery_throttled_seconds_total``.

In any 60 s a bucket lets through at most ``per_min + burst`` requests, so the defaults keep that
sum at or under each documented limit:

==============  =========  =====  =========================================================
receiver        per min    burst  documented limit
==============  =========  =====  =========================================================
pagerduty       110        10     Events API v2: 120 events/min per routing key
slack           60         1      incoming webhook: 1 message/s per webhook (short bursts OK)
slack_api       60         1      chat.postMessage: 1 message/s per channel
opsgenie        50         10     Alert API: per-minute quota by plan; 60/min is the lowest
teams           60         4      Teams webhooks: 4 requests/s, and a readable channel
email           30         5      SMTP relays throttle per sender; 30/min is a common floor
alertmanager    600        50     self-hosted: a guard against loops, not an API quota
webhook         600        50     self-hosted: same
console         (none)            the worker's own stdout
==============  =========  =====  =========================================================

The defaults and the parser of ``TOCSIN_DELIVERY_RATE_LIMITS`` live in ``pipeline/settings_values.py``
(:data:`~pipeline.settings_values.DEFAULT_LIMITS`); the settings validate it at start-up. The setting
overrides them: ``pagerduty=60,slack=30/2`` (per minute, then an optional burst); ``0`` turns a
receiver's client-side limit off.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping

from pipeline.settings_values import DEFAULT_LIMITS, RateLimit
from pipeline.token_bucket import TokenBucket

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]

__all__ = ["Limiter", "TokenBucket", "limit_for"]


def limit_for(name: str, overrides: Mapping[str, RateLimit]) -> RateLimit | None:
    """The limit a receiver gets (override, else default); None when it has no limit."""
    limit = overrides.get(name, DEFAULT_LIMITS.get(name))
    return limit if limit is not None and limit.per_min > 0 else None


class Limiter:
    """One receiver's bucket with its clock and its (non-blocking) way to wait."""

    def __init__(
        self,
        limit: RateLimit,
        *,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
        on_wait: Callable[[float], None] | None = None,
    ) -> None:
        self.limit = limit
        self._clock = clock
        self._sleep = sleep
        self._bucket = TokenBucket.full(limit, clock())
        self.on_wait = on_wait

    async def acquire(self) -> float:
        """Wait (asyncio) until this request may go out; returns the seconds waited."""
        wait = self._bucket.reserve(self._clock())
        if wait > 0:
            await self._sleep(wait)
            if self.on_wait is not None:
                self.on_wait(wait)
        return wait
