"""Alert destinations, one module each, behind :class:`pipeline.delivery.receivers.base.Receiver`.

:func:`build_receivers` builds the default receiver of each type whose ``TOCSIN_*`` settings are
set (named after its type), then the named receivers of the routing file (``named.py``).
"""

from __future__ import annotations

from collections.abc import Callable

import httpx

from pipeline.delivery.ratelimit import Limiter, limit_for
from pipeline.delivery.receivers.alertmanager import AlertmanagerReceiver
from pipeline.delivery.receivers.base import Receiver
from pipeline.delivery.receivers.console import ConsoleReceiver
from pipeline.delivery.receivers.email import EmailReceiver
from pipeline.delivery.receivers.named import NamedReceiver, load_named_receivers
from pipeline.delivery.receivers.opsgenie import OpsgenieReceiver
from pipeline.delivery.receivers.pagerduty import PagerDutyReceiver
from pipeline.delivery.receivers.slack import SlackWebhookReceiver
from pipeline.delivery.receivers.slack_api import SlackApiReceiver
from pipeline.delivery.receivers.teams import TeamsReceiver
from pipeline.delivery.receivers.webhook import WebhookReceiver
from pipeline.delivery.slack_web import SlackWebClient
from pipeline.errors import ConfigError
from pipeline.settings import Settings


def make_http_client(settings: Settings) -> httpx.AsyncClient:
    """The one outbound client every HTTP receiver shares: explicit timeout, no redirects."""
    return httpx.AsyncClient(
        timeout=httpx.Timeout(settings.http_timeout_s),
        follow_redirects=False,
        headers={"User-Agent": "tocsin/0.1"},
    )


def build_receivers(settings: Settings, client: httpx.AsyncClient | None = None) -> list[Receiver]:
    """Receivers configured in ``settings``; the console alone when nothing else is set.

    All HTTP receivers share ``client`` (built here when not given, and only if one is needed;
    e-mail opens its own SMTP connection per step);
    whoever calls this owns that client and closes it at shutdown. Each receiver gets its own
    client-side rate limit (``pipeline/delivery/ratelimit.py``: documented defaults, settings override).
    """
    http: httpx.AsyncClient | None = client

    def shared() -> httpx.AsyncClient:
        nonlocal http
        if http is None:
            http = make_http_client(settings)
        return http

    receivers = default_receivers(settings, shared)
    if settings.routing_file is not None:
        for named in load_named_receivers(settings.routing_file):
            if any(r.name == named.name for r in receivers):
                raise ConfigError(
                    f"{settings.routing_file}: receiver {named.name!r} is also configured by "
                    "TOCSIN_* settings; give the named receiver another name"
                )
            receivers.append(build_named(named, settings, shared()))
    if settings.console_alerts or not receivers:
        receivers.append(ConsoleReceiver())
    for receiver in receivers:
        limit = limit_for(receiver.kind, settings.delivery_rate_limits)
        receiver.limiter = None if limit is None else Limiter(limit)
    return receivers


