"""Slack side of approvals: the interactive request message, its in-place update, the payload.

The request is posted by the bot (``chat.postMessage``) in the incident's thread when the alert
message's ``ts`` is known, with three buttons whose ``value`` is ``draft_id|text_hash``: a click
approves the exact text the message showed, and the state machine refuses it as stale if the text
was edited since. After a decision the *same* message is rewritten (``chat.update`` with the
channel and ``ts`` Slack sent in the interaction payload), so a channel never shows buttons for a
decision already taken. All calls go through the one Slack Web API client
(``pipeline/delivery/slack_web.py``) over the shared ``httpx`` client with its timeout.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

import httpx
from pydantic import SecretStr

from pipeline import safejson
from pipeline.approvals.errors import ApprovalRefused
from pipeline.delivery.slack_web import SlackWebClient

ACTION_PREFIX = "tocsin_response_"
BUTTONS = (
    ("approve", "Approve", "primary"),
    ("request_changes", "Request changes", None),
    ("reject", "Reject", "danger"),
)
RECEIVER = "slack_approvals"
COMMENT_BLOCK = "tocsin_comment"
COMMENT_ACTION = "comment"


def request_blocks(
    *, draft_id: str, text: str, text_hash: str, headline: str, needs: list[str], link: str | None
) -> list[dict[str, Any]]:
    """Block Kit for an approval request: headline, the statement, who must approve, buttons."""
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": headline[:3000]}},
        {"type": "section", "text": {"type": "plain_text", "text": text[:3000]}},
        {
            "type": "context",
            "elements": [{"type": "mrkdwn", "text": f"Needs: {', '.join(needs) or 'none'}"[:3000]}],
        },
    ]
    # A comment box in the message itself: its value arrives in the click's ``state``, so a
    # reviewer can reject or request changes with the reason the state machine requires.
    blocks.append(
        {
            "type": "input",
            "block_id": COMMENT_BLOCK,
            "optional": True,
            "label": {
                "type": "plain_text",
                "text": "Comment (required to reject or request changes)",
            },
            "element": {"type": "plain_text_input", "action_id": COMMENT_ACTION, "multiline": True},
        }
    )
    elements: list[dict[str, Any]] = []
    for action, label, style in BUTTONS:
        button: dict[str, Any] = {
            "type": "button",
            "text": {"type": "plain_text", "text": label},
            "action_id": f"{ACTION_PREFIX}{action}",
            "value": f"{draft_id}|{text_hash}",
        }
        if style:
            button["style"] = style
        elements.append(button)
    if link:
        elements.append(
            {
                "type": "button",
                "text": {"type": "plain_text", "text": "Open in Tocsin"},
                "action_id": f"{ACTION_PREFIX}open",
                "url": link[:3000],
            }
        )
    blocks.append({"type": "actions", "block_id": "tocsin_response", "elements": elements})
    return blocks


def outcome_blocks(*, text: str, status: str) -> list[dict[str, Any]]:
    """The same message after a decision: the statement and what happened, no buttons."""
    return [
        {"type": "section", "text": {"type": "mrkdwn", "text": status[:3000]}},
        {"type": "section", "text": {"type": "plain_text", "text": text[:3000]}},
    ]


def _obj(value: Any) -> dict[str, Any]:
    """``value`` when it is a JSON object, else an empty one (a signed body may still be odd)."""
    return value if isinstance(value, dict) else {}


@dataclass(frozen=True)
class Interaction:
    """What a verified Slack block action asks: who clicked what, on which message."""

    slack_user_id: str
    action: str
    draft_id: str
    text_hash: str
    channel: str | None
    message_ts: str | None
    response_url: str | None
    comment: str = ""


def parse_interaction(body: bytes) -> Interaction:
    """Read a ``block_actions`` payload; ApprovalRefused('bad_payload') for anything else."""
    try:
        form = parse_qs(body.decode("utf-8"), strict_parsing=True)
        payload = safejson.loads(form["payload"][0])
        user = str(payload["user"]["id"])
        action = payload["actions"][0]
        action_id = str(action["action_id"])
        draft_id, _, digest = str(action.get("value", "")).partition("|")
    except (UnicodeDecodeError, ValueError, KeyError, IndexError, TypeError, AttributeError):
        raise ApprovalRefused("bad_payload", "not a Slack block action payload") from None
    if payload.get("type") != "block_actions" or not action_id.startswith(ACTION_PREFIX):
        raise ApprovalRefused("bad_payload", "not a Tocsin response action")
    verb = action_id.removeprefix(ACTION_PREFIX)
    if verb not in {b[0] for b in BUTTONS} or not draft_id:
        raise ApprovalRefused("bad_payload", f"unknown action {verb[:40]!r}")
    container = _obj(payload.get("container"))
    channel = _obj(payload.get("channel") or container).get("id") or container.get("channel_id")
    ts = _obj(payload.get("message")).get("ts") or container.get("message_ts")
    values = _obj(_obj(_obj(payload.get("state")).get("values")).get(COMMENT_BLOCK))
    comment = _obj(values.get(COMMENT_ACTION)).get("value") or ""
    return Interaction(
        comment=str(comment)[:2000],
        slack_user_id=user,
        action=verb,
        draft_id=draft_id,
        text_hash=digest,
        channel=str(channel) if channel else None,
        message_ts=str(ts) if ts else None,
        response_url=str(payload.get("response_url") or "") or None,
    )


def claimed_user(body: bytes) -> str:
    """The Slack user id an *unverified* request claims, for the audit of a refused request."""
    try:
        payload = safejson.loads(parse_qs(body.decode("utf-8"))["payload"][0])
        return f"slack:{str(payload['user']['id'])[:32]}"
    except (UnicodeDecodeError, ValueError, KeyError, IndexError, TypeError, AttributeError):
        return "anonymous"


class SlackApprovals:
    """Posts approval requests and rewrites them after a decision (bot token, Web API)."""

    def __init__(
        self, token: SecretStr, channel: str, client: httpx.AsyncClient, *, api_url: str
    ) -> None:
        self._slack = SlackWebClient(token, channel, client, api_url=api_url)
        self._channel = channel

    async def _call(self, method: str, body: dict[str, Any]) -> dict[str, Any]:
        _, data = await self._slack.call(method, body, receiver=RECEIVER)
        return data

    async def post_request(
        self, *, blocks: list[dict[str, Any]], text: str, thread_ts: str | None
    ) -> dict[str, str]:
        """Post the request; returns ``{"channel", "ts"}`` of the new message."""
        body: dict[str, Any] = {
            "channel": self._channel,
            "text": text[:3000],
            "blocks": blocks,
            "unfurl_links": False,
        }
        if thread_ts:
            body["thread_ts"] = thread_ts
        data = await self._call("chat.postMessage", body)
        return {"channel": str(data.get("channel", self._channel)), "ts": str(data.get("ts"))}

    async def update(self, *, channel: str, ts: str, text: str, status: str) -> None:
        """Rewrite the request message in place with the outcome (buttons removed)."""
        await self._call(
            "chat.update",
            {
                "channel": channel,
                "ts": ts,
                "text": f"{status}: {text}"[:3000],
                "blocks": outcome_blocks(text=text, status=status),
            },
        )

    async def update_request(
        self, *, channel: str, ts: str, blocks: list[dict[str, Any]], text: str
    ) -> None:
        """Rewrite the request message keeping its buttons (more approvals are still needed)."""
        await self._call(
            "chat.update", {"channel": channel, "ts": ts, "text": text[:3000], "blocks": blocks}
        )
