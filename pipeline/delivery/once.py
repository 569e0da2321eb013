"""Deliver once: one outbound step to one receiver, skipped if it already went, marked when it goes.

Alert dispatch (``pipeline/oncall/dispatch.py``: marks ``<step>/<receiver>`` in the alert book)
and the publishing of approved responses (``pipeline/approvals/publish.py``: marks ``<receiver>`` in
the ``publications`` table) both keep, in a changelog-backed table, which receivers already took a
step. :func:`deliver_once` is the loop body they share: skip a marked step, else retry it with
:func:`~pipeline.delivery.retry.retry_call` (backoff, ``Retry-After``, a receipt per attempt)
and mark it when delivered. The caller writes the marks back to its table; the window between a
receiver accepting and that write is closed by the idempotency key, the same on every attempt.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, MutableMapping
from datetime import UTC, datetime

from pipeline.delivery.retry import AttemptHook, RetryPolicy, Sleep, retry_call

Send = Callable[[], Awaitable["int | None"]]


async def deliver_once(
    done: MutableMapping[str, str],
    mark: str,
    send: Send,
    *,
    policy: RetryPolicy,
    on_attempt: AttemptHook,
    on_duplicate: Callable[[], None] | None = None,
    sleep: Sleep = asyncio.sleep,
) -> bool:
    """True if the step is delivered, now or before (``mark`` in ``done``: nothing is sent).

    On delivery ``done[mark]`` is set to the time (ISO 8601, UTC); the caller persists ``done``.
    """
    if mark in done:
        if on_duplicate is not None:
            on_duplicate()
        return True
    ok = await retry_call(send, policy=policy, on_attempt=on_attempt, sleep=sleep)
    if ok:
        done[mark] = datetime.now(UTC).isoformat()
    return ok
