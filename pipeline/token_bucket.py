"""The one token bucket: Tocsin's own delivery rate limits and the HTTP ingest limit per client.

``capacity`` tokens, refilled at ``rate`` per second; pure (the time is passed in), so tests need
no clock. Two ways to spend tokens, for the two kinds of caller:

* :meth:`TokenBucket.reserve` always takes the token, letting the count go negative, and returns
  how long the caller must wait for it: outbound requests queue in arrival order without a lock
  (``pipeline/delivery/ratelimit.py``).
* :meth:`TokenBucket.take` takes ``n`` tokens only when they are all there, else nothing, and
  returns the wait: an ingest request is accepted whole or refused with ``Retry-After``
  (``pipeline/ingest/http.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.settings_values import RateLimit


@dataclass
class TokenBucket:
    """``capacity`` tokens refilled at ``rate`` per second; ``tokens`` may be negative (reserved)."""

    capacity: float
    rate: float
    tokens: float
    updated: float

    @classmethod
    def full(cls, limit: RateLimit, now: float) -> TokenBucket:
        """A full bucket for a per-minute :class:`~pipeline.settings_values.RateLimit`."""
        return cls(float(limit.burst), limit.per_min / 60.0, float(limit.burst), now)

    def _refill(self, now: float) -> None:
        elapsed = max(0.0, now - self.updated)
        self.tokens = min(self.capacity, self.tokens + elapsed * self.rate)
        self.updated = max(self.updated, now)

    def wait_for(self, n: float, now: float) -> float:
        """Seconds until ``n`` tokens are available (0 when they are), without taking any."""
        self._refill(now)
        return max(0.0, (n - self.tokens) / self.rate)

    def take(self, n: float, now: float) -> float:
        """Take ``n`` tokens and return 0, or take nothing and return the seconds to wait."""
        wait = self.wait_for(n, now)
        if wait == 0.0:
            self.tokens -= n
        return wait

    def reserve(self, now: float) -> float:
        """Take one token and return the seconds until it is really there (0: send now)."""
        self._refill(now)
        self.tokens -= 1.0
        return 0.0 if self.tokens >= 0 else -self.tokens / self.rate
