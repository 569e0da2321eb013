"""Slack thread receiver: an approved response posted in the incident's Slack thread.

``chat.postMessage`` through the one Slack Web API client, in the thread the alert's message
started (``approved.slack_thread``: channel and ``ts``), else in the bot's channel.
"""

from __future__ import annotations

from typing import Any

from pipeline.delivery.receivers.base import ResponseGuard, ResponseReceiver
from pipeline.delivery.slack_web import SlackWebClient
from pipeline.records import ApprovedRecord


class SlackThreadReceiver(ResponseReceiver):
    """Posts the approved text in the incident's thread with ``chat.postMessage``."""

    name = "slack_thread"
    kind = "slack_thread"

    def __init__(self, slack: SlackWebClient, *, guard: ResponseGuard | None = None) -> None:
        super().__init__(guard)
        self._slack = slack

    async def send(self, approved: ApprovedRecord) -> int | None:
        self.check(approved)
        thread = approved.slack_thread or {}
        body: dict[str, Any] = {
            "channel": str(thread.get("channel") or self._slack.channel),
            "text": f"Approved response published ({approved.draft_id}):\n>>> {approved.text}",
            "unfurl_links": False,
        }
        if thread.get("ts"):
            body["thread_ts"] = str(thread["ts"])
        status, _ = await self._slack.call("chat.postMessage", body, receiver=self.name)
        return status
