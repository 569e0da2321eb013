"""Fetched messages handed to the agents' streams without four tasks each.

Faust's fetch loop (``Consumer._drain_messages``) hands every message over with
``await self.wait_first(callback(message), self.suspend_flow.wait())``: so that a hand-over
blocked on a full stream buffer gives way when a rebalance suspends the flow, or the consumer
stops or crashes, ``wait_first`` runs the hand-over, the suspension, the stop and the crash as
four tasks under one ``asyncio.wait``, and cancels three of them: about 34 µs of the event loop
per message, paid twice per mention (``mentions.raw``, then ``mentions.classified``), for a
hand-over (decode, put on the agents' queues) that nearly always finishes without waiting.

Here the hand-over is started at once, its first step run in the fetch loop (what Python 3.12's
eager tasks do): one that finishes in that step is done and nothing is scheduled; one that has
to wait is passed on, already started, to Faust's own ``wait_first`` with the suspension, so a
rebalance, a stop or a crash cuts it short as before. Exceptions leave where they did: from the
``wait_first`` line of the fetch loop.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Coroutine, Generator
from typing import Any

from faust.types import ConsumerT, Message
from mode.services import WaitResults


class _Finished:
    """The hand-over of a message finished in its first step."""

    __slots__ = ()


FINISHED = _Finished()


class Started:
    """A hand-over that stopped at its first wait: awaiting this resumes it there."""

    __slots__ = ("coro", "waiting")

    def __init__(self, coro: Coroutine[Any, Any, Any], waiting: Any) -> None:
        self.coro = coro
        self.waiting = waiting  # what its first step yielded to the event loop (a future, or None)

    def __await__(self) -> Generator[Any, None, None]:
        coro, waiting = self.coro, self.waiting
        while True:
            try:
                yield waiting  # the task running this waits on it, as it would for the coroutine
            except GeneratorExit:
                coro.close()
                raise
            except BaseException as exc:  # cancelled while waiting: the coroutine is told
                try:
                    waiting = coro.throw(exc)
                except StopIteration:
                    return
                continue
            try:
                waiting = coro.send(None)
            except StopIteration:
                return


Deliver = Callable[[Message], Awaitable[None]]


def started(deliver: Deliver) -> Callable[[Message], _Finished | Started]:
    """``deliver`` run up to its first wait when called: :data:`FINISHED` or :class:`Started`."""

    def start(message: Message) -> _Finished | Started:
        coro: Any = deliver(message)
        try:
            waiting = coro.send(None)
        except StopIteration:
            return FINISHED
        return Started(coro, waiting)

    return start


def deliver_eagerly(consumer: ConsumerT) -> ConsumerT:
    """Install :func:`started` as the consumer's callback and skip ``wait_first`` for what
    finished (the fetch loop reads both when it starts, after the consumer is made)."""
    state: Any = consumer
    state.callback = started(state.callback)
    faust_wait_first: Callable[..., Awaitable[WaitResults]] = state.wait_first

    async def wait_first(*coros: Any, timeout: Any = None) -> WaitResults:  # noqa: ASYNC109
        if coros and coros[0] is FINISHED:
            for other in coros[1:]:
                if inspect.iscoroutine(other):
                    other.close()  # the suspension's wait, never started
            return WaitResults([FINISHED], [None], False)
        return await faust_wait_first(*coros, timeout=timeout)

    state.wait_first = wait_first
    return consumer
