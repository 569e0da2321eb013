"""The e-mail receiver through ``pipeline.delivery.deliver`` against a real SMTP server (aiosmtpd).

No Kafka here. Each test starts an aiosmtpd ``Controller`` (its own event loop in a thread) on a
free 127.0.0.1 port; its handler records every envelope and can answer scripted replies to
``RCPT`` and ``DATA``. What reached the server is parsed with the stdlib e-mail parser. Checked:
the message (both parts, headers, envelope recipients), STARTTLS with a real certificate and AUTH
over it, a 451 retried to one delivery with the same ``Message-ID``, a 550 not retried, a
recipient deferred with 450 retried alone, connection failures and timeouts retried, a server
that cannot do STARTTLS or whose certificate is not trusted refused without sending the password,
and the password absent from every error, receipt and log line.
"""

from __future__ import annotations

import logging
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from pydantic import SecretStr

from pipeline.delivery.receivers.base import GroupNotice
from pipeline.delivery.receivers.email import EmailReceiver
from pipeline.delivery.retry import RetryPolicy, deliver, retry_call
from pipeline.ops.procs import free_port
from pipeline.records import Alert

pytestmark = pytest.mark.integration

SENDER = "tocsin@alerts.example"
TO = ("comms@brenmoor.example", "oncall@brenmoor.example")
USER = "tocsin-alerts"
PASSWORD = "smtp-app-password-5d1c9e"
T0 = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
FAST = RetryPolicy(attempts=4, backoff_s=0.02, backoff_max_s=0.05)
TIMEOUT_S = 2.0  # per SMTP command; the machine is shared


def alert(state: str = "firing") -> Alert:
    return Alert(
        dedup_key="brenmoor:pricing:20261122T0900Z",
        state=state,
        severity="critical",
        brand="brenmoor",
        topic="pricing",
        started_at=T0,
        updated_at=T0 + timedelta(minutes={"firing": 0, "acknowledged": 5, "resolved": 40}[state]),
        observed=412.0,
        expected=35.0,
        score=0.9999,
        summary="412 pricing mentions in 5 min vs 35 expected <b>&</b>",
        top_mentions=[
            {"id": "x:1", "text": "they tripled the price", "url": "https://x.example/1"}
        ],
    )


@dataclass
class Seen:
    """One DATA command as the server saw it (accepted or not)."""

    mail_from: str
    rcpt_tos: list[str]
    content: bytes
    tls: bool
    login: str | None
    accepted: bool

    def parsed(self) -> EmailMessage:
        return message_from_bytes(self.content, policy=policy.default)


