"""draft_responses: a firing alert -> the best holding statement from the library, as a draft.

Only the *firing* step proposes a draft (acknowledged/resolved steps do not need a statement).
The draft id comes from the alert's dedup key and the template id, so a redelivered alert proposes
the same draft and the state machine ignores the duplicate. The draft is created by sending a
``draft_created`` event to ``responses.decisions`` (the one writer of the approval table is
``apply_decisions``), with the alert context the reviewers will see; the proposal itself, with
the runner-up templates, also goes to ``responses.drafts`` as a record of what was offered.
"""

from __future__ import annotations

import logging

from faust.types import StreamT

from pipeline import services
from pipeline.app import app
from pipeline.approvals.flow import draft_records
from pipeline.approvals.runtime import runtime
from pipeline.records import Alert
from pipeline.topics import alerts, response_decisions, response_drafts

AGENT = "draft_responses"
log = logging.getLogger(__name__)


async def draft_for(alert: Alert) -> str | None:
    """Propose and send the draft for one firing alert; returns its id (None if no template)."""
    made = draft_records(alert, runtime().config, link=services.settings().response_info_url)
    if made is None:
        log.warning("no usable response template for %s/%s", alert.brand, alert.topic)
        return None
    draft, created = made
    await response_drafts.send(key=draft.draft_id, value=draft)
    await response_decisions.send(key=draft.draft_id, value=created)
    return draft.draft_id


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
