"""Bounded polls take an equal share from every partition with records (``pipeline.fair_poll``).

The fake below drains like aiokafka's ``Fetcher.fetched_records``: partitions in the order their
fetches arrived, the first one until the bound is used up.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from faust.types import TP

from pipeline.fair_poll import ready_partitions, shared_fetch

RAW = [TP("mentions.raw", p) for p in range(4)]


class Fetched:
    """One partition's fetched records (aiokafka's ``FetchResult``: ``getall``)."""

    def __init__(self, offsets: range) -> None:
        self.offsets = list(offsets)

    def getall(self, max_records: int | None) -> list[int]:
        n = len(self.offsets) if max_records is None else max_records
        taken, self.offsets = self.offsets[:n], self.offsets[n:]
        return taken


class FetchFailed:
    """aiokafka's ``FetchError``: no ``getall``."""


class Fetcher:
    def __init__(self, records: dict[TP, Any]) -> None:
        self._records = records


class Consumer:
    def __init__(self, records: dict[TP, Any]) -> None:
        self._fetcher = Fetcher(records)


async def drain_in_order(
    consumer: Consumer,
    partitions: set[TP] | None,
    timeout: float | None = None,  # noqa: ASYNC109 (the fetcher's own signature)
    max_records: int | None = None,
) -> Mapping[TP, Sequence[Any]]:
    out: dict[TP, Sequence[Any]] = {}
    left = max_records
    for tp, result in list(consumer._fetcher._records.items()):
        if (partitions and tp not in partitions) or not isinstance(result, Fetched):
            continue
        got = result.getall(left)
        if not result.offsets:
            del consumer._fetcher._records[tp]
        if got:
            out[tp] = got
            if left is not None:
                left -= len(got)
                if left == 0:
                    break
    return out


def backlog() -> Consumer:
    return Consumer({tp: Fetched(range(10_000)) for tp in RAW})


async def test_without_sharing_a_bounded_poll_takes_only_the_first_partition() -> None:
    consumer = backlog()
    polls = [await drain_in_order(consumer, set(RAW), max_records=205) for _ in range(10)]
    assert all(list(poll) == [RAW[0]] for poll in polls)


async def test_each_poll_takes_an_equal_share_of_every_partition() -> None:
    consumer = backlog()
    fetch = shared_fetch(drain_in_order)
    seen = {tp: 0 for tp in RAW}
    for _ in range(10):
        poll = await fetch(consumer, set(RAW), timeout=1.0, max_records=205)
        assert sum(len(v) for v in poll.values()) <= 205
        for tp, records in poll.items():
            assert list(records) == list(range(seen[tp], seen[tp] + 51))
            seen[tp] += len(records)
    assert seen == dict.fromkeys(RAW, 510)


async def test_only_active_partitions_and_never_a_fetch_error_are_shared() -> None:
    records: dict[TP, Any] = {tp: Fetched(range(100)) for tp in RAW}
    records[RAW[3]] = FetchFailed()
    consumer = Consumer(records)
    assert ready_partitions(records, {RAW[0], RAW[1], RAW[3]}) == [RAW[0], RAW[1]]
    poll = await shared_fetch(drain_in_order)(consumer, {RAW[0], RAW[1]}, max_records=10)
    assert poll == {RAW[0]: list(range(5)), RAW[1]: list(range(5))}


async def test_an_unbounded_or_single_partition_poll_is_left_to_the_fetcher() -> None:
    consumer = Consumer({RAW[0]: Fetched(range(300)), RAW[1]: Fetched(range(3))})
    fetch = shared_fetch(drain_in_order)
    assert await fetch(consumer, None, max_records=None) == {
        RAW[0]: list(range(300)),
        RAW[1]: list(range(3)),
    }
    consumer = Consumer({RAW[0]: Fetched(range(300))})
    assert await fetch(consumer, None, max_records=205) == {RAW[0]: list(range(205))}
