"""Hand-overs that finish at once skip ``wait_first``; the others keep its guarantees
(``pipeline.eager_delivery``).

The consumer here is a real ``mode.Service`` (Faust's consumer is one: ``wait_first`` is the
Service's own) whose callback puts a message on a bounded queue, as Faust's conductor puts an
event on a stream's buffer; the calls are the fetch loop's:
``await consumer.wait_first(consumer.callback(message), suspend_flow.wait())``.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from mode import Service
from mode.utils.locks import Event

from pipeline.eager_delivery import FINISHED, Started, deliver_eagerly


class Consumer(Service):
    """Faust's consumer as far as its fetch loop uses it: a callback and ``wait_first``."""

    def __init__(self, queue: asyncio.Queue[Any]) -> None:
        super().__init__()
        self.queue = queue
        self.steps: list[str] = []
        self.callback = self.put

    async def put(self, message: Any) -> None:
        if message == "bad":
            raise ValueError("undecodable")
        try:
            await self.queue.put(message)  # waits while the stream's buffer is full
            self.steps.append(f"put {message}")
        except asyncio.CancelledError:
            self.steps.append(f"cancelled {message}")
            raise


def fake(room: int) -> Any:
    """A consumer with the eager hand-over installed, its stream's buffer ``room`` deep."""
    consumer: Any = Consumer(asyncio.Queue(maxsize=room))
    return deliver_eagerly(consumer)


async def hand_over(consumer: Any, suspend: Event, message: Any) -> None:
    await consumer.wait_first(consumer.callback(message), suspend.wait())


async def test_a_hand_over_with_room_finishes_without_a_task() -> None:
    consumer = fake(4)
    before = len(asyncio.all_tasks())
    started = consumer.callback("m1")
    assert started is FINISHED and consumer.steps == ["put m1"]
    assert len(asyncio.all_tasks()) == before
    await hand_over(consumer, Event(), "m2")
    assert consumer.queue.qsize() == 2 and consumer.steps == ["put m1", "put m2"]


async def test_a_hand_over_that_waits_is_resumed_when_there_is_room() -> None:
    consumer = fake(1)
    await hand_over(consumer, Event(), "m1")
    waiting = asyncio.ensure_future(hand_over(consumer, Event(), "m2"))
    await asyncio.sleep(0.01)
    assert not waiting.done() and consumer.steps == ["put m1"]
    assert consumer.queue.get_nowait() == "m1"  # the stream takes one: room again
    await asyncio.wait_for(waiting, 1)
    assert consumer.steps == ["put m1", "put m2"] and consumer.queue.get_nowait() == "m2"


async def test_a_suspension_cuts_a_waiting_hand_over_short() -> None:
    consumer = fake(1)
    suspend = Event()
    await hand_over(consumer, suspend, "m1")
    waiting = asyncio.ensure_future(hand_over(consumer, suspend, "m2"))
    await asyncio.sleep(0.01)
    suspend.set()  # a rebalance: the fetch loop must not stay blocked on a full buffer
    await asyncio.wait_for(waiting, 1)
    await asyncio.sleep(0)
    assert consumer.steps == ["put m1", "cancelled m2"]
    assert consumer.queue.qsize() == 1


async def test_errors_leave_from_the_fetch_loop_call() -> None:
    consumer = fake(1)
    with pytest.raises(ValueError, match="undecodable"):
        await hand_over(consumer, Event(), "bad")


async def test_started_resumes_the_coroutine_it_was_given() -> None:
    """Awaiting :class:`Started` runs the rest of a coroutine stopped at its first wait."""
    gate: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    async def two_steps() -> None:
        got.append(await gate)
        await asyncio.sleep(0)
        got.append("after")

    got: list[str] = []
    coro = two_steps()
    resumed = Started(coro, coro.send(None))
    task = asyncio.ensure_future(resumed)
    gate.set_result("opened")
    await asyncio.wait_for(task, 1)
    assert got == ["opened", "after"]
