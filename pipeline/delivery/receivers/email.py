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

import hashlib
import logging
import re
import ssl
from collections import OrderedDict
from collections.abc import Callable, Sequence
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime
from functools import cache
from pathlib import Path
from typing import Any

import aiosmtplib
import jinja2
from pydantic import SecretStr

from pipeline.delivery.receivers.base import GroupNotice, Receiver
from pipeline.delivery.redaction import redact
from pipeline.errors import DeliveryError, PermanentDelivery, RetryableDelivery
from pipeline.records import Alert

log = logging.getLogger(__name__)

DEDUP_HEADER = "X-Tocsin-Dedup-Key"
IDEMPOTENCY_HEADER = "X-Tocsin-Idempotency-Key"
TEMPLATES = Path(__file__).resolve().parent.parent / "templates" / "email"
SUMMARY_MAX = 2000
MENTION_MAX = 280
REMEMBERED_MAX = 256  # partially accepted steps kept for their retry (in memory, per worker)
GROUP_MAX_SHOWN = 10  # alerts written out in one group mail; the rest are counted
GROUP_KEYS_MAX = 50  # X-Tocsin-Dedup-Key headers in one group mail
_SEVERITY_RANK = {"critical": 0, "warning": 1, "info": 2}
_COLOURS = {"critical": "#cf222e", "warning": "#9a6700", "info": "#0969da"}
_SPACE = re.compile(r"\s+")


def _line(value: str) -> str:
    """One header-safe line: CR/LF and runs of whitespace become one space."""
    return _SPACE.sub(" ", value).strip()


def _number(value: float) -> str:
    """412 -> "412", 35.04 -> "35", 3.25 -> "3.2": counts read as people say them."""
    return f"{round(value, 1):g}"


def _safe_url(url: object) -> str | None:
    """Only http(s) links go into the HTML (no ``javascript:`` from a scraped mention)."""
    text = str(url or "").strip()
    return text if text.lower().startswith(("https://", "http://")) else None


def email_subject(alert: Alert) -> str:
    """``[FIRING critical] brenmoor pricing: 412 mentions vs 35 expected``."""
    return _line(
        f"[{alert.state.upper()} {alert.severity}] {alert.brand} {alert.topic.replace('_', ' ')}: "
        f"{_number(alert.observed)} mentions vs {_number(alert.expected)} expected"
    )


def message_id(idempotency_key: str, domain: str) -> str:
    """The same key always gives the same ``Message-ID`` (so a retry is recognisably a retry)."""
    digest = hashlib.sha256(idempotency_key.encode()).hexdigest()[:40]
    return f"<tocsin.{digest}@{domain}>"


def thread_id(dedup_key: str, domain: str) -> str:
    """One ``References`` id per alert, shared by its firing, acknowledged and resolved mails."""
    digest = hashlib.sha256(dedup_key.encode()).hexdigest()[:40]
    return f"<tocsin.alert.{digest}@{domain}>"


def _domain(address: str) -> str:
    _, _, domain = address.rpartition("@")
    return _line(domain).strip("<>") or "tocsin.invalid"


def _facts(alert: Alert) -> list[tuple[str, str]]:
    return [
        ("State", alert.state),
        ("Severity", alert.severity),
        ("Brand", alert.brand),
        ("Topic", alert.topic.replace("_", " ")),
        ("Observed", f"{alert.observed:g} mentions"),
        ("Expected", f"{alert.expected:.1f}"),
        ("Score", f"{alert.score:.3f}"),
        ("Since", f"{alert.started_at:%Y-%m-%d %H:%M} UTC"),
    ]


def _mentions(alert: Alert) -> list[tuple[str, str | None]]:
    return [
        (str(item.get("text", ""))[:MENTION_MAX], _safe_url(item.get("url")))
        for item in (alert.top_mentions or [])[:3]
    ]


def _headline(alert: Alert) -> str:
    return (
        f"{alert.state.upper()}: {alert.brand} / {alert.topic.replace('_', ' ')} ({alert.severity})"
    )


