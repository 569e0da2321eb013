"""publish_responses: a fully approved response -> the publish webhook and the incident's thread.

Before anything leaves, the text is checked twice (``pipeline.approvals.publish``): its hash must
equal the hash in the request *and* the approved hash in the approval state (the table
``apply_decisions`` writes). A mismatch is refused, audited and counted; nothing is sent. Each
target is delivered at most once per draft (the ``publications`` table); every attempt leaves a
receipt on ``responses.published``; when every configured target has the text, a ``published``
event goes to ``responses.decisions`` and the state machine closes the draft.
"""

from __future__ import annotations

from faust.types import StreamT

from pipeline import services
from pipeline.app import app
from pipeline.approvals.decisions import load_state
from pipeline.approvals.publish import (
    conflict,
    mismatch,
    publish,
    published,
    refusal,
    retry_policy,
    targets,
)
from pipeline.approvals.runtime import runtime
from pipeline.records import ApprovedRecord, PublishReceipt
from pipeline.tables import approvals, publications
from pipeline.topics import (
    response_approved,
    response_audit,
    response_decisions,
    response_published,
)

AGENT = "publish_responses"


async def refuse(request: ApprovedRecord, why: str) -> None:
    metrics = services.metrics()
    for target in targets():
        metrics.publications.labels(target.name, "refused_mismatch").inc()
    await response_audit.send(key=request.draft_id, value=refusal(request, why))


async def send_receipt(receipt: PublishReceipt) -> None:
    services.metrics().publications.labels(receipt.target, receipt.outcome).inc()
    await response_published.send(key=receipt.draft_id, value=receipt)


@app.agent(response_approved, name=AGENT)
async def publish_responses(stream: StreamT[ApprovedRecord]) -> None:
    metrics = services.metrics()
    policy = retry_policy()
    async for request in stream:
        metrics.messages_in.labels(AGENT).inc()
        if not runtime().enabled:
            continue
        state = load_state(approvals.get(request.draft_id))
        why = mismatch(request, state) or conflict(request, publications.get(request.draft_id))
        if why is not None:
            await refuse(request, why)
            continue
        to = targets()
        results = await publish(request, to, policy, book=publications, on_receipt=send_receipt)
        if (closing := published(request, to, results)) is not None:
            await response_decisions.send(key=request.draft_id, value=closing)
            metrics.messages_out.labels(AGENT).inc()
