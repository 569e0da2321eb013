"""Alert destinations, one module each, behind :class:`pipeline.receivers.base.Receiver`."""

from __future__ import annotations

import httpx

from pipeline.receivers.base import Receiver
from pipeline.receivers.console import ConsoleReceiver
from pipeline.receivers.slack import SlackWebhookReceiver
from pipeline.settings import Settings


def build_receivers(settings: Settings, client: httpx.AsyncClient | None = None) -> list[Receiver]:
    """Receivers configured in ``settings``; the console alone when nothing else is set."""
    receivers: list[Receiver] = []
    if settings.slack_webhook_url is not None:
        http = client or httpx.AsyncClient(
            timeout=httpx.Timeout(settings.http_timeout_s),
            follow_redirects=False,
            headers={"User-Agent": "tocsin/0.1"},
        )
        receivers.append(SlackWebhookReceiver(settings.slack_webhook_url, http))
    if settings.console_alerts or not receivers:
        receivers.append(ConsoleReceiver())
    return receivers


__all__ = ["ConsoleReceiver", "Receiver", "SlackWebhookReceiver", "build_receivers"]
