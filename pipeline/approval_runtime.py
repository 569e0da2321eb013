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

import jinja2

from pipeline import services
from pipeline.approvals.library import Library, load_library
from pipeline.approvals.policy import Policy, load_policy
from pipeline.approvals.tokens import LinkSigner
from pipeline.approvals.users import UserDirectory, load_users
from pipeline.errors import ConfigError

TEMPLATES = Path(__file__).parent / "templates" / "approvals"
_KEY = "approvals"


@dataclass
class ApprovalRuntime:
    """Users, policy, library, link signer, page templates and decision waiters of one worker."""

    waiters: dict[str, asyncio.Future[dict[str, Any]]] = field(default_factory=dict)

    @cached_property
    def users(self) -> UserDirectory:
        cfg = services.settings()
        return load_users(cfg.users_file, tokens=cfg.user_tokens)

    @cached_property
    def policy(self) -> Policy:
        return load_policy(
            services.settings().approval_policy_file,
            topics=None,
            users=self.users,
        )

    @cached_property
    def library(self) -> Library:
        return load_library(services.settings().responses_file, today=datetime.now(UTC).date())

    @cached_property
    def signer(self) -> LinkSigner:
        secret = services.settings().approval_link_secret
        if secret is None:
            raise ConfigError("TOCSIN_APPROVAL_LINK_SECRET is not set: approval pages are closed")
        return LinkSigner(secret)

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