def default_receivers(
    settings: Settings, shared: Callable[[], httpx.AsyncClient]
) -> list[Receiver]:
    """The receivers the ``TOCSIN_*`` settings configure: one per type, named after it."""
    link = settings.public_url
    receivers: list[Receiver] = []
    if settings.slack_webhook_url is not None:
        receivers.append(SlackWebhookReceiver(settings.slack_webhook_url, shared()))
    if settings.slack_bot_token is not None and settings.slack_channel is not None:
        receivers.append(
            SlackApiReceiver(
                SlackWebClient(
                    settings.slack_bot_token,
                    settings.slack_channel,
                    shared(),
                    api_url=settings.slack_api_url,
                )
            )
        )
    if settings.pagerduty_routing_key is not None:
        receivers.append(
            PagerDutyReceiver(
                settings.pagerduty_routing_key,
                shared(),
                events_url=settings.pagerduty_events_url,
                link=link,
            )
        )
    if settings.opsgenie_api_key is not None:
        receivers.append(
            OpsgenieReceiver(
                settings.opsgenie_api_key, shared(), api_url=settings.opsgenie_api_url, link=link
            )
        )
    if settings.teams_workflow_url is not None:
        receivers.append(TeamsReceiver(settings.teams_workflow_url, shared(), link=link))
    if settings.alertmanager_url is not None:
        receivers.append(
            AlertmanagerReceiver(settings.alertmanager_url, shared(), generator_url=link)
        )
    if settings.webhook_url is not None and settings.webhook_secret is not None:
        receivers.append(WebhookReceiver(settings.webhook_url, settings.webhook_secret, shared()))
    if settings.smtp_host is not None and settings.smtp_from is not None and settings.email_to:
        receivers.append(
            EmailReceiver(
                settings.smtp_host,
                settings.smtp_from,
                settings.email_to,
                port=settings.smtp_port,
                username=settings.smtp_username,
                password=settings.smtp_password,
                starttls=settings.smtp_starttls and not settings.smtp_tls,
                tls=settings.smtp_tls,
                timeout_s=settings.smtp_timeout_s,
                link=link,
            )
        )
    return receivers


def build_named(named: NamedReceiver, settings: Settings, client: httpx.AsyncClient) -> Receiver:
    """The receiver a routing file declares, named as declared; its secrets are remembered."""
    v, link = named.values, settings.public_url
    receiver: Receiver
    if named.kind == "slack":
        receiver = SlackWebhookReceiver(v["api_url"], client)
    elif named.kind == "slack_api":
        api_url = v.get("api_url", settings.slack_api_url)
        slack = SlackWebClient(v["token"], v["channel"], client, api_url=api_url)
        receiver = SlackApiReceiver(slack)
    elif named.kind == "pagerduty":
        url = v.get("url", settings.pagerduty_events_url)
        receiver = PagerDutyReceiver(v["routing_key"], client, events_url=url, link=link)
    elif named.kind == "opsgenie":
        url = v.get("api_url", settings.opsgenie_api_url)
        receiver = OpsgenieReceiver(v["api_key"], client, api_url=url, link=link)
    elif named.kind == "teams":
        receiver = TeamsReceiver(v["webhook_url"], client, link=link)
    elif named.kind == "alertmanager":
        receiver = AlertmanagerReceiver(v["url"], client, generator_url=link)
    elif named.kind == "webhook":
        receiver = WebhookReceiver(v["url"], v["secret"], client)
    else:
        receiver = named_email(named, settings)
    receiver.named(named.name)
    receiver.secrets = named.secrets
    receiver.health_data_cleared = named.health_data_cleared
    return receiver


def named_email(named: NamedReceiver, settings: Settings) -> EmailReceiver:
    """An e-mail receiver from ``email_configs``: ``smarthost`` is ``host[:port]``."""
    v = named.values
    host, _, port = str(v["smarthost"]).rpartition(":")
    if not host or not port.isdigit():
        host, port = str(v["smarthost"]), ""
    tls = bool(v.get("tls", False))
    return EmailReceiver(
        host,
        v["from"],
        v["to"],
        port=int(port) if port else None,
        username=v.get("auth_username"),
        password=v.get("auth_password"),
        starttls=bool(v.get("starttls", True)) and not tls,
        tls=tls,
        timeout_s=float(v.get("timeout_s", settings.smtp_timeout_s)),
        link=settings.public_url,
    )


__all__ = [
    "AlertmanagerReceiver",
    "ConsoleReceiver",
    "EmailReceiver",
    "OpsgenieReceiver",
    "PagerDutyReceiver",
    "Receiver",
    "SlackApiReceiver",
    "SlackWebhookReceiver",
    "TeamsReceiver",
    "WebhookReceiver",
    "build_named",
    "build_receivers",
    "make_http_client",
]
