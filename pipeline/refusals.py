"""Per-client accounting of refused requests: cheap audit beyond a threshold, and a slow-down.

A hostile client can make the worker refuse a thousand requests a second; writing one audit record
and one log line per refusal turns that into a write amplifier on Kafka and on the log. So, per
client address and per wall-clock minute:

* the first :attr:`RefusalLedger.audit_each` refusals are audited one by one, as before (a person
  mistyping a token, a forged Slack click: each is a fact an auditor wants in full);
* the rest are only counted, and when the minute is over one *summary* is audited for the client
  ("N more refusals, reasons ...") -- :meth:`RefusalLedger.take_summaries`;
* every authentication failure (any 401) from the client past :attr:`RefusalLedger.slow_after`
  in the minute is answered after a delay that doubles each time up to :attr:`max_delay_s`, so
  guessing tokens gets slower and slower while a legitimate user who mistyped once is not delayed.

The table of clients is bounded (:attr:`max_clients`); when it is full the oldest minute's
entries are summarised early. Nothing here does I/O: the caller writes what it is handed.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class ClientMinute:
    """What one client had refused in one minute."""

    minute: int
    refusals: int = 0
    failures: int = 0  # authentication failures (401), which drive the slow-down
    unaudited: Counter[str] = field(default_factory=Counter)


@dataclass(frozen=True)
class Summary:
    """Refusals of one client in one minute that were counted but not audited one by one."""

    client: str
    minute_start: float  # epoch seconds
    count: int
    reasons: dict[str, int]


@dataclass
class RefusalLedger:
    audit_each: int = 10
    slow_after: int = 5
    base_delay_s: float = 0.25
    max_delay_s: float = 4.0
    max_clients: int = 10_000
    clock: Callable[[], float] = time.time
    clients: dict[str, ClientMinute] = field(default_factory=dict)
    pending: list[Summary] = field(default_factory=list)

    def _entry(self, client: str) -> ClientMinute:
        minute = int(self.clock() // 60)
        entry = self.clients.get(client)
        if entry is not None and entry.minute != minute:
            self._close(client, entry)
            entry = None
        if entry is None:
            if len(self.clients) >= self.max_clients:
                self._close_all()
            entry = self.clients[client] = ClientMinute(minute)
        return entry

    def _close(self, client: str, entry: ClientMinute) -> None:
        self.clients.pop(client, None)
        if entry.unaudited:
            self.pending.append(
                Summary(
                    client,
                    entry.minute * 60.0,
                    sum(entry.unaudited.values()),
                    dict(entry.unaudited),
                )
            )

    def _close_all(self) -> None:
        for client, entry in list(self.clients.items()):
            self._close(client, entry)

    def refused(self, client: str, reason: str) -> bool:
        """Count one refusal; True when it should be audited (and logged) on its own."""
        entry = self._entry(client)
        entry.refusals += 1
        if entry.refusals <= self.audit_each:
            return True
        entry.unaudited[reason] += 1
        return False

    def failed_auth(self, client: str) -> float:
        """Count one authentication failure; the seconds to wait before answering it."""
        entry = self._entry(client)
        entry.failures += 1
        over = entry.failures - self.slow_after
        if over <= 0:
            return 0.0
        return float(min(self.max_delay_s, self.base_delay_s * 2 ** min(over - 1, 16)))

    def take_summaries(self) -> list[Summary]:
        """Summaries of minutes that are over (and of every minute, once the clock moved on)."""
        minute = int(self.clock() // 60)
        for client, entry in list(self.clients.items()):
            if entry.minute != minute:
                self._close(client, entry)
        out, self.pending = self.pending, []
        return out
