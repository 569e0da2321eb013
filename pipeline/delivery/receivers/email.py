"""E-mail receiver: one SMTP transaction per alert step, plain text + HTML (``multipart/alternative``).

SMTP answers 2xx for success, 4xx for "try again later" (greylisting, a full queue, a relay
briefly unavailable) and 5xx for "never" (unknown user, relaying denied, bad credentials), so
4xx replies, timeouts and dropped connections become ``RetryableDelivery`` and 5xx replies
``PermanentDelivery``; the reply code goes into the receipt as its ``status_code``.

A retried send is the *same* message: the ``Message-ID`` is derived from the idempotency key and
the ``Date`` is the alert step's own time and the MIME boundary is fixed too (every attempt sends
the same bytes), so a mail client or a support person can tell a
duplicate (a 250 lost on the way back, then a retry) from a second alert. All steps of one alert
carry the same ``References`` so clients thread firing -> acknowledged -> resolved together. When a
server accepts some recipients and defers others (4xx per ``RCPT``), the accepted ones are
remembered per idempotency key and the retry goes to the others only.

A grouped route (``send_group``) gets one mail listing the group's alerts, as Slack does, with an
``X-Tocsin-Dedup-Key`` header per alert and its own thread per group.

The password is a ``SecretStr``: it is handed to the SMTP client and never logged, and
``aiosmtplib`` itself does not log. One connection per step: alerts are rare and a pooled SMTP
connection would mostly be a stale one.
"""

from __future__ import annotations

import logging
import ssl
from collections import OrderedDict
from collections.abc import Callable, Sequence
from email.message import EmailMessage
from typing import Any

import aiosmtplib
from pydantic import SecretStr

from pipeline.delivery.receivers.base import GroupNotice, Receiver
from pipeline.delivery.receivers.email_message import (
    DEDUP_HEADER,
    IDEMPOTENCY_HEADER,
    build_group_message,
    build_message,
    email_subject,
    message_id,
    one_line,
)
from pipeline.delivery.redaction import redact
from pipeline.errors import DeliveryError, PermanentDelivery, RetryableDelivery
from pipeline.records import Alert

log = logging.getLogger(__name__)


REMEMBERED_MAX = 256  # partially accepted steps kept for their retry (in memory, per worker)


def _reply(code: int, text: str) -> str:
    return f"{code} {one_line(text)[:200]}"


def classify_smtp_error(exc: BaseException, receiver: str = "email") -> DeliveryError:
    """Map an ``aiosmtplib`` (or socket) failure onto the delivery error tree.

    4xx replies and transport failures are worth another try; 5xx replies, a server lacking a
    required extension (STARTTLS, AUTH) and a certificate that does not verify are not.
    """
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        codes = [r.code for r in exc.recipients]
        first = exc.recipients[0] if exc.recipients else None
        detail = _reply(first.code, first.message) if first else "no recipient accepted"
        message = f"{receiver}: every recipient refused ({detail})"
        temporary = [c for c in codes if 400 <= c < 500]
        if temporary:
            return RetryableDelivery(message, status_code=temporary[0])
        return PermanentDelivery(message, status_code=codes[0] if codes else None)
    if isinstance(exc, aiosmtplib.SMTPResponseException) and exc.code >= 400:
        message = f"{receiver}: SMTP {_reply(exc.code, exc.message)}"
        if exc.code < 500:
            return RetryableDelivery(message, status_code=exc.code)
        return PermanentDelivery(message, status_code=exc.code)
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, ssl.SSLCertVerificationError):
            why = getattr(cause, "verify_message", None) or "verify failed"
            return PermanentDelivery(f"{receiver}: TLS certificate not trusted ({why})")
        cause = cause.__cause__
    if isinstance(exc, TimeoutError):  # SMTPTimeoutError and asyncio's timeouts
        return RetryableDelivery(f"{receiver}: timeout ({type(exc).__name__})")
    if isinstance(exc, OSError | aiosmtplib.SMTPResponseException):
        # refused/reset/dropped connections, and replies outside 4xx/5xx (a garbled server)
        return RetryableDelivery(f"{receiver}: transport error ({type(exc).__name__})")
    if isinstance(exc, aiosmtplib.SMTPException):  # e.g. STARTTLS or AUTH not offered
        return PermanentDelivery(f"{receiver}: {one_line(exc.message)[:200]}")
    if isinstance(exc, ValueError):  # an address or header the SMTP client will not send
        return PermanentDelivery(f"{receiver}: invalid message ({one_line(str(exc))[:200]})")
    return PermanentDelivery(f"{receiver}: {type(exc).__name__}")


