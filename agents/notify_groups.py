"""notify_groups: group commands -> grouped notifications (``pipeline.oncall.group_notices``)."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Any

from faust.types import StreamT

from pipeline import services
from pipeline.app import app
from pipeline.oncall.dispatch import dead_letter_sink, retry_policy, routing_tree, secrets
from pipeline.oncall.group_notices import (
    State,
    command_problem,
    flushes_due,
    handle,
    receipt_hook,
)
from pipeline.records import GroupCommand
from pipeline.tables import alert_groups
from pipeline.topics import alert_groups_topic, dead_letter_message

AGENT = "notify_groups"
INVALID = "invalid_group_command"
TICK_S = 1.0  # how often the timer looks for due groups


@app.agent(alert_groups_topic, name=AGENT)
async def notify_groups(stream: StreamT[GroupCommand]) -> None:
    metrics = services.metrics()
    receivers = services.receivers()
    policy = retry_policy()
    tree = routing_tree(receivers)
    receipt = receipt_hook()
    masked = secrets()
    async for event in stream.events():
        metrics.messages_in.labels(AGENT).inc()
        command: GroupCommand = event.value
        problem = command_problem(command)
        if problem is not None:
            await dead_letter_message(event.message, INVALID, problem)
            continue
        group = command.group

        def save(state: State, group: str = group) -> None:
            alert_groups[group] = state

        await handle(
            command,
            dict(alert_groups[group]),
            receivers,
            policy,
            tree=tree,
            save=save,
            receipt=receipt,
            dead_letters=dead_letter_sink,
            now=time.time(),
            masked=masked,
        )
        metrics.messages_out.labels(AGENT).inc()


@app.task  # type: ignore[untyped-decorator]  # faust.App.task is not typed
async def flush_groups() -> None:
    tree = routing_tree(services.receivers())
    if tree is None:
        return  # no routing file: nothing is ever grouped
    emitted: dict[str, tuple[Any, float]] = {}
    while True:
        await asyncio.sleep(TICK_S)
        if app.rebalancing:
            continue
        now = time.time()
        for group in flushes_due(list(alert_groups.items()), now, emitted):
            at = datetime.fromtimestamp(now, UTC)
            await alert_groups_topic.send(
                key=group, value=GroupCommand(group=group, action="flush", at=at)
            )
