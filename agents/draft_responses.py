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
from pipeline.approvals.drafts import propose
from pipeline.approvals.flow import alert_context, decision, utcnow
from pipeline.approvals.runtime import runtime
from pipeline.approvals.state import Actor, DraftCreated
from pipeline.records import Alert, DraftRecord
from pipeline.topics import alerts, response_decisions, response_drafts

AGENT = "draft_responses"
log = logging.getLogger(__name__)


async def draft_for(alert: Alert) -> str | None:
    """Propose and send the draft for one firing alert; returns its id (None if no template)."""
    cfg = runtime().config
    proposals = propose(
        alert,
        cfg.library,
        brands=cfg.brands,
        today=utcnow().date(),
        link=services.settings().response_info_url,
    )
    if not proposals:
        log.warning("no usable response template for %s/%s", alert.brand, alert.topic)
        return None
    best = proposals[0]
    context = {
        **alert_context(alert),
        "alternatives": [{"template_id": d.template_id, "text": d.text} for d in proposals[1:]],
    }
    await response_drafts.send(
        key=best.id,
        value=DraftRecord(
            draft_id=best.id,
            alert_key=alert.dedup_key,
            created_at=utcnow(),
            draft=best.to_dict(),
            alert=context,
        ),
    )
    await response_decisions.send(
        key=best.id,
        value=decision(DraftCreated(best), Actor.system(), best.id, context=context),
    )
    return best.id


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