class EmailReceiver(Receiver):
    name = "email"
    kind = "email"

    def __init__(
        self,
        host: str,
        sender: str,
        recipients: Sequence[str],
        *,
        port: int | None = None,
        username: str | None = None,
        password: SecretStr | None = None,
        starttls: bool = True,
        tls: bool = False,
        timeout_s: float = 10.0,
        link: str | None = None,
        tls_context: ssl.SSLContext | None = None,
    ) -> None:
        if starttls and tls:
            raise ValueError("STARTTLS and implicit TLS exclude each other; choose one")
        if not recipients:
            raise ValueError("at least one recipient")
        self._host = host
        self._port = port
        self._from = sender
        self._to = tuple(recipients)
        self._username = username
        self._password = password
        self._starttls = starttls
        self._tls = tls
        self._timeout = timeout_s
        self._link = link
        self._tls_context = tls_context
        self._accepted: OrderedDict[str, frozenset[str]] = OrderedDict()

    def _client(self) -> aiosmtplib.SMTP:
        options: dict[str, Any] = {}
        if self._username is not None:
            options["username"] = self._username
            options["password"] = self._password.get_secret_value() if self._password else ""
        return aiosmtplib.SMTP(
            hostname=self._host,
            port=self._port,
            use_tls=self._tls,
            start_tls=self._starttls,  # True: refuse to go on in clear if STARTTLS is not offered
            timeout=self._timeout,  # per connect and per command, so one send is bounded
            tls_context=self._tls_context,
            **options,
        )

    def _scrub(self, error: DeliveryError) -> DeliveryError:
        """A server that echoes the password back must not put it into a receipt."""
        if self._password is not None:
            text = str(error)
            masked = redact(text, [self._password.get_secret_value()])
            if masked != text:
                return type(error)(masked, status_code=error.status_code)
        return error

    async def send(self, alert: Alert, *, idempotency_key: str) -> int | None:
        """Send one alert step's mail; returns the SMTP reply code (250)."""

        def build() -> EmailMessage:
            return build_message(
                alert,
                idempotency_key=idempotency_key,
                sender=self._from,
                recipients=self._to,
                link=self._link,
            )

        return await self._transmit(build, idempotency_key)

    async def send_group(self, notice: GroupNotice, *, idempotency_key: str) -> int | None:
        """One mail listing the group's alerts (people read mail, as they read Slack)."""
        if not notice.alerts:
            return None

        def build() -> EmailMessage:
            return build_group_message(
                notice,
                idempotency_key=idempotency_key,
                sender=self._from,
                recipients=self._to,
                link=self._link,
            )

        return await self._transmit(build, idempotency_key)

    async def _transmit(self, build: Callable[[], EmailMessage], idempotency_key: str) -> int:
        """Send to every recipient not yet reached for this key; map failures onto the tree."""
        done = self._accepted.get(idempotency_key, frozenset())
        pending = [r for r in self._to if r not in done]
        smtp = self._client()
        try:
            message = build()
            await smtp.connect()
            try:
                refused, _ = await smtp.send_message(message, sender=self._from, recipients=pending)
            finally:
                await _quit(smtp)
        except (aiosmtplib.SMTPException, OSError, ValueError) as exc:
            if isinstance(exc, aiosmtplib.SMTPRecipientsRefused) and done:
                return self._partly_done(idempotency_key, done, exc)
            raise self._scrub(classify_smtp_error(exc, self.name)) from exc
        accepted = done | {r for r in pending if r not in refused}
        deferred = {r: resp.code for r, resp in refused.items() if 400 <= resp.code < 500}
        if deferred:
            self._remember(idempotency_key, accepted)
            raise RetryableDelivery(
                f"{self.name}: {len(deferred)} of {len(self._to)} recipients deferred "
                f"(SMTP {sorted(set(deferred.values()))}); the retry goes to them only",
                status_code=min(deferred.values()),
            )
        self._accepted.pop(idempotency_key, None)
        if refused:
            log.warning(
                "email: %d of %d recipients refused for good (SMTP %s): %s",
                len(refused),
                len(self._to),
                sorted({resp.code for resp in refused.values()}),
                ", ".join(sorted(refused)),
            )
        return 250

    def _partly_done(
        self, key: str, done: frozenset[str], exc: aiosmtplib.SMTPRecipientsRefused
    ) -> int:
        """The rest refused on a retry after some recipients already had the message."""
        error = classify_smtp_error(exc, self.name)
        if isinstance(error, RetryableDelivery):
            raise self._scrub(error) from exc
        self._accepted.pop(key, None)
        log.warning(
            "email: delivered to %d of %d recipients; the rest refused for good (%s)",
            len(done),
            len(self._to),
            error,
        )
        return 250

    def _remember(self, key: str, accepted: frozenset[str]) -> None:
        self._accepted[key] = accepted
        self._accepted.move_to_end(key)
        while len(self._accepted) > REMEMBERED_MAX:
            self._accepted.popitem(last=False)


async def _quit(smtp: aiosmtplib.SMTP) -> None:
    """Say QUIT; a server that hangs up first has already taken (or refused) the message."""
    if not smtp.is_connected:
        return
    try:
        await smtp.quit()
    except (aiosmtplib.SMTPException, OSError):
        smtp.close()


__all__ = [
    "DEDUP_HEADER",
    "IDEMPOTENCY_HEADER",
    "EmailReceiver",
    "build_group_message",
    "build_message",
    "classify_smtp_error",
    "email_subject",
    "message_id",
]
