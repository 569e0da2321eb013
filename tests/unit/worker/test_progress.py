"""The mention-path stall watch behind /healthz (pipeline/worker/progress.py)."""

from __future__ import annotations

import pytest

from pipeline.worker.progress import ProgressWatch

RAW0 = ("mentions.raw", 0)
CLS1 = ("mentions.classified", 1)
ALERTS0 = ("alerts", 0)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def test_records_waiting_without_committed_progress_for_the_limit_is_a_stall(
    clock: Clock,
) -> None:
    watch = ProgressWatch(300, clock=clock)
    for _ in range(20):  # 15 s readings, offset frozen at 500 with 1,000 waiting
        watch.observe({RAW0: 500, CLS1: 80}, {RAW0: 1000, CLS1: 0})
        clock.now += 15
    assert watch.stalled() == [RAW0]


def test_just_under_the_limit_is_not_a_stall(clock: Clock) -> None:
    watch = ProgressWatch(300, clock=clock)
    watch.observe({RAW0: 500}, {RAW0: 1000})
    clock.now += 299
    watch.observe({RAW0: 500}, {RAW0: 1000})
    assert watch.stalled() == []
    clock.now += 1
    assert watch.stalled() == [RAW0]


def test_committed_progress_restarts_the_clock(clock: Clock) -> None:
    watch = ProgressWatch(300, clock=clock)
    offset = 0
    for _ in range(40):  # a slow consumer: 10 records per reading, backlog never drains
        watch.observe({RAW0: offset}, {RAW0: 100_000 - offset})
        clock.now += 15
        offset += 10
    assert watch.stalled() == []


def test_an_idle_partition_with_nothing_waiting_is_never_stalled(clock: Clock) -> None:
    watch = ProgressWatch(300, clock=clock)
    for _ in range(100):
        watch.observe({RAW0: 7, CLS1: 9}, {RAW0: 0, CLS1: 0})
        clock.now += 15
    assert watch.stalled() == []


def test_partitions_outside_the_mention_path_are_not_judged(clock: Clock) -> None:
    """Delivery waits out a receiver outage with alerts pending: not a freeze."""
    watch = ProgressWatch(300, clock=clock)
    for _ in range(100):
        watch.observe({ALERTS0: 3}, {ALERTS0: 12})
        clock.now += 15
    assert watch.stalled() == []


def test_a_pause_forgets_the_clocks(clock: Clock) -> None:
    """A rebalance, the model loading or the broker away: the clocks start again afterwards."""
    watch = ProgressWatch(300, clock=clock)
    watch.observe({RAW0: 5}, {RAW0: 50})
    clock.now += 290
    watch.pause()
    clock.now += 20
    watch.observe({RAW0: 5}, {RAW0: 50})
    assert watch.stalled() == []
    clock.now += 300
    assert watch.stalled() == [RAW0]


def test_a_revoked_partition_is_forgotten(clock: Clock) -> None:
    watch = ProgressWatch(300, clock=clock)
    watch.observe({RAW0: 5, CLS1: 1}, {RAW0: 50, CLS1: 4})
    clock.now += 400
    watch.observe({CLS1: 2}, {CLS1: 4})
    assert watch.stalled() == []


def test_zero_turns_the_check_off(clock: Clock) -> None:
    watch = ProgressWatch(0, clock=clock)
    watch.observe({RAW0: 5}, {RAW0: 50})
    clock.now += 10_000
    watch.observe({RAW0: 5}, {RAW0: 50})
    assert watch.stalled() == []


def test_a_stall_and_its_end_are_logged_once_each(
    clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    watch = ProgressWatch(60, clock=clock)
    watch.observe({RAW0: 5}, {RAW0: 50})
    clock.now += 61
    for _ in range(3):
        watch.stalled()
    watch.observe({RAW0: 6}, {RAW0: 49})
    for _ in range(3):
        watch.stalled()
    messages = [r.getMessage() for r in caplog.records]
    assert sum("stalled" in m for m in messages) == 1
    assert sum("moving again" in m for m in messages) == 1
