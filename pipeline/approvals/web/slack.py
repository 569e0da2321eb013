"""Approval decisions from Slack: the approval request's buttons, via ``/slack/actions``."""

from __future__ import annotations

import asyncio
import time
from typing import Any
from urllib.parse import quote

from faust.web import Request, Response, View

from pipeline import services
from pipeline.approvals import slack_verify
from pipeline.approvals.errors import ApprovalRefused
from pipeline.approvals.flow import decision
from pipeline.approvals.runtime import runtime
from pipeline.approvals.slack import ACTION_PREFIX, claimed_user, parse_interaction
from pipeline.approvals.state import Actor, Approved, ChangesRequested, Event, Rejected
from pipeline.approvals.web.base import REFUSAL_STATUS, audit_refusal, load_state, remote_of
from pipeline.topics import response_decisions

SLACK_ACK_WAIT_S = 2.5  # Slack wants an answer within 3 s; the message is rewritten anyway


def is_approval_action(body: bytes) -> bool:
    """Whether a Slack interaction is a response-approval click (peeked, *not* trusted).

    Slack has one interactivity URL per app, so ``/slack/actions`` (``pipeline.oncall.api``)
    routes on this: approval clicks come here, where the signature is verified and every
    refusal, forged ones included, is audited; acknowledge/resolve clicks stay with on-call.
    """
    return ACTION_PREFIX.encode() in body or quote(ACTION_PREFIX).encode() in body


async def slack_approval_action(view: View, request: Request, body: bytes) -> Response:
    """A Slack block action on an approval request: verify, map the user, decide, answer."""
    rt = runtime()
    secret = services.settings().slack_signing_secret
    if not rt.enabled or secret is None:
        return view.text("approvals via Slack are not configured", status=503)
    remote = remote_of(request)
    try:
        slack_verify.verify_headers(
            secret, body=body, headers=dict(request.headers), now=time.time()
        )
        interaction = parse_interaction(body)
        user = rt.config.users.by_slack(interaction.slack_user_id)
    except ApprovalRefused as exc:
        await audit_refusal(
            exc,
            actor=claimed_user(body),
            action="slack_action",
            draft_id="",
            channel="slack",
            remote=remote,
        )
        return view.text(exc.reason, status=REFUSAL_STATUS.get(exc.reason, 403))
    state = load_state(interaction.draft_id)
    version = state.version if state is not None else 0
    event: Event
    if interaction.action == "approve":
        event = Approved(version, interaction.text_hash)
    elif interaction.action == "reject":
        event = Rejected(version, interaction.comment)
    else:
        event = ChangesRequested(version, interaction.comment)
    reply = (
        {"channel": interaction.channel, "ts": interaction.message_ts}
        if interaction.channel and interaction.message_ts
        else None
    )
    record = decision(event, Actor.of(user, "slack", remote), interaction.draft_id, reply=reply)
    waiter = rt.expect(record.event_id)
    await response_decisions.send(key=interaction.draft_id, value=record)
    entry: dict[str, Any] | None
    try:
        entry = await asyncio.wait_for(asyncio.shield(waiter), timeout=SLACK_ACK_WAIT_S)
    except TimeoutError:
        entry = None  # the agent still applies it and rewrites the message
    finally:
        rt.waiters.pop(record.event_id, None)
    if entry is not None and entry.get("outcome") == "refused":
        return view.text(f"refused: {entry.get('reason')}", status=200)
    return view.text("", status=200)
