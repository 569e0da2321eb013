"""Bounded consumer polls shared among the partitions that have records ready.

``pipeline.app`` bounds each poll (``BROKER_MAX_POLL_RECORDS``) so that one agent's full stream
buffer never holds Faust's fetch loop, and so every other agent, behind a whole backlog. aiokafka
fills a bounded poll from its fetched partitions in the order their fetches arrived, so it takes
the poll from the first partition until that partition's fetch (up to ``CONSUMER_MAX_FETCH_SIZE``,
16 MiB: about 10,000 mentions) is used up: with a backlog, ``classify_mentions`` would read one
raw partition far ahead of the others, and counting would see event time jump back and forth by
hours of mentions (late mentions, left out). Here each poll takes an equal share of the bound from
every partition with records ready, and Faust's scheduler interleaves them record by record, as it
did with one unbounded poll.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from faust.types import TP, ConsumerT

FetchRecords = Callable[..., Awaitable[Mapping[TP, Sequence[Any]]]]


def ready_partitions(records: Mapping[Any, Any], active: set[TP] | None) -> list[TP]:
    """Partitions whose fetched records are ready to hand over (not fetch errors), in order."""
    return [
        tp
        for tp, result in list(records.items())
        if hasattr(result, "getall") and (not active or tp in active)
    ]


def shared_fetch(original: FetchRecords) -> FetchRecords:
    """Faust's ``_fetch_records`` (one aiokafka poll) taking the bound evenly from each partition."""

    async def fetch_records(
        consumer: Any,
        active_partitions: set[TP] | None,
        timeout: float | None = None,  # noqa: ASYNC109 (Faust passes it by this name)
        max_records: int | None = None,
    ) -> Mapping[TP, Sequence[Any]]:
        ready = ready_partitions(consumer._fetcher._records, active_partitions)
        if max_records is None or len(ready) < 2:
            return await original(
                consumer, active_partitions, timeout=timeout, max_records=max_records
            )
        share = max(1, max_records // len(ready))
        records: dict[TP, Sequence[Any]] = {}
        for tp in ready:
            records.update(await original(consumer, {tp}, timeout=0, max_records=share))
        if records:
            return records
        return await original(consumer, active_partitions, timeout=timeout, max_records=max_records)

    return fetch_records


def share_polls(consumer: ConsumerT) -> ConsumerT:
    """Install :func:`shared_fetch` on the consumer's aiokafka thread (Faust's aiokafka driver)."""
    thread: Any = getattr(consumer, "_thread", None)
    if thread is not None and hasattr(thread, "_fetch_records"):
        thread._fetch_records = shared_fetch(thread._fetch_records)
    return consumer
