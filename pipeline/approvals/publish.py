"""The publish step: which receivers take a fully approved response, the one rule they obey, and
the deliver-once loop over them.

The rule: **never publish a text whose hash differs from the approved hash**. :func:`check_text`
recomputes the hash of the exact bytes about to leave and raises :class:`TextMismatch` when it
differs; every response receiver runs it as its ``guard`` before any request is built. Before
that, :func:`mismatch` compares the request with the approval state (the text and the approved
hash) and :func:`conflict` with what was already published for the draft; a refused request
leaves one audit record (:func:`refusal`) and nothing is sent. The receivers themselves (the
publish webhook, the incident's Slack thread) live with the alert receivers in
``pipeline/delivery/receivers/``, and share their retry, receipts and idempotency.

:func:`publish` delivers to each target at most once per draft: the ``publications`` book (passed
in; draft id -> ``{"hash", "targets"}``) remembers which targets took the text, so a redelivered
request after a restart skips them; the window between a target accepting and the book write is
closed by the idempotency key the publish endpoint de-duplicates on.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from datetime import UTC, datetime
from typing import Any

import httpx

from pipeline import services
from pipeline.approvals.audit import Origin, make_entry, text_hash
from pipeline.approvals.flow import audit_record, decision
from pipeline.approvals.runtime import runtime
from pipeline.approvals.state import Actor, DraftState, Published
from pipeline.delivery.once import deliver_once
from pipeline.delivery.receivers.base import ResponseReceiver, response_key
from pipeline.delivery.receivers.publish_webhook import PublishWebhookReceiver, publish_body
from pipeline.delivery.receivers.slack_thread import SlackThreadReceiver
from pipeline.delivery.retry import RetryPolicy, Sleep
from pipeline.delivery.slack_web import SlackWebClient
from pipeline.errors import TocsinError
from pipeline.records import ApprovedRecord, AuditRecord, DecisionRecord, PublishReceipt
from pipeline.settings import Settings

log = logging.getLogger(__name__)
ReceiptSink = Callable[[PublishReceipt], Awaitable[None]]

TARGET_WEBHOOK = PublishWebhookReceiver.name
TARGET_SLACK = SlackThreadReceiver.name


class TextMismatch(TocsinError):
    """The text about to be published is not the text that was approved; nothing was sent."""


def check_text(approved: ApprovedRecord, hasher: Callable[[str], str] = text_hash) -> None:
    """Raise :class:`TextMismatch` unless ``approved.text`` hashes to ``approved.text_hash``."""
    if hasher(approved.text) != approved.text_hash:
        raise TextMismatch(f"draft {approved.draft_id}: text hash differs from the approved hash")


def idempotency_key(approved: ApprovedRecord) -> str:
    return response_key(approved)


def response_receivers(cfg: Settings, client: httpx.AsyncClient) -> list[ResponseReceiver]:
    """The configured publish targets: the webhook, and the Slack thread when a bot is set."""
    out: list[ResponseReceiver] = []
    if cfg.publish_webhook_url is not None and cfg.publish_webhook_secret is not None:
        out.append(
            PublishWebhookReceiver(
                cfg.publish_webhook_url, cfg.publish_webhook_secret, client, guard=check_text
            )
        )
    if cfg.slack_bot_token is not None and cfg.slack_channel is not None:
        out.append(
            SlackThreadReceiver(
                SlackWebClient(
                    cfg.slack_bot_token, cfg.slack_channel, client, api_url=cfg.slack_api_url
                ),
                guard=check_text,
            )
        )
    return out


def targets() -> list[ResponseReceiver]:
    """This worker's publish targets, on the approvals' shared HTTP client."""
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


def conflict(request: ApprovedRecord, published: Mapping[str, Any] | None) -> str | None:
    """Why not, when the draft's ``publications`` entry holds another text (None: go ahead)."""
    if (published or {}).get("hash") not in (None, request.text_hash):
        return "a different text was already published for this draft"
    return None


def refusal(request: ApprovedRecord, why: str) -> AuditRecord:
    """The audit record of a refused publication (logged as an error)."""
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
    log.error("refused to publish %s: %s", request.draft_id, why)
    return audit_record(entry)


async def publish(
    request: ApprovedRecord,
    to: list[ResponseReceiver],
    policy: RetryPolicy,
    *,
    book: MutableMapping[str, Any],
    on_receipt: ReceiptSink,
    sleep: Sleep = asyncio.sleep,
) -> dict[str, bool]:
    """Deliver the approved text to every target not reached yet; target name -> delivered.

    ``book`` is the ``publications`` table (written after each target that takes the text);
    ``on_receipt`` gets one receipt per attempt.
    """
    done: dict[str, str] = dict((book.get(request.draft_id) or {}).get("targets", {}))
    results: dict[str, bool] = {}
    for target in to:

        async def receipt(
            attempt: int,
            outcome: str,
            status: int | None,
            error: str | None,
            target: ResponseReceiver = target,
        ) -> None:
            await on_receipt(
                PublishReceipt(
                    draft_id=request.draft_id,
                    target=target.name,
                    attempt=attempt,
                    outcome=outcome,
                    status_code=status,
                    at=datetime.now(UTC),
                    text_hash=request.text_hash,
                    error=error,
                )
            )

        ok = await deliver_once(
            done,
            target.name,
            sender(target, request),
            policy=policy,
            on_attempt=receipt,
            sleep=sleep,
        )
        results[target.name] = ok
        if ok:
            book[request.draft_id] = {"hash": request.text_hash, "targets": done}
    return results


def sender(
    target: ResponseReceiver, request: ApprovedRecord
) -> Callable[[], Awaitable[int | None]]:
    """One attempt at ``target``: a rate-limit token, then the request."""

    async def send() -> int | None:
        await target.throttle()
        return await target.send(request)

    return send


def published(
    request: ApprovedRecord, to: list[ResponseReceiver], results: Mapping[str, bool]
) -> DecisionRecord | None:
    """The ``published`` decision that closes the draft, once every target has the text."""
    if not to or not all(results.get(t.name) for t in to):
        return None
    names = "+".join(t.name for t in to)
    return decision(Published(request.text_hash, names), Actor.system(), request.draft_id)


__all__ = [
    "TARGET_SLACK",
    "TARGET_WEBHOOK",
    "TextMismatch",
    "check_text",
    "conflict",
    "idempotency_key",
    "mismatch",
    "publish",
    "publish_body",
    "published",
    "refusal",
    "response_receivers",
    "retry_policy",
    "targets",
]