class Mailbox:
    """aiosmtpd handler + authenticator: records envelopes and logins, answers scripted replies.

    ``data_replies`` answer the first DATA commands (then 250); ``rcpt_replies`` answer the first
    RCPT TO commands per address (then 250). Runs on the controller's thread, hence the lock.
    """

    def __init__(
        self,
        *,
        data_replies: list[str] | None = None,
        rcpt_replies: dict[str, list[str]] | None = None,
        echo_password_on_failure: bool = False,
    ) -> None:
        self.data_replies = list(data_replies or [])
        self.rcpt_replies = {k: list(v) for k, v in (rcpt_replies or {}).items()}
        self.echo = echo_password_on_failure
        self.seen: list[Seen] = []
        self.logins: list[tuple[str, str, str, bool]] = []  # mechanism, login, password, tls
        self.rcpt_commands: list[str] = []
        self._lock = threading.Lock()

    @property
    def accepted(self) -> list[Seen]:
        return [s for s in self.seen if s.accepted]

    def __call__(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        assert isinstance(auth_data, LoginPassword)
        login, password = auth_data.login.decode(), auth_data.password.decode()
        with self._lock:
            self.logins.append((mechanism, login, password, session.ssl is not None))
        if (login, password) == (USER, PASSWORD):
            return AuthResult(success=True, auth_data=login)
        message = f"535 5.7.8 bad credentials {password}" if self.echo else None
        return AuthResult(success=False, handled=False, message=message)

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        with self._lock:
            self.rcpt_commands.append(address)
            script = self.rcpt_replies.get(address)
            reply = script.pop(0) if script else None
        if reply is not None:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        with self._lock:
            reply = self.data_replies.pop(0) if self.data_replies else None
            content = envelope.original_content or envelope.content or b""
            assert isinstance(content, bytes)
            self.seen.append(
                Seen(
                    mail_from=str(envelope.mail_from),
                    rcpt_tos=list(envelope.rcpt_tos),
                    content=content,
                    tls=session.ssl is not None,
                    login=session.auth_data if session.authenticated else None,
                    accepted=reply is None,
                )
            )
        return reply or "250 2.0.0 queued as 4711"


@contextmanager
def smtp_server(mailbox: Mailbox, **smtp_kwargs: Any) -> Iterator[int]:
    """An aiosmtpd server on 127.0.0.1 in a thread; stopped (and its thread joined) on exit."""
    port = free_port()
    controller = Controller(
        mailbox,
        hostname="127.0.0.1",
        port=port,
        server_hostname="smtp.tocsin.test",
        ready_timeout=10.0,
        authenticator=mailbox,
        **smtp_kwargs,
    )
    controller.start()
    try:
        yield port
    finally:
        controller.stop()


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (EC P-256: quick to make), made with openssl."""
    folder = tmp_path_factory.mktemp("smtp-tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=smtp.tocsin.test",
            "-addext",
            "subjectAltName=IP:127.0.0.1,DNS:smtp.tocsin.test",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
        timeout=30,
    )
    return cert, key


def server_tls(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*certificate)
    return context


class Receipts:
    def __init__(self) -> None:
        self.log: list[tuple[int, str, int | None, str | None]] = []

    async def __call__(
        self, attempt: int, outcome: str, status: int | None, err: str | None
    ) -> None:
        self.log.append((attempt, outcome, status, err))

    @property
    def outcomes(self) -> list[str]:
        return [entry[1] for entry in self.log]


async def run(
    receiver: EmailReceiver, a: Alert, policy: RetryPolicy = FAST
) -> tuple[bool, Receipts]:
    receipts = Receipts()
    ok = await deliver(
        receiver,
        a,
        idempotency_key=f"{a.dedup_key}/{a.state}/{receiver.name}",
        policy=policy,
        on_attempt=receipts,
    )
    return ok, receipts


def plain_receiver(port: int, **over: Any) -> EmailReceiver:
    options: dict[str, Any] = {"port": port, "starttls": False, "timeout_s": TIMEOUT_S}
    options.update(over)
    return EmailReceiver("127.0.0.1", SENDER, TO, **options)


async def test_starttls_auth_and_the_message_as_received(
    certificate: tuple[Path, Path], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    mailbox = Mailbox()
    with smtp_server(
        mailbox,
        tls_context=server_tls(certificate),
        require_starttls=True,
        auth_required=True,
    ) as port:
        receiver = EmailReceiver(
            "127.0.0.1",
            SENDER,
            TO,
            port=port,
            username=USER,
            password=SecretStr(PASSWORD),
            starttls=True,
            timeout_s=TIMEOUT_S,
            link="https://tocsin.example/alerts",
            tls_context=ssl.create_default_context(cafile=str(certificate[0])),
        )
        ok, receipts = await run(receiver, alert())
    assert ok and receipts.log == [(1, "delivered", 250, None)]
    ((mechanism, login, password, over_tls),) = mailbox.logins
    assert (login, password, over_tls) == (USER, PASSWORD, True)
    assert mechanism in ("PLAIN", "LOGIN")
    (seen,) = mailbox.seen
    assert seen.tls and seen.login == USER
    assert seen.mail_from == SENDER and seen.rcpt_tos == list(TO)
    msg = seen.parsed()
    assert msg["Subject"] == "[FIRING critical] brenmoor pricing: 412 mentions vs 35 expected"
    assert msg["From"] == SENDER
    assert [a.addr_spec for a in msg["To"].addresses] == list(TO)
    assert msg["X-Tocsin-Dedup-Key"] == "brenmoor:pricing:20261122T0900Z"
    assert msg["Message-ID"].startswith("<tocsin.") and msg["Message-ID"].endswith(
        "@alerts.example>"
    )
    assert msg.get_content_type() == "multipart/alternative"
    plain, html = msg.get_body(("plain",)), msg.get_body(("html",))
    assert plain is not None and html is not None
    assert "412 pricing mentions in 5 min vs 35 expected <b>&</b>" in plain.get_content()
    assert "vs 35 expected &lt;b&gt;&amp;&lt;/b&gt;" in html.get_content()
    assert '<a href="https://tocsin.example/alerts">' in html.get_content()
    ours = [r.getMessage() for r in caplog.records if not r.name.startswith("mail.log")]
    assert not any(PASSWORD in line for line in ours)


async def test_lifecycle_three_messages_in_one_thread() -> None:
    mailbox = Mailbox()
    with smtp_server(mailbox) as port:
        receiver = plain_receiver(port)
        for state in ("firing", "acknowledged", "resolved"):
            ok, receipts = await run(receiver, alert(state))
            assert ok and receipts.outcomes == ["delivered"]
    msgs = [s.parsed() for s in mailbox.accepted]
    assert [m["Subject"].split("]")[0] for m in msgs] == [
        "[FIRING critical",
        "[ACKNOWLEDGED critical",
        "[RESOLVED critical",
    ]
    assert len({m["Message-ID"] for m in msgs}) == 3
    assert len({m["References"] for m in msgs}) == 1
    assert [m["Date"].datetime for m in msgs] == [
        alert(s).updated_at for s in ("firing", "acknowledged", "resolved")
    ]


async def test_451_is_retried_and_delivered_once_as_the_same_message() -> None:
    mailbox = Mailbox(data_replies=["451 4.3.0 Temporary local problem, try again later"])
    with smtp_server(mailbox) as port:
        ok, receipts = await run(plain_receiver(port), alert())
    assert ok
    assert receipts.outcomes == ["retried", "delivered"]
    assert receipts.log[0][2] == 451 and "451 4.3.0" in (receipts.log[0][3] or "")
    assert len(mailbox.seen) == 2 and len(mailbox.accepted) == 1
    first, second = (s.parsed() for s in mailbox.seen)
    assert first["Message-ID"] == second["Message-ID"]  # the retry is recognisably the same mail
    assert first.as_bytes() == second.as_bytes()


async def test_a_group_is_one_mail_retried_as_the_same_message() -> None:
    """As ``pipeline/oncall/group_notices.py`` sends it: ``send_group`` inside ``retry_call``."""
    alerts = tuple(
        Alert(**{**alert().asdict(), "topic": t, "dedup_key": f"brenmoor:{t}:20261122T0900Z"})
        for t in ("pricing", "scandal")
    )
    notice = GroupNotice("route.0|brand=brenmoor", (("brand", "brenmoor"),), alerts)
    mailbox = Mailbox(data_replies=["421 4.7.0 Try again later, closing connection"])
    receipts = Receipts()
    with smtp_server(mailbox) as port:
        receiver = plain_receiver(port)

        async def send() -> int | None:
            return await receiver.send_group(notice, idempotency_key="group/g@1/1/email")

        ok = await retry_call(send, policy=FAST, on_attempt=receipts)
    assert ok and receipts.outcomes == ["retried", "delivered"] and receipts.log[0][2] == 421
    (seen,) = mailbox.accepted
    msg = seen.parsed()
    assert seen.rcpt_tos == list(TO)
    assert msg.get_all("X-Tocsin-Dedup-Key") == [a.dedup_key for a in alerts]
    assert msg["Subject"].strip() == "[FIRING critical] 2 alerts for brenmoor: pricing, scandal"
    assert mailbox.seen[0].parsed()["Message-ID"] == msg["Message-ID"]


async def test_550_is_permanent_and_not_retried() -> None:
    mailbox = Mailbox(data_replies=["550 5.7.1 Message rejected as spam"])
    with smtp_server(mailbox) as port:
        ok, receipts = await run(plain_receiver(port), alert())
    assert not ok
    assert receipts.log == [(1, "failed", 550, "email: SMTP 550 5.7.1 Message rejected as spam")]
    assert len(mailbox.seen) == 1 and mailbox.accepted == []


async def test_every_recipient_refused_for_good_is_not_retried() -> None:
    unknown = ["550 5.1.1 No such user"]
    mailbox = Mailbox(rcpt_replies={TO[0]: list(unknown), TO[1]: list(unknown)})
    with smtp_server(mailbox) as port:
        ok, receipts = await run(plain_receiver(port), alert())
    assert not ok and receipts.outcomes == ["failed"] and receipts.log[0][2] == 550
    assert mailbox.seen == [] and mailbox.rcpt_commands == list(TO)


async def test_a_deferred_recipient_is_retried_alone() -> None:
    mailbox = Mailbox(rcpt_replies={TO[1]: ["450 4.2.1 Mailbox busy, try later"]})
    with smtp_server(mailbox) as port:
        ok, receipts = await run(plain_receiver(port), alert())
    assert ok and receipts.outcomes == ["retried", "delivered"]
    assert receipts.log[0][2] == 450
    assert [s.rcpt_tos for s in mailbox.accepted] == [[TO[0]], [TO[1]]]
    first, second = (s.parsed() for s in mailbox.accepted)
    assert first["Message-ID"] == second["Message-ID"]
    assert [a.addr_spec for a in second["To"].addresses] == list(TO)  # header names everyone


async def test_one_recipient_refused_for_good_still_delivers_to_the_others(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="pipeline.delivery.receivers.email")
    mailbox = Mailbox(rcpt_replies={TO[1]: ["550 5.1.1 No such user"]})
    with smtp_server(mailbox) as port:
        ok, receipts = await run(plain_receiver(port), alert())
    assert ok and receipts.outcomes == ["delivered"]
    assert [s.rcpt_tos for s in mailbox.accepted] == [[TO[0]]]
    (warning,) = [r for r in caplog.records if r.name == "pipeline.delivery.receivers.email"]
    assert "1 of 2 recipients refused for good (SMTP [550])" in warning.getMessage()
    assert TO[1] in warning.getMessage()


async def test_connection_refused_is_retried_then_failed() -> None:
    port = free_port()  # nothing listens here
    ok, receipts = await run(plain_receiver(port), alert(), RetryPolicy(3, 0.02, 0.05))
    assert not ok
    assert receipts.outcomes == ["retried", "retried", "failed"]
    assert all("transport error" in (entry[3] or "") for entry in receipts.log)


async def test_a_server_that_never_greets_times_out_and_is_retried() -> None:
    with socket.socket() as listener:  # accepts TCP (the kernel does), never says 220
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        port = listener.getsockname()[1]
        receiver = plain_receiver(port, timeout_s=0.3)
        started = datetime.now(UTC)
        ok, receipts = await run(receiver, alert(), RetryPolicy(2, 0.02, 0.05))
        elapsed = (datetime.now(UTC) - started).total_seconds()
    assert not ok and receipts.outcomes == ["retried", "failed"]
    assert all("timeout" in (entry[3] or "") for entry in receipts.log)
    assert elapsed < 5.0  # bounded by the explicit timeout, not by the OS


async def test_no_starttls_offered_is_permanent_and_the_password_never_leaves() -> None:
    mailbox = Mailbox()
    with smtp_server(mailbox, auth_require_tls=False) as port:
        receiver = plain_receiver(port, starttls=True, username=USER, password=SecretStr(PASSWORD))
        ok, receipts = await run(receiver, alert())
    assert not ok and receipts.outcomes == ["failed"]
    assert "STARTTLS" in (receipts.log[0][3] or "")
    assert mailbox.logins == [] and mailbox.seen == []


async def test_an_untrusted_certificate_is_permanent(certificate: tuple[Path, Path]) -> None:
    mailbox = Mailbox()
    with smtp_server(mailbox, tls_context=server_tls(certificate), require_starttls=True) as port:
        receiver = plain_receiver(
            port,
            starttls=True,
            username=USER,
            password=SecretStr(PASSWORD),
            tls_context=ssl.create_default_context(),  # system CAs: our self-signed cert is not in them
        )
        ok, receipts = await run(receiver, alert())
    assert not ok and receipts.outcomes == ["failed"]
    assert "certificate" in (receipts.log[0][3] or "")
    assert mailbox.logins == [] and mailbox.seen == []


async def test_bad_credentials_are_permanent_and_never_echoed(
    certificate: tuple[Path, Path], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    mailbox = Mailbox(echo_password_on_failure=True)
    wrong = "wrong-app-password-77aa"
    with smtp_server(
        mailbox, tls_context=server_tls(certificate), require_starttls=True, auth_required=True
    ) as port:
        receiver = plain_receiver(
            port,
            starttls=True,
            username=USER,
            password=SecretStr(wrong),
            tls_context=ssl.create_default_context(cafile=str(certificate[0])),
        )
        ok, receipts = await run(receiver, alert())
    assert not ok and receipts.outcomes == ["failed"] and receipts.log[0][2] == 535
    # the client tries each mechanism the server offers (PLAIN, LOGIN): one connection, no retry
    assert {entry[2] for entry in mailbox.logins} == {wrong}
    assert "***" in (receipts.log[0][3] or "")
    assert wrong not in repr(receipts.log)
    ours = [r.getMessage() for r in caplog.records if not r.name.startswith("mail.log")]
    assert not any(wrong in line for line in ours)  # (aiosmtpd's own debug log does show it)
    assert mailbox.seen == []
