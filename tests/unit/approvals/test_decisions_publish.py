"""The approval agents' domain steps: applying a decision record, and the publish loop."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from pipeline import services
from pipeline.approvals.audit import text_hash
from pipeline.approvals.decisions import Applied, count_pending, decide_record
from pipeline.approvals.drafts import Draft
from pipeline.approvals.flow import decision
from pipeline.approvals.publish import check_text, conflict, publish, published, refusal
from pipeline.approvals.runtime import runtime
from pipeline.approvals.state import Actor, Approved, DraftCreated, DraftState
from pipeline.delivery.receivers.base import ResponseReceiver
from pipeline.delivery.receivers.publish_webhook import PublishWebhookReceiver
from pipeline.delivery.retry import RetryPolicy
from pipeline.records import ApprovedRecord, PublishReceipt
from pipeline.settings import make_settings

AT = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def approvals_on() -> None:
    services.override(settings=make_settings(approval_link_secret="unit-link-secret-123"))


def _draft() -> Draft:
    return Draft(
        id="d-dec",
        alert_key="brenmoor:pricing:x",
        brand="brenmoor",
        topic="pricing",
        severity="warning",
        template_id="pricing.access.en",
        language="en",
        text="We hear you.",
        template_text="We hear you.",
        template_requires_review=False,
    )


def _apply(event: Any, state: DraftState | None, actor: Actor | None = None) -> Applied:
    record = decision(event, actor or Actor.system(), "d-dec", at=AT, context={"summary": "s"})
    return decide_record(record, state, runtime().config.policy)


def _exec() -> Actor:
    return Actor.of(runtime().config.users.get("e.lindqvist"), "web")


def test_a_new_draft_is_stored_with_its_alert_context_and_not_published() -> None:
    created = _apply(DraftCreated(_draft()), None)
    assert created.accepted and created.changed
    assert created.current is not None and created.current.extra["alert"] == {"summary": "s"}
    assert [r.draft_id for r in created.audit] == ["d-dec"] * len(created.entries)
    assert created.approved is None and created.metric_action is None
    assert count_pending([created.current.to_dict(), None, {"status": "rejected"}]) == 1


def test_the_approval_that_completes_a_draft_hands_it_to_publishing_once() -> None:
    state = _apply(DraftCreated(_draft()), None).current
    assert state is not None
    approved = _apply(Approved(1, state.text_hash), state, _exec())
    assert approved.accepted and approved.metric_action == "approve"
    request = approved.approved
    assert request is not None and request.text == "We hear you."
    assert request.text_hash == text_hash("We hear you.")
    again = _apply(Approved(2, state.text_hash), approved.current, _exec())
    assert again.approved is None  # already approved: never a second publish request


def test_a_refused_decision_keeps_the_state_and_carries_its_reason() -> None:
    state = _apply(DraftCreated(_draft()), None).current
    refused = _apply(Approved(1, "not-the-hash"), state, _exec())
    assert not refused.accepted and not refused.changed
    assert refused.current is state and refused.approved is None
    assert refused.refusal == refused.entries[0].reason and refused.refusal
    assert not refused.escalated
    assert [r.outcome for r in refused.audit] == ["refused"]


def _request(text: str = "We hear you.") -> ApprovedRecord:
    return ApprovedRecord(
        draft_id="d-dec",
        alert_key="brenmoor:pricing:x",
        text=text,
        text_hash=text_hash(text),
        approved_at=AT,
        approvers=["e.lindqvist (approver-exec)"],
        lang="en",
    )


async def test_publish_delivers_each_target_once_and_closes_the_draft() -> None:
    calls: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(503 if len(calls) == 1 else 201)

    async def no_wait(_: float) -> None:
        return None

    receipts: list[PublishReceipt] = []

    async def on_receipt(receipt: PublishReceipt) -> None:
        receipts.append(receipt)

    book: dict[str, Any] = {}
    async with httpx.AsyncClient(transport=httpx.MockTransport(handler), timeout=5) as client:
        hook = PublishWebhookReceiver(
            "https://cms.example/publish", SecretStr("publish-key-1234"), client, guard=check_text
        )
        to: list[ResponseReceiver] = [hook]
        policy = RetryPolicy(attempts=3)
        results = await publish(
            _request(), to, policy, book=book, on_receipt=on_receipt, sleep=no_wait
        )
        assert results == {hook.name: True}
        assert [r.outcome for r in receipts] == ["retried", "delivered"]
        assert book["d-dec"]["hash"] == text_hash("We hear you.")
        # A redelivered request: the book says the target has it, nothing is sent again.
        again = await publish(
            _request(), to, policy, book=book, on_receipt=on_receipt, sleep=no_wait
        )
        assert again == {hook.name: True} and len(calls) == 2
        closing = published(_request(), to, again)
        assert closing is not None and closing.event["type"] == "published"
        assert published(_request(), to, {hook.name: False}) is None
        assert published(_request(), [], {}) is None
    assert conflict(_request(), book["d-dec"]) is None
    assert conflict(_request("Other."), book["d-dec"]) is not None
    assert conflict(_request(), None) is None
    audit = refusal(_request(), "why")
    assert audit.outcome == "refused" and audit.entry["reason"] == "publish_mismatch"
