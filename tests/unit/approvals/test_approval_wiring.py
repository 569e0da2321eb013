"""Unit tests of the approvals wiring: sessions, Slack payloads, the publish client, SLA timer."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import httpx
import pytest
from pydantic import SecretStr
from slack_sdk.models.blocks import Block

from pipeline import services
from pipeline.approvals import session as approval_session
from pipeline.approvals.audit import text_hash
from pipeline.approvals.errors import ApprovalRefused, AuthRefused
from pipeline.approvals.publish import TextMismatch, check_text, publish_body
from pipeline.approvals.slack import parse_interaction, request_blocks
from pipeline.delivery.receivers.publish_webhook import PublishWebhookReceiver
from pipeline.delivery.receivers.webhook import verify_signature
from pipeline.records import ApprovedRecord
from pipeline.settings import make_settings

SECRET = SecretStr("unit-session-secret-42")


def test_session_cookie_round_trip_and_refusals() -> None:
    value = approval_session.issue(SECRET, "e.lindqvist", now=1000.0, ttl_s=60)
    session = approval_session.verify(SECRET, value, now=1030.0)
    assert session.user_id == "e.lindqvist" and session.expires_at == 1060
    with pytest.raises(AuthRefused) as expired:
        approval_session.verify(SECRET, value, now=1060.0)
    assert expired.value.reason == "session_expired"
    forged = value.replace("e.lindqvist", "a.fontaine", 1)
    with pytest.raises(AuthRefused) as bad:
        approval_session.verify(SECRET, forged, now=1030.0)
    assert bad.value.reason == "bad_session"
    with pytest.raises(AuthRefused) as other_key:
        approval_session.verify(SecretStr("another-secret-9999"), value, now=1030.0)
    assert other_key.value.reason == "bad_session"
    with pytest.raises(AuthRefused) as none:
        approval_session.verify(SECRET, None, now=1030.0)
    assert none.value.reason == "no_session"


def test_cookie_header_is_httponly_strict_and_secure_when_asked() -> None:
    header = approval_session.cookie_header("v", secure=True)
    assert "HttpOnly" in header and "SameSite=Strict" in header and "Secure" in header
    assert "Secure" not in approval_session.cookie_header("v", secure=False)


def test_request_blocks_are_valid_block_kit_and_carry_the_hash() -> None:
    blocks = request_blocks(
        draft_id="d1",
        text="We are aware.",
        text_hash="abc",
        headline="*Response needed*",
        needs=["Executive"],
        link="https://tocsin.example/approvals/d1",
    )
    for block in blocks:
        assert Block.parse(block) is not None
    actions = next(b for b in blocks if b["type"] == "actions")
    values = {e["action_id"]: e.get("value") for e in actions["elements"]}
    assert values["tocsin_response_approve"] == "d1|abc"


def _payload(**over: object) -> bytes:
    payload = {
        "type": "block_actions",
        "user": {"id": "U0TOCS0007"},
        "channel": {"id": "C1"},
        "message": {"ts": "1.2"},
        "actions": [{"action_id": "tocsin_response_reject", "value": "d9|h9"}],
        "state": {"values": {"tocsin_comment": {"comment": {"value": "too vague"}}}},
        **over,
    }
    return urlencode({"payload": json.dumps(payload)}).encode()


def test_parse_interaction_reads_user_action_comment_and_message() -> None:
    got = parse_interaction(_payload())
    assert (got.slack_user_id, got.action, got.draft_id, got.text_hash) == (
        "U0TOCS0007",
        "reject",
        "d9",
        "h9",
    )
    assert (got.channel, got.message_ts, got.comment) == ("C1", "1.2", "too vague")


@pytest.mark.parametrize(
    "body",
    [
        b"payload=not-json",
        b"nothing=here",
        _payload(type="view_submission"),
        _payload(actions=[{"action_id": "tocsin_acknowledge", "value": "d|h"}]),
        _payload(actions=[{"action_id": "tocsin_response_delete", "value": "d|h"}]),
    ],
)
def test_parse_interaction_refuses_anything_else(body: bytes) -> None:
    with pytest.raises(ApprovalRefused) as refused:
        parse_interaction(body)
    assert refused.value.reason == "bad_payload"


def _approved(text: str, digest: str | None = None) -> ApprovedRecord:
    return ApprovedRecord(
        draft_id="d1",
        alert_key="brenmoor:scandal:x",
        text=text,
        text_hash=digest or text_hash(text),
        approved_at=datetime(2026, 11, 22, 10, tzinfo=UTC),
        approvers=["e.lindqvist (approver-exec)"],
        lang="en",
    )


async def test_publish_webhook_signs_the_exact_text_with_an_idempotency_key() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(201)

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler), timeout=5) as client:
        hook = PublishWebhookReceiver(
            "https://cms.example/publish",
            SecretStr("publish-key-1234"),
            client,
            clock=lambda: 5000,
            guard=check_text,
        )
        assert await hook.send(_approved("Nous sommes au courant — « merci »")) == 201
    [request] = seen
    body = request.content
    assert json.loads(body)["text"] == "Nous sommes au courant — « merci »"
    assert body == publish_body(_approved("Nous sommes au courant — « merci »"))
    assert request.headers["X-Tocsin-Idempotency-Key"] == "d1:" + text_hash(
        "Nous sommes au courant — « merci »"
    )
    assert verify_signature(
        b"publish-key-1234",
        request.headers["X-Tocsin-Timestamp"],
        body,
        request.headers["X-Tocsin-Signature"],
        now=5000,
    )


async def test_publish_refuses_a_text_that_is_not_the_approved_one_before_any_request() -> None:
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        return httpx.Response(201)

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler), timeout=5) as client:
        hook = PublishWebhookReceiver(
            "https://cms.example/publish", SecretStr("publish-key-1234"), client, guard=check_text
        )
        with pytest.raises(TextMismatch):
            await hook.send(_approved("We are aware.", digest=text_hash("We are aware!")))
    assert calls == 0


def test_sla_timer_sends_one_escalation_per_overdue_role() -> None:
    """The escalation timer with an injected clock: nothing before the deadline, one after."""
    from agents.escalate_overdue import due
    from pipeline.approvals.drafts import Draft
    from pipeline.approvals.runtime import runtime
    from pipeline.approvals.state import Actor, DraftCreated, decide, event_from_dict

    services.override(settings=make_settings(approval_link_secret="unit-link-secret-123"))
    cfg = runtime().config
    created = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
    draft = Draft(
        id="d-sla",
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
    state, _ = decide(None, DraftCreated(draft), Actor.system(), cfg.policy, created)
    deadline = state.deadline("approver-exec")
    sent: set[tuple[str, str, int]] = set()
    assert due([state.to_dict()], deadline - timedelta(seconds=1), sent) == []
    [record] = due([state.to_dict()], deadline + timedelta(seconds=1), sent)
    event = event_from_dict(record.event)
    assert record.draft_id == "d-sla" and event.type == "escalated"
    assert record.at == deadline + timedelta(seconds=1)
    assert due([state.to_dict()], deadline + timedelta(minutes=5), sent) == []  # not twice


async def test_runtime_closes_its_client_and_the_feature_is_off_without_a_secret() -> None:
    from pipeline.approvals.runtime import runtime

    services.override(settings=make_settings())
    assert runtime().enabled is False
    services.override(settings=make_settings(approval_link_secret="unit-link-secret-123"))
    rt = runtime()
    assert rt.enabled is True
    client = rt.http
    await rt.aclose()
    assert client.is_closed
    await rt.aclose()  # idempotent: nothing left to close


def test_publish_agent_refuses_anything_but_the_approved_text() -> None:
    from dataclasses import replace

    from pipeline.approvals.drafts import Draft
    from pipeline.approvals.publish import mismatch
    from pipeline.approvals.runtime import runtime
    from pipeline.approvals.state import Actor, Approved, DraftCreated, decide

    services.override(settings=make_settings(approval_link_secret="unit-link-secret-123"))
    policy = runtime().config.policy
    users = runtime().config.users
    at = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
    draft = Draft(
        id="d-pub",
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
    state, _ = decide(None, DraftCreated(draft), Actor.system(), policy, at)
    exec_ = Actor.of(users.get("e.lindqvist"), "web")
    state, _ = decide(state, Approved(1, state.text_hash), exec_, policy, at)
    assert state.status == "approved"
    exact = _approved("We hear you.")
    assert mismatch(exact, state) is None
    assert mismatch(exact, None) == "no approved state for this draft"
    assert mismatch(_approved("We hear you!"), state) == "the text differs from the approved text"
    forged = _approved("We hear you!", digest=text_hash("We hear you."))
    assert "hash differs" in str(mismatch(forged, state))
    edited = replace(state, draft=replace(state.draft, text="We hear you!"))
    assert mismatch(exact, edited) == "the text differs from the approved text"
