"""escalate_alerts: a timer that emits due escalation steps (``pipeline.oncall.escalate``)."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

from pipeline import services
from pipeline.app import app
from pipeline.oncall.dispatch import routing_tree
from pipeline.oncall.escalate import escalate_once

log = logging.getLogger(__name__)


@app.task  # type: ignore[untyped-decorator]  # faust.App.task is not typed
async def escalate_alerts() -> None:
    tree = routing_tree(services.receivers())
    if tree is None or not tree.escalation_policies:
        return  # nothing can escalate without a routing file that defines a policy
    tick = services.settings().escalation_tick_s
    emitted: set[str] = set()  # this process's emissions; the alert book dedups across restarts
    while True:
        await asyncio.sleep(tick)
        if app.rebalancing:
            continue
        count = await escalate_once(tree, datetime.now(UTC), emitted)
        if count:
            log.info("escalated %d alert step(s)", count)
