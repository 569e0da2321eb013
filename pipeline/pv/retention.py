"""How long the ``cases`` table keeps a case: handled cases leave it, open ones never do.

The ``cases`` table is each worker's working copy of the cases on its ``pv.cases`` partitions
(the safety queue, the near-due clock); the record is the ``pv.cases`` topic itself, kept without
time limit, which ``tocsin pv cases export`` folds. So a case can leave the table without leaving
the record, once nobody needs its clock any more:

- **by age**: a case handled (``sent_to_safety`` or ``closed_invalid``, :data:`HANDLED`) more
  than ``TOCSIN_PV_CASES_KEEP_DAYS`` ago (the time of the move in its history) is dropped;
- **by count**: while the worker holds more than ``TOCSIN_PV_CASES_MAX`` cases, its oldest handled
  cases are dropped first, whatever their age.

A case not yet handled (``possible``, ``new``, ``in_review``) is never dropped, and never refused:
its clock is a legal deadline and its ``open`` is what sends it to the safety receivers, so
losing or refusing it costs more than memory. Holding the stream back would not free room either:
the moves that hand cases over arrive on the same stream. When the open cases alone exceed the
cap, the table grows past it, ``tocsin_pv_cases_over_cap`` says by how much and the alert
``TocsinPvCaseStoreOverCap`` asks for the queue to be worked (or the cap and memory raised).

A worker writes a table only from the partition of the event it is handling (Faust puts the
tombstone in that partition of the changelog), so :class:`CaseKeeper` sweeps the cases whose key
hashes to that partition (:func:`pipeline.topology.partition_of`, the producer's own rule), at
most once per :data:`SWEEP_S` per partition, after an event there. A partition with no new event
keeps its handled cases until its next one; the table only grows through events, so the cap
holds to within one sweep interval of openings.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from pipeline.pv.cases import HANDLED

#: Seconds between two sweeps of one partition.
SWEEP_S = 60.0


def handled_at(case: Mapping[str, Any]) -> datetime | None:
    """When a handled case was handled (its last move), None for a case still open."""
    if case.get("status") not in HANDLED:
        return None
    for entry in reversed(case.get("history") or []):
        if isinstance(entry, Mapping) and entry.get("status") == case["status"]:
            try:
                at = datetime.fromisoformat(str(entry.get("at")))
            except ValueError:
                break
            # a time without a zone (any producer can write pv.cases) is read as UTC
            return at if at.tzinfo is not None else at.replace(tzinfo=UTC)
    return datetime.min.replace(tzinfo=UTC)  # no readable move: handled long ago


@dataclass(frozen=True)
class Sweep:
    """What one sweep drops (by age, by count) and how far the table stays over the cap."""

    expired: tuple[str, ...] = ()
    capped: tuple[str, ...] = ()
    over_cap: int = 0

    @property
    def dropped(self) -> tuple[str, ...]:
        return self.expired + self.capped


def sweep(
    held: Mapping[str, Mapping[str, Any]],
    mine: Iterable[str],
    now: datetime,
    *,
    keep: timedelta,
    max_cases: int,
) -> Sweep:
    """The cases of ``mine`` (ids this sweep may drop) to drop, ``held`` being the whole table.

    Handled cases older than ``keep`` go; then, while the table is over ``max_cases``, the
    oldest handled ones of ``mine``. Open cases stay; ``over_cap`` is the table's size beyond
    ``max_cases`` after the drops.
    """
    handled = sorted(
        (when, key)
        for key in mine
        if (case := held.get(key)) and (when := handled_at(case)) is not None
    )
    expired = tuple(key for when, key in handled if now - when > keep)
    left = len(held) - len(expired)
    extra = max(0, left - max_cases)
    capped = tuple(key for _, key in handled[len(expired) : len(expired) + extra])
    return Sweep(expired, capped, max(0, left - len(capped) - max_cases))


@dataclass
class CaseKeeper:
    """When to sweep which partition (``partition_of`` says whose a case id is)."""

    keep: timedelta
    max_cases: int
    partition_of: Callable[[str], int]
    clock: Callable[[], float]
    _last: dict[int, float] = field(default_factory=dict)

    def check(
        self, held: Mapping[str, Mapping[str, Any]], partition: int, now: datetime
    ) -> Sweep | None:
        """The sweep of ``partition`` when one is due, None otherwise."""
        tick = self.clock()
        last = self._last.get(partition)
        if last is not None and tick - last < SWEEP_S:
            return None
        self._last[partition] = tick
        mine = [
            key
            for key, case in held.items()
            if case and case.get("status") in HANDLED and self.partition_of(key) == partition
        ]
        return sweep(held, mine, now, keep=self.keep, max_cases=self.max_cases)
