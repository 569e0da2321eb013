"""The approval feature's per-worker dependencies, built lazily from settings on first use.

Loading the users, policy and response library reads and validates three YAML files; doing it at
import time would make every ``import agents...`` touch the disk and fail on a bad file before the
worker could report it. Everything lives in ``services.extra()``, so ``services.reset()`` in tests
drops it with the rest. ``waiters`` is how a web page or a Slack click waits for *its* decision:
the page registers a future under the event id it produced, the ``apply_decisions`` agent resolves
it with the audit entry once the state machine has spoken (same process; on another replica the
page stops waiting after ``approvals_wait_s`` and says the decision is still being applied).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import Any

import httpx
import jinja2

from pipeline import services
from pipeline.approvals.config import ApprovalConfig, load_approvals
from pipeline.approvals.slack import SlackApprovals
from pipeline.approvals.tokens import LinkSigner
from pipeline.delivery.receivers.slack_api import SlackApiReceiver
from pipeline.errors import ConfigError

TEMPLATES = Path(__file__).parent / "templates"
_KEY = "approvals"


@dataclass
class ApprovalRuntime:
    """Users, policy, library, link signer, page templates and decision waiters of one worker."""

    waiters: dict[str, asyncio.Future[dict[str, Any]]] = field(default_factory=dict)
    #: (draft id, role, version) escalations already sent, so a slow apply never sends twice.
    escalations_sent: set[tuple[str, str, int]] = field(default_factory=set)
    #: fire-and-forget Slack rewrites, kept referenced until done.
    background: set[asyncio.Future[None]] = field(default_factory=set)

    @property
    def enabled(self) -> bool:
        """The feature is on when its secret is set: pages, links and CSRF cannot work without it.

        Off, the approval agents consume and skip, so a worker without approvals configured
        (the plain alerting pipeline) never reads the approval files.
        """
        return services.settings().approval_link_secret is not None

    @cached_property
    def config(self) -> ApprovalConfig:
        """Library, policy, users and brands, validated together (a bad file stops the worker)."""
        return load_approvals(services.settings(), today=datetime.now(UTC).date())

    @property
    def signer(self) -> LinkSigner:
        signer = self.config.signer
        if signer is None:
            raise ConfigError("TOCSIN_APPROVAL_LINK_SECRET is not set: approval pages are closed")
        return signer

    @cached_property
    def http(self) -> httpx.AsyncClient:
        """The feature's outbound client: the settings' timeout, no redirects."""
        from pipeline.delivery.receivers import make_http_client

        return make_http_client(services.settings())

    @cached_property
    def slack(self) -> SlackApprovals | None:
        """The Slack Web API side of approvals, when a bot token and channel are configured."""
        cfg = services.settings()
        if cfg.slack_bot_token is None or cfg.slack_channel is None:
            return None
        return SlackApprovals(
            cfg.slack_bot_token, cfg.slack_channel, self.http, api_url=cfg.slack_api_url
        )

    async def aclose(self) -> None:
        """Close the outbound client if it was ever created (worker shutdown)."""
        client = self.__dict__.pop("http", None)
        self.__dict__.pop("slack", None)
        if isinstance(client, httpx.AsyncClient):
            await client.aclose()

    def incident_thread(self, alert_key: str) -> str | None:
        """The ``ts`` of the alert's Slack message (posted by the slack_api receiver), if any."""
        for receiver in services.receivers():
            if isinstance(receiver, SlackApiReceiver):
                found = receiver.thread_of(alert_key)
                if found is not None:
                    return found[1]
        return None

    @cached_property
    def pages(self) -> jinja2.Environment:
        """Jinja2 with autoescape on for every template: user text is always escaped."""
        return jinja2.Environment(
            loader=jinja2.FileSystemLoader(str(TEMPLATES)),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )

    def render(self, name: str, **context: Any) -> str:
        context.setdefault("banner", None)
        context.setdefault("user", None)
        context.setdefault("nav", "")
        return self.pages.get_template(name).render(**context)

    def expect(self, event_id: str) -> asyncio.Future[dict[str, Any]]:
        """A future the agent resolves with the audit entry (dict) of ``event_id``."""
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.waiters[event_id] = future
        return future

    def resolve(self, event_id: str | None, entry: dict[str, Any]) -> None:
        if event_id is None:
            return
        future = self.waiters.pop(event_id, None)
        if future is not None and not future.done():
            future.set_result(entry)

    async def wait(
        self, event_id: str, future: asyncio.Future[dict[str, Any]]
    ) -> dict[str, Any] | None:
        """The audit entry of ``event_id``, or None if it is not applied within the wait limit."""
        try:
            return await asyncio.wait_for(future, timeout=services.settings().approvals_wait_s)
        except TimeoutError:
            return None
        finally:
            self.waiters.pop(event_id, None)


def runtime() -> ApprovalRuntime:
    extra = services.extra()
    found = extra.get(_KEY)
    if not isinstance(found, ApprovalRuntime):
        found = ApprovalRuntime()
        extra[_KEY] = found
    return found
