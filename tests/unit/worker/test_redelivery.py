"""The consumer patch that keeps at-least-once across rebalances (see pipeline/redelivery.py)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from faust.types import TP

from pipeline.redelivery import (
    DeliveredOffsets,
    Hole,
    HoleWatch,
    commit_only_what_was_acked,
    redeliver_after_rebalance,
    refetch_holes,
)


def test_remembered_offsets_are_kept_but_never_answered() -> None:
    offsets = DeliveredOffsets()
    tp = TP("mentions", 0)
    offsets[tp] = 130  # Faust writes what it handed over ...
    offsets.update({TP("mentions", 1): 7})
    assert tp in offsets and offsets.get(tp) == 130
    # ... but its fetch loop reads through __getitem__, and None means "deliver everything"
    assert offsets[tp] is None
    assert offsets[TP("mentions", 9)] is None  # like Faust's defaultdict(lambda: None)
    del offsets[tp]
    assert offsets.pop(TP("mentions", 1)) == 7


def test_the_app_installs_it_on_its_consumer(monkeypatch: pytest.MonkeyPatch) -> None:
    """Checked without building a real consumer (that opens sockets and an event loop)."""
    import faust

    from pipeline.app import TocsinApp, create_app

    made = SimpleNamespace(_read_offset={}, _new_offset=lambda tp: None)
    monkeypatch.setattr(faust.App, "_new_consumer", lambda self: made)
    app = create_app()
    assert isinstance(app, TocsinApp)
    consumer: Any = app._new_consumer()
    assert consumer is made
    assert isinstance(consumer._read_offset, DeliveredOffsets)
    # the fetch loop binds __getitem__ once; make sure that is ours, not dict's
    lookup = consumer._read_offset.__getitem__
    assert lookup(TP("mentions.raw", 0)) is None


def test_commit_never_moves_past_an_unacked_offset_at_the_commit() -> None:
    """Faust's own check (min(acked) - committed > 1) commits over a one-message hole."""
    faust_answer = lambda: 13  # noqa: E731 - what Faust's _new_offset would commit
    assert commit_only_what_was_acked([11, 12], 10, faust_answer) is None  # 10 never acked
    assert commit_only_what_was_acked([10, 11, 12], 10, faust_answer) == 13
    assert commit_only_what_was_acked([], 10, lambda: None) is None
    assert commit_only_what_was_acked([0, 1], None, lambda: 2) == 2  # nothing committed yet


def test_the_guard_wraps_faust_new_offset_on_the_consumer() -> None:
    tp = TP("mentions.raw", 1)
    consumer: Any = SimpleNamespace(
        _read_offset={},
        _acked={tp: [41, 42]},
        _committed_offset={tp: 40},
        _new_offset=lambda _tp: 43,
    )
    redeliver_after_rebalance(consumer)
    assert consumer._new_offset(tp) is None
    consumer._acked[tp] = [40, 41, 42]
    assert consumer._new_offset(tp) == 43


P0, P1, M0 = TP("mentions.raw", 0), TP("mentions.raw", 1), TP("mentions", 0)


def test_hole_is_reported_once_after_the_grace_period() -> None:
    watch = HoleWatch(grace_s=15)
    acked = {P0: [120, 121], P1: [50, 51]}
    committed = {P0: 112, P1: 50}
    assert watch.check(acked, committed, [], now=0) == []  # first sight starts the clock
    assert watch.check(acked, committed, [], now=14) == []
    assert watch.check(acked, committed, [], now=15) == [Hole(P0, 112, 120)]
    assert watch.check(acked, committed, [], now=16) == []  # clock restarts after a report


def test_no_hole_while_the_missing_offsets_are_being_processed_or_the_commit_moves() -> None:
    watch = HoleWatch(grace_s=10)
    acked = {P0: [120]}
    # offset 115 is still in a stream (e.g. waiting behind a batch after a rebalance)
    assert watch.check(acked, {P0: 112}, [(P0, 115)], now=0) == []
    assert watch.check(acked, {P0: 112}, [(P0, 115)], now=30) == []
    # the commit moved: a new observation, its own grace period
    assert watch.check(acked, {P0: 112}, [], now=40) == []
    assert watch.check(acked, {P0: 113}, [], now=45) == []
    assert watch.check(acked, {P0: 113}, [], now=54) == []
    assert watch.check(acked, {P0: 113}, [], now=55) == [Hole(P0, 113, 120)]
    # unknown commit (nothing committed yet) or in-order acks are never holes
    assert watch.check({P1: [3]}, {P1: None}, [], now=100) == []
    assert watch.check({P1: [7, 8]}, {P1: 7}, [], now=200) == []


