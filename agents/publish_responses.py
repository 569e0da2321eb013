"""publish_responses: a fully approved response -> the publish webhook and the incident's thread.

Before anything leaves, the text is checked twice: its hash must equal the hash in the request
*and* the approved hash in the approval state (the table ``apply_decisions`` writes). A mismatch
is refused, audited and counted; nothing is sent. Each target is delivered at most once per draft:
``publications`` (changelog-backed, keyed by draft id) remembers which targets took the text, so a
redelivered request after a restart skips them; the window between a target accepting and the
table write is closed by the idempotency key the publish endpoint de-duplicates on. Every attempt
leaves a receipt on ``responses.published``; when every configured target has the text, a
``published`` event goes to ``responses.decisions`` and the state machine closes the draft.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from faust.types import StreamT

from pipeline import services
from pipeline.app import app
from pipeline.approvals.audit import Origin, make_entry
from pipeline.approvals.flow import audit_record, decision
from pipeline.approvals.publish import TextMismatch, check_text, response_receivers
from pipeline.approvals.runtime import runtime
from pipeline.approvals.state import Actor, DraftState, Published
from pipeline.delivery.once import deliver_once
from pipeline.delivery.receivers.base import ResponseReceiver
from pipeline.delivery.retry import RetryPolicy
from pipeline.records import ApprovedRecord, PublishReceipt
from pipeline.tables import approvals, publications
from pipeline.topics import (
    response_approved,
    response_audit,
    response_decisions,
    response_published,
)

AGENT = "publish_responses"
log = logging.getLogger(__name__)

Target = ResponseReceiver


def targets() -> list[Target]:
    """The configured publish targets: the webhook, and the Slack thread when a bot is set."""
    return response_receivers(services.settings(), runtime().http)


def retry_policy() -> RetryPolicy:
    return RetryPolicy.from_settings(services.settings())


def mismatch(request: ApprovedRecord, state: DraftState | None) -> str | None:
    """Why this text must not be published (None when it is exactly the approved text)."""
    try:
        check_text(request)
    except TextMismatch as exc:
        return str(exc)
    if state is None or state.approved_hash is None:
        return "no approved state for this draft"
    if request.text_hash != state.approved_hash or request.text != state.draft.text:
        return "the text differs from the approved text"
    return None


async def refuse(request: ApprovedRecord, why: str) -> None:
    metrics = services.metrics()
    for target in targets():
        metrics.publications.labels(target.name, "refused_mismatch").inc()
    entry = make_entry(
        at=datetime.now(UTC),
        actor="system",
        action="publish",
        draft_id=request.draft_id,
        origin=Origin.system(),
        outcome="refused",
        reason="publish_mismatch",
        detail=why,
        text=request.text,
        with_text=True,
    )
    await response_audit.send(key=request.draft_id, value=audit_record(entry))
    log.error("refused to publish %s: %s", request.draft_id, why)


async def publish(
    request: ApprovedRecord,
    to: list[Target],
    policy: RetryPolicy,
    sleep: Callable[[float], Awaitable[None]] | None = None,
) -> dict[str, bool]:
    """Deliver the approved text to every target not reached yet; target name -> delivered."""
    metrics = services.metrics()
    book = dict(publications[request.draft_id])
    if book.get("hash") not in (None, request.text_hash):
        await refuse(request, "a different text was already published for this draft")
        return {}
    done: dict[str, str] = dict(book.get("targets", {}))
    results: dict[str, bool] = {}
    for target in to:

        async def receipt(
            attempt: int,
            outcome: str,
            status: int | None,
            error: str | None,
            target: Target = target,
        ) -> None:
            metrics.publications.labels(target.name, outcome).inc()
            await response_published.send(
                key=request.draft_id,
                value=PublishReceipt(
                    draft_id=request.draft_id,
                    target=target.name,
                    attempt=attempt,
                    outcome=outcome,
                    status_code=status,
                    at=datetime.now(UTC),
                    text_hash=request.text_hash,
                    error=error,
                ),
            )

        ok = await deliver_once(
            done,
            target.name,
            sender(target, request),
            policy=policy,
            on_attempt=receipt,
            sleep=sleep or asyncio.sleep,
        )
        results[target.name] = ok
        if ok:
            publications[request.draft_id] = {"hash": request.text_hash, "targets": done}
    return results


def sender(target: Target, request: ApprovedRecord) -> Callable[[], Awaitable[int | None]]:
    """One attempt at ``target``: a rate-limit token, then the request."""

    async def send() -> int | None:
        await target.throttle()
        return await target.send(request)

    return send


@app.agent(response_approved, name=AGENT)
async def publish_responses(stream: StreamT[ApprovedRecord]) -> None:
    metrics = services.metrics()
    policy = retry_policy()
    async for request in stream:
        metrics.messages_in.labels(AGENT).inc()
        if not runtime().enabled:
            continue
        raw = approvals.get(request.draft_id)
        state = DraftState.from_dict(raw) if raw else None
        why = mismatch(request, state)
        if why is not None:
            await refuse(request, why)
            continue
        to = targets()
        results = await publish(request, to, policy)
        if to and all(results.get(t.name) for t in to):
            names = "+".join(t.name for t in to)
            await response_decisions.send(
                key=request.draft_id,
                value=decision(
                    Published(request.text_hash, names), Actor.system(), request.draft_id
                ),
            )
            metrics.messages_out.labels(AGENT).inc()
