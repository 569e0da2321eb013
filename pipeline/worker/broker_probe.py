"""Is the broker answering? A readiness input that notices a frozen or unreachable broker.

Faust keeps its connections open and its consumer's fetches simply wait when the broker stops
answering (a paused VM, a GC pause, a network partition that drops packets): nothing fails for
the length of a request timeout, so "not rebalancing" stays true and ``/readyz`` would say 200
the whole time. Here a metadata request goes to the broker through the producer's client every
:data:`PROBE_INTERVAL_S`; ``/readyz`` turns false when none succeeded within
``TOCSIN_BROKER_PROBE_TIMEOUT_S`` and true again on the next answer.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

PROBE_INTERVAL_S = 2.0

log = logging.getLogger(__name__)


@dataclass
class BrokerProbe:
    """The time of the broker's last answer; one probe in flight at a time."""

    stale_after_s: float
    clock: Callable[[], float] = time.monotonic
    last_ok: float | None = None
    _inflight: bool = False
    _reported: bool | None = None

    async def probe(self, ask: Callable[[], Awaitable[bool]]) -> None:
        """Run one metadata request (``ask``), bounded by the staleness limit; never raises."""
        if self._inflight:
            return
        self._inflight = True
        try:
            ok = await asyncio.wait_for(ask(), self.stale_after_s)
        except Exception:  # timeout, connection error, producer not started yet
            ok = False
        finally:
            self._inflight = False
        if ok:
            self.last_ok = self.clock()

    def problem(self) -> str | None:
        """Why the broker counts as unavailable, or None; logs each change once."""
        now = self.clock()
        if self.last_ok is None:
            found: str | None = "the broker has not answered yet"
        elif now - self.last_ok > self.stale_after_s:
            found = f"the broker has not answered for {now - self.last_ok:.0f} s"
        else:
            found = None
        healthy = found is None
        if self._reported is not None and healthy != self._reported:
            if healthy:
                log.warning("broker answering again, readiness restored")
            else:
                log.error("broker unavailable, readiness false: %s", found)
        self._reported = healthy
        return found