def test_tail_hole_fetched_past_with_nothing_acked_or_in_flight() -> None:
    """The partition's last messages were fetched (position 139) but never reached a stream:
    no later ack shows the hole, the position does."""
    watch = HoleWatch(grace_s=15)
    committed = {P0: 123, P1: 40}
    positions = {P0: 139, P1: 40}  # P1 is caught up: position == commit
    assert watch.check({}, committed, [], now=0, positions=positions) == []
    assert watch.check({}, committed, [], now=15, positions=positions) == [Hole(P0, 123, 139)]
    # being processed (in flight) or acked but not yet committed: normal flow, never a hole
    watch = HoleWatch(grace_s=0)
    for _ in range(2):
        assert watch.check({}, committed, [(P0, 130)], now=0, positions=positions) == []
        assert watch.check({P0: [123, 124]}, committed, [], now=0, positions=positions) == []
    # no commit known or no position yet: nothing to compare
    assert watch.check({}, {P0: None}, [], now=1, positions={P0: 139}) == []
    assert watch.check({}, {P0: 123}, [], now=2, positions={P0: None}) == []


async def test_refetch_asks_positions_of_idle_partitions_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from prometheus_client import CollectorRegistry

    from pipeline import services
    from pipeline.metrics import TocsinMetrics

    services.override(metrics=TocsinMetrics(CollectorRegistry()))
    seeks: list[tuple[TP, int]] = []
    asked: list[TP] = []
    changelog = TP("tocsin-open_buckets-changelog", 3)

    async def seek(tp: TP, offset: int) -> None:
        seeks.append((tp, offset))

    async def position(tp: TP) -> int:
        asked.append(tp)
        if tp == M0:
            raise RuntimeError("no position while the partition is being reassigned")
        return {P0: 139, P1: 58}[tp]

    consumer: Any = SimpleNamespace(
        assignment=lambda: {P0, P1, M0, changelog},
        _unacked_messages=[],
        _acked={P0: [], P1: [58]},  # Faust keeps an empty list once a partition's acks commit
        _committed_offset={P0: 123, P1: 58, M0: 7},  # no commit for the changelog
        seek=seek,
        position=position,
    )
    watch = HoleWatch(grace_s=0)
    await refetch_holes(consumer, watch)
    holes = await refetch_holes(consumer, watch)
    assert holes == [Hole(P0, 123, 139)] and seeks == [(P0, 123)]
    assert set(asked) == {P0, M0}  # P1 has acks (the first rule's), the changelog no commit


async def test_refetch_seeks_the_partition_back_to_its_commit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from prometheus_client import CollectorRegistry

    from pipeline import services
    from pipeline.metrics import TocsinMetrics

    metrics = TocsinMetrics(CollectorRegistry())
    services.override(metrics=metrics)
    seeks: list[tuple[TP, int]] = []

    async def seek(tp: TP, offset: int) -> None:
        seeks.append((tp, offset))

    consumer: Any = SimpleNamespace(
        assignment=lambda: {P0, P1, M0},
        _unacked_messages=[SimpleNamespace(tp=P1, offset=60)],
        _acked={P0: [120, 121], P1: [62], M0: [7]},
        _committed_offset={P0: 112, P1: 58, M0: 7},
        seek=seek,
    )
    watch = HoleWatch(grace_s=0)
    await refetch_holes(consumer, watch)  # first sight
    holes = await refetch_holes(consumer, watch)
    assert holes == [Hole(P0, 112, 120)] and seeks == [(P0, 112)]  # P1's 60 is in flight
    sample = metrics.registry.get_sample_value(
        "tocsin_consumer_refetches_total", {"topic": "mentions.raw"}
    )
    assert sample == 1
    # a watched topic without holes is exported at 0 (dashboards and rules need the series)
    quiet = metrics.registry.get_sample_value(
        "tocsin_consumer_refetches_total", {"topic": "mentions"}
    )
    assert quiet == 0
