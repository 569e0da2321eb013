"""The publish step: which receivers take a fully approved response, and the one rule they obey.

The rule: **never publish a text whose hash differs from the approved hash**. :func:`check_text`
recomputes the hash of the exact bytes about to leave and raises :class:`TextMismatch` when it
differs; every response receiver runs it as its ``guard`` before any request is built. The
receivers themselves (the publish webhook, the incident's Slack thread) live with the alert
receivers in ``pipeline/delivery/receivers/``, and share their retry, receipts and idempotency.
"""

from __future__ import annotations

from collections.abc import Callable

import httpx

from pipeline.approvals.audit import text_hash
from pipeline.delivery.receivers.base import ResponseReceiver, response_key
from pipeline.delivery.receivers.publish_webhook import PublishWebhookReceiver, publish_body
from pipeline.delivery.receivers.slack_thread import SlackThreadReceiver
from pipeline.delivery.slack_web import SlackWebClient
from pipeline.errors import TocsinError
from pipeline.records import ApprovedRecord
from pipeline.settings import Settings

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


__all__ = [
    "TARGET_SLACK",
    "TARGET_WEBHOOK",
    "TextMismatch",
    "check_text",
    "idempotency_key",
    "publish_body",
    "response_receivers",
]