def text_body(alert: Alert, *, link: str | None = None) -> str:
    """The ``text/plain`` part: what a person on call reads on a phone's lock screen first."""
    lines = [_headline(alert), "", alert.summary[:SUMMARY_MAX], ""]
    lines += [f"{label + ':':<10} {value}" for label, value in _facts(alert)]
    mentions = _mentions(alert)
    if mentions:
        lines += ["", "Top mentions:"]
        lines += [f"- {text} {url or ''}".rstrip() for text, url in mentions]
    if link:
        lines += ["", f"Open in Tocsin: {link}"]
    lines += ["", f"Key: {alert.dedup_key}"]
    return "\n".join(lines) + "\n"


@cache
def _templates() -> jinja2.Environment:
    """Autoescape on: summaries and mention texts are other people's words."""
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def html_body(alert: Alert, *, link: str | None = None) -> str:
    """The ``text/html`` part, rendered from ``pipeline/delivery/templates/email/alert.html``."""
    colour = "#1a7f37" if alert.state == "resolved" else _COLOURS.get(alert.severity, "#1f2328")
    return (
        _templates()
        .get_template("alert.html")
        .render(
            alert=alert,
            subject=email_subject(alert),
            headline=_headline(alert),
            colour=colour,
            facts=_facts(alert),
            mentions=_mentions(alert),
            link=_safe_url(link),
        )
    )


def _assemble(
    *,
    subject: str,
    text: str,
    html: str,
    when: datetime,
    thread: str,
    dedup_keys: Sequence[str],
    idempotency_key: str,
    sender: str,
    recipients: Sequence[str],
) -> EmailMessage:
    """Headers and both parts; everything derives from the inputs, so retries send the same bytes."""
    domain = _domain(sender)
    msg = EmailMessage()
    msg["Subject"] = subject
    msg["From"] = sender
    msg["To"] = ", ".join(recipients)
    msg["Date"] = format_datetime(when)
    msg["Message-ID"] = message_id(idempotency_key, domain)
    msg["References"] = thread_id(thread, domain)
    msg["In-Reply-To"] = thread_id(thread, domain)
    msg["Auto-Submitted"] = "auto-generated"  # RFC 3834: no out-of-office replies to alerts
    for key in dedup_keys:
        msg[DEDUP_HEADER] = _line(key)
    msg[IDEMPOTENCY_HEADER] = _line(idempotency_key)
    # quoted-printable keeps both parts 7-bit clean for a relay without 8BITMIME
    msg.set_content(text, cte="quoted-printable")
    msg.add_alternative(html, subtype="html", cte="quoted-printable")
    # a fixed boundary (the stdlib picks a random one) makes a retry byte-identical
    digest = hashlib.sha256(f"boundary/{idempotency_key}".encode()).hexdigest()[:32]
    msg.set_boundary(f"==tocsin-{digest}==")
    return msg


def build_message(
    alert: Alert,
    *,
    idempotency_key: str,
    sender: str,
    recipients: Sequence[str],
    link: str | None = None,
) -> EmailMessage:
    """One alert step's mail, threaded with the alert's other steps by its dedup key."""
    return _assemble(
        subject=email_subject(alert),
        text=text_body(alert, link=link),
        html=html_body(alert, link=link),
        when=alert.updated_at,
        thread=alert.dedup_key,
        dedup_keys=[alert.dedup_key],
        idempotency_key=idempotency_key,
        sender=sender,
        recipients=recipients,
    )


def _group_state(notice: GroupNotice) -> str:
    states = {a.state for a in notice.alerts}
    return states.pop() if len(states) == 1 else "mixed"


