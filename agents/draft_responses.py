"""draft_responses: a firing alert -> the best holding statement from the library, as a draft.

Only the *firing* step proposes a draft (acknowledged/resolved steps do not need a statement).
The draft id comes from the alert's dedup key and the template id, so a redelivered alert proposes
the same draft and the state machine ignores the duplicate. The proposal and its ``draft_created``
event are sent by :func:`pipeline.approvals.start.start_draft`, the path the console's "Start a
draft response" takes too (there with the responder as the actor).
"""

from __future__ import annotations

import logging

from faust.types import StreamT

from pipeline import services
from pipeline.app import app
from pipeline.approvals.runtime import runtime
from pipeline.approvals.start import start_draft
from pipeline.approvals.state import Actor
from pipeline.records import Alert
from pipeline.topics import alerts

AGENT = "draft_responses"
log = logging.getLogger(__name__)


async def draft_for(alert: Alert) -> str | None:
    """Propose and send the draft for one firing alert; returns its id (None if no template)."""
    started = await start_draft(alert, Actor.system())
    if started is None:
        log.warning("no usable response template for %s/%s", alert.brand, alert.topic)
        return None
    return started.draft.id


@app.agent(alerts, name=AGENT)
async def draft_responses(stream: StreamT[Alert]) -> None:
    metrics = services.metrics()
    enabled = runtime().enabled
    if enabled:
        runtime().config  # noqa: B018 - load and validate the files before the first alert
    async for alert in stream:
        metrics.messages_in.labels(AGENT).inc()
        if not enabled or alert.state != "firing":
            continue
        if await draft_for(alert) is not None:
            metrics.messages_out.labels(AGENT).inc()
