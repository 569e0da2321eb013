"""The base class every alert destination implements: ``setup`` / ``send`` / ``close``.

A receiver turns one alert step into one outbound call and classifies the outcome into the error
tree of ``pipeline/errors.py``; it never retries by itself. Retrying, backoff and ``Retry-After``
live in one place (``pipeline/delivery/retry.py``) so every receiver gets the same guarantees.

Grouped routes (``group_wait`` above zero, see ``agents/notify_groups.py``) hand a receiver a
:class:`GroupNotice` -- every firing alert of one group -- through ``send_group``. Its default sends
the alerts one by one through ``send``, so every receiver works grouped without change; receivers
whose people read messages (Slack, the console) override it with one message listing the group.
PagerDuty keeps the default on purpose: it de-duplicates per incident (``dedup_key``), so one event
per alert is what it expects, and Alertmanager does the same.

Client-side rate limits (``pipeline/delivery/ratelimit.py``): ``build_receivers`` gives each receiver a
``limiter``, and every outbound request takes a token through :meth:`Receiver.throttle` first --
``deliver`` before each ``send``, the default ``send_group`` before each alert it sends, and
:func:`send_group` once before a receiver's own one-message ``send_group``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass

from pydantic import SecretStr

from pipeline.delivery.health_data import notice_for
from pipeline.delivery.http import parse_retry_after, raise_for_delivery, request
from pipeline.delivery.ratelimit import Limiter
from pipeline.delivery.redaction import SecretRedactor, protect_secrets
from pipeline.records import Alert, ApprovedRecord


@dataclass(frozen=True)
class GroupNotice:
    """One notification for one alert group: its alerts (latest step of each) and its place.

    ``group`` names the group (route path and label values, e.g. ``route|brand=quillon``);
    ``labels`` are the values it is grouped by; ``sequence`` counts the group's notifications
    (1 the first, then updates); ``repeat`` marks a re-send of an unchanged group.
    """

    group: str
    labels: tuple[tuple[str, str], ...]
    alerts: tuple[Alert, ...]
    sequence: int = 1
    repeat: bool = False


class Outbound(ABC):  # noqa: B024 - the two kinds below add the abstract ``send``
    """Anything Tocsin sends to: a name, a client-side rate limit, ``setup`` and ``close``.

    ``name`` is the receiver's instance name (``slack``, or a named receiver's ``comms-fr``):
    routes name it, and it is the ``receiver`` label of the delivery metrics. ``kind`` is its
    integration (``slack``, ``email`` ...), which picks its default rate limit.
    """

    name: str = "receiver"
    kind: str = "receiver"
    #: Tocsin's own rate limit for this receiver (set by ``build_receivers``); None: unlimited.
    limiter: Limiter | None = None
    #: Secrets of a named receiver (read from the environment or files), masked in dead letters.
    secrets: tuple[SecretStr, ...] = ()
    #: Cleared for health data (``health_data_cleared: true`` in the routing file): gets the text
    #: of adverse-event evidence; every other receiver gets counts and links
    #: (``pipeline/delivery/health_data.py``).
    health_data_cleared: bool = False

    async def throttle(self) -> float:
        """Wait for this receiver's rate limit (asyncio, never blocking); seconds waited."""
        return 0.0 if self.limiter is None else await self.limiter.acquire()

    async def setup(self) -> None:  # noqa: B027 - optional hook
        """Prepare connections; called once before the first ``send``."""

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Release what ``setup`` acquired."""

    def named(self, name: str) -> None:
        """Give this instance its own name (a named receiver of the routing file)."""
        self.name = name


class Receiver(Outbound):
    """An alert destination: one alert step (or one group notice) in, one outbound call out."""

    @abstractmethod
    async def send(self, alert: Alert, *, idempotency_key: str) -> int | None:
        """Deliver one alert step; return the HTTP status (None if not HTTP) or raise."""

    async def send_group(self, notice: GroupNotice, *, idempotency_key: str) -> int | None:
        """Deliver a group notification; by default each alert through ``send``, in order.

        Each alert gets ``<idempotency_key>/<dedup key>``, the same on every attempt, so when a
        retry of the whole group re-sends alerts that already went through, receivers that
        de-duplicate on the key drop them. Returns the last status.
        """
        status: int | None = None
        for alert in notice.alerts:
            await self.throttle()  # one request per alert
            status = await self.send(alert, idempotency_key=f"{idempotency_key}/{alert.dedup_key}")
        return status


#: Checks an approved response just before it leaves (the approvals' hash check); raises to stop.
ResponseGuard = Callable[[ApprovedRecord], None]


class ResponseReceiver(Outbound):
    """A destination of fully approved responses (the publish webhook, the incident's thread).

    ``guard`` runs right before each request is built, on the exact record about to leave; the
    approvals flow passes its approved-hash check, so a text that differs is never sent.
    """

    def __init__(self, guard: ResponseGuard | None = None) -> None:
        self.guard = guard

    def check(self, approved: ApprovedRecord) -> None:
        if self.guard is not None:
            self.guard(approved)

    @abstractmethod
    async def send(self, approved: ApprovedRecord) -> int | None:
        """Deliver one approved response; return the HTTP status or raise."""


def response_key(approved: ApprovedRecord) -> str:
    """The idempotency key of an approved response: the same for every attempt and target."""
    return f"{approved.draft_id}:{approved.text_hash}"


async def send_group(
    receiver: Receiver, notice: GroupNotice, *, idempotency_key: str
) -> int | None:
    """A group notification within the receiver's rate limit: one token per request it makes.

    The default ``send_group`` sends alert by alert and throttles each; a receiver with its own
    ``send_group`` sends one message, which takes one token here. Health-data evidence is
    withheld first unless the receiver is cleared for it.
    """
    if type(receiver).send_group is not Receiver.send_group:
        await receiver.throttle()
    notice = notice_for(notice, receiver)
    return await receiver.send_group(notice, idempotency_key=idempotency_key)


__all__ = [
    "GroupNotice",
    "Outbound",
    "Receiver",
    "ResponseGuard",
    "ResponseReceiver",
    "SecretRedactor",
    "parse_retry_after",
    "protect_secrets",
    "raise_for_delivery",
    "request",
    "response_key",
    "send_group",
]
