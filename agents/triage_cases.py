"""triage_cases: classified ``adverse_event`` mentions -> an ``open`` event per case on ``pv.cases``.

Every mention the classifier tags ``adverse_event`` is assessed for the four minimum criteria
(``pipeline.pv.triage``) and opens its case (``pipeline.pv.intake.case_event``), keyed by the
case id so ``track_cases`` keeps it on one partition. The case id comes from the mention id: a
mention re-read after a restart sends the same ``open``, which ``track_cases`` ignores.
"""

from __future__ import annotations

import asyncio
from zoneinfo import ZoneInfo

from faust.types import StreamT

from pipeline import services
from pipeline.app import app
from pipeline.pv import events
from pipeline.pv.intake import case_event, markets, triage
from pipeline.records import ClassifiedMention
from pipeline.topics import classified

AGENT = "triage_cases"


@app.agent(classified, name=AGENT)
async def triage_cases(stream: StreamT[ClassifiedMention]) -> None:
    metrics = services.metrics()
    # the lexicon takes seconds of CPU to build: on a model thread, not the event loop
    rules = await asyncio.get_running_loop().run_in_executor(services.executor(), triage)
    tz, regions = ZoneInfo(services.settings().pv_timezone), markets()
    async for item in stream:
        metrics.messages_in.labels(AGENT).inc()
        event = case_event(item, rules, tz, regions)
        if event is None:
            continue
        assert event.case is not None
        metrics.pv_cases.labels(event.case["status"]).inc()
        await events.send(event)
        metrics.messages_out.labels(AGENT).inc()