def _group_headline(notice: GroupNotice) -> str:
    """``FIRING 3 alerts for brenmoor: pricing, scandal (update)``, as Slack's group headline."""
    alerts = notice.alerts
    where = ", ".join(value for _, value in notice.labels if value) or "all alerts"
    topics = ", ".join(dict.fromkeys(a.topic.replace("_", " ") for a in alerts))
    update = " (repeat)" if notice.repeat else " (update)" if notice.sequence > 1 else ""
    plural = "s" if len(alerts) != 1 else ""
    return (
        f"{_group_state(notice).upper()} {len(alerts)} alert{plural} for {where}: {topics}{update}"
    )


def _worst_severity(notice: GroupNotice) -> str:
    return min((a.severity for a in notice.alerts), key=lambda s: _SEVERITY_RANK.get(s, 9))


def group_subject(notice: GroupNotice) -> str:
    """``[FIRING critical] 3 alerts for brenmoor: pricing, scandal`` (the worst severity shown)."""
    state, _, rest = _group_headline(notice).partition(" ")
    return _line(f"[{state} {_worst_severity(notice)}] {rest}")


def _alert_line(alert: Alert) -> str:
    return (
        f"{alert.brand} / {alert.topic.replace('_', ' ')} ({alert.severity}, {alert.state}): "
        f"{alert.observed:g} mentions vs {alert.expected:.1f} expected (score {alert.score:.3f}) "
        f"since {alert.started_at:%Y-%m-%d %H:%M} UTC"
    )


def group_text_body(notice: GroupNotice, *, link: str | None = None) -> str:
    """The group mail's ``text/plain`` part: the headline, then one short block per alert."""
    lines = [_group_headline(notice), ""]
    for alert in notice.alerts[:GROUP_MAX_SHOWN]:
        lines += [f"* {_alert_line(alert)}", f"  {alert.summary[:SUMMARY_MAX]}"]
        lines += [f"  - {text} {url or ''}".rstrip() for text, url in _mentions(alert)[:1]]
        lines += [f"  Key: {alert.dedup_key}", ""]
    hidden = len(notice.alerts) - GROUP_MAX_SHOWN
    if hidden > 0:
        lines += [f"... and {hidden} more alert{'s' if hidden != 1 else ''} in this group", ""]
    if link:
        lines += [f"Open in Tocsin: {link}", ""]
    lines.append(f"Group: {notice.group}")
    return "\n".join(lines) + "\n"


def group_html_body(notice: GroupNotice, *, link: str | None = None) -> str:
    """The group mail's ``text/html`` part, from ``pipeline/delivery/templates/email/group.html``."""
    state = _group_state(notice)
    worst = _worst_severity(notice)
    colour = "#1a7f37" if state == "resolved" else _COLOURS.get(worst, "#1f2328")
    shown = notice.alerts[:GROUP_MAX_SHOWN]
    return (
        _templates()
        .get_template("group.html")
        .render(
            subject=group_subject(notice),
            headline=_group_headline(notice),
            colour=colour,
            items=[(a, _alert_line(a), _mentions(a)[:1]) for a in shown],
            hidden=len(notice.alerts) - len(shown),
            group=notice.group,
            link=_safe_url(link),
        )
    )


def build_group_message(
    notice: GroupNotice,
    *,
    idempotency_key: str,
    sender: str,
    recipients: Sequence[str],
    link: str | None = None,
) -> EmailMessage:
    """One mail for a whole group, threaded with the group's other notifications."""
    return _assemble(
        subject=group_subject(notice),
        text=group_text_body(notice, link=link),
        html=group_html_body(notice, link=link),
        when=max(a.updated_at for a in notice.alerts),
        thread=f"group/{notice.group}",
        dedup_keys=[a.dedup_key for a in notice.alerts[:GROUP_KEYS_MAX]],
        idempotency_key=idempotency_key,
        sender=sender,
        recipients=recipients,
    )


def _reply(code: int, text: str) -> str:
    return f"{code} {_line(text)[:200]}"


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
        return PermanentDelivery(f"{receiver}: {_line(exc.message)[:200]}")
    if isinstance(exc, ValueError):  # an address or header the SMTP client will not send
        return PermanentDelivery(f"{receiver}: invalid message ({_line(str(exc))[:200]})")
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
