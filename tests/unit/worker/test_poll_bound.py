"""A consumer poll never overfills an agent's stream buffer (``pipeline.app.poll_records``).

Faust's conductor puts a poll's records into each agent's buffer (mode's ``FlowControlQueue``)
one at a time: past the high-pressure mark it stops the partition's fetching but keeps taking what
the poll holds, and only a *full* buffer makes it wait, which holds the fetch loop and so every
other agent. These tests feed the worker's real settings through the real queue class the way the
conductor does.
"""

from __future__ import annotations

from typing import Any

from faust.types import TP
from mode.utils.queues import FlowControlEvent, FlowControlQueue

from pipeline.app import FAUST_STREAM_BUFFER_MAXSIZE, app, faust_env, poll_records
from pipeline.topology import RAW


def deliver_polls(maxsize: int, per_poll: int, partitions: int) -> tuple[int, set[TP], int]:
    """Polls of ``per_poll`` records per partition, delivered as Faust's conductor delivers them.

    The buffer starts one event under its high-pressure mark with every partition fetching (the
    fullest it can be when a poll is asked for); each poll brings one partition's records, the
    worst case for the mark, which pauses only the partitions that reach it. Returns the times
    the conductor would have had to wait for room, the partitions paused, and the final size.
    """
    queue: FlowControlQueue[Any] = FlowControlQueue(maxsize, flow_control=FlowControlEvent())
    for _ in range(queue.pressure_high_size - 1):
        queue.force_put_nowait(None)
    tps = [TP("mentions.raw", p) for p in range(partitions)]
    paused: set[TP] = set()
    # one pair of callbacks per partition, made once, as ConductorCompiler.build makes them
    on_high = {tp: (lambda tp=tp: paused.add(tp)) for tp in tps}
    on_drop = {tp: (lambda tp=tp: paused.discard(tp)) for tp in tps}
    waits = 0
    for tp in tps:  # one poll per partition, each after the previous one went in
        for _ in range(per_poll):
            if queue.full():  # conductor.py: ``await chan.put(event)``, the whole loop waits
                waits += 1
                queue.get_nowait()  # (the agent makes room)
            queue.put_nowait_enhanced(
                None, on_pressure_high=on_high[tp], on_pressure_drop=on_drop[tp]
            )
    return waits, paused, queue.qsize()


def test_the_worker_bounds_each_poll_to_the_room_above_the_mark() -> None:
    per_poll = app.conf.broker_max_poll_records
    maxsize = app.conf.stream_buffer_maxsize
    assert per_poll is not None, "an unbounded poll holds a partition's whole backlog"
    waits, paused, size = deliver_polls(maxsize, per_poll, RAW.partitions)
    assert waits == 0
    assert size <= maxsize
    assert paused == {TP("mentions.raw", p) for p in range(RAW.partitions)}


def test_an_unbounded_poll_makes_the_fetch_loop_wait_for_the_agent() -> None:
    """Faust's default (no bound) with the poll measured in the stall: 10,000 records per raw
    partition, all handed over at once; nearly all of them wait for the agent, one at a time."""
    waits, _, size = deliver_polls(FAUST_STREAM_BUFFER_MAXSIZE, 10_000, 4)
    assert size == FAUST_STREAM_BUFFER_MAXSIZE
    # every record beyond the buffer's size waited: 3275 already in, 40,000 handed over
    assert waits == 3275 + 4 * 10_000 - FAUST_STREAM_BUFFER_MAXSIZE


def test_the_bound_follows_the_buffer_size_and_the_partitions() -> None:
    assert poll_records(4096, 4) == (4096 - 3276) // 4
    assert poll_records(8192, 4) == (8192 - 6553) // 4
    assert poll_records(4096, 12) == (4096 - 3276) // 12
    assert poll_records(10, 64) == 1


def test_an_operator_setting_wins() -> None:
    assert faust_env({"BROKER_MAX_POLL_RECORDS": "50"})["BROKER_MAX_POLL_RECORDS"] == "50"
    env = faust_env({"STREAM_BUFFER_MAXSIZE": "8192"})
    assert env["BROKER_MAX_POLL_RECORDS"] == str(poll_records(8192, RAW.partitions))
    assert faust_env({})["BROKER_MAX_POLL_RECORDS"] == str(
        poll_records(FAUST_STREAM_BUFFER_MAXSIZE, RAW.partitions)
    )
