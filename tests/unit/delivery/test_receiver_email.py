"""The e-mail receiver without a server: message building, SMTP error mapping, settings, wiring.

Messages are checked after a round trip through the stdlib parser (what a mail client does), so
a part that is built but would not parse, or a header that folds wrongly, fails here.
"""

from __future__ import annotations

import ssl
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import aiosmtplib
import pytest
from pydantic import SecretStr, ValidationError

from pipeline.delivery.receivers import build_receivers
from pipeline.delivery.receivers.base import GroupNotice
from pipeline.delivery.receivers.email import (
    DEDUP_HEADER,
    EmailReceiver,
    build_group_message,
    build_message,
    classify_smtp_error,
    email_subject,
    message_id,
)
from pipeline.errors import DeliveryError, PermanentDelivery, RetryableDelivery
from pipeline.records import Alert
from pipeline.settings import make_settings

T0 = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
SENDER = "tocsin@alerts.example"
TO = ("comms@brenmoor.example", "oncall@brenmoor.example")


def alert(**over: Any) -> Alert:
    values: dict[str, Any] = {
        "dedup_key": "brenmoor:pricing:20261122T0900Z",
        "state": "firing",
        "severity": "critical",
        "brand": "brenmoor",
        "topic": "pricing",
        "started_at": T0,
        "updated_at": T0,
        "observed": 412.0,
        "expected": 35.04,
        "score": 0.9999,
        "summary": "412 pricing mentions in 5 min vs 35 expected",
        "top_mentions": [
            {"id": "x:1", "text": "they tripled the price", "url": "https://x.example/1"}
        ],
    }
    values.update(over)
    return Alert(**values)


def parsed(a: Alert, key: str = "brenmoor:pricing:20261122T0900Z/firing/email") -> EmailMessage:
    built = build_message(
        a, idempotency_key=key, sender=SENDER, recipients=TO, link="https://tocsin.example/a"
    )
    return message_from_bytes(built.as_bytes(), policy=policy.default)


def parts(msg: EmailMessage) -> tuple[str, str]:
    plain, html = msg.get_body(("plain",)), msg.get_body(("html",))
    assert plain is not None and html is not None
    return plain.get_content(), html.get_content()


def test_subject_reads_like_the_example() -> None:
    assert email_subject(alert()) == (
        "[FIRING critical] brenmoor pricing: 412 mentions vs 35 expected"
    )
    assert email_subject(alert(state="resolved", topic="adverse_event", expected=3.25)) == (
        "[RESOLVED critical] brenmoor adverse event: 412 mentions vs 3.2 expected"
    )


def test_message_has_both_parts_and_the_headers() -> None:
    msg = parsed(alert())
    assert msg.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in msg.iter_parts()] == ["text/plain", "text/html"]
    assert msg["Subject"] == "[FIRING critical] brenmoor pricing: 412 mentions vs 35 expected"
    assert msg["From"] == SENDER
    assert [a.addr_spec for a in msg["To"].addresses] == list(TO)
    assert msg[DEDUP_HEADER] == "brenmoor:pricing:20261122T0900Z"
    assert msg["X-Tocsin-Idempotency-Key"] == "brenmoor:pricing:20261122T0900Z/firing/email"
    assert msg["Auto-Submitted"] == "auto-generated"
    assert msg["Date"].datetime == T0
    plain, html = parts(msg)
    assert "412 pricing mentions in 5 min vs 35 expected" in plain
    assert "- they tripled the price https://x.example/1" in plain
    assert "Open in Tocsin: https://tocsin.example/a" in plain
    assert '<a href="https://x.example/1">they tripled the price</a>' in html
    assert '<a href="https://tocsin.example/a">Open in Tocsin</a>' in html
    for raw in msg.as_bytes().splitlines():  # 7-bit clean: no relay needs 8BITMIME
        assert all(byte < 128 for byte in raw)


def test_html_escapes_other_peoples_words_and_drops_unsafe_links() -> None:
    nasty = '<script>alert("x")</script> & <b>Prix</b> élevé'
    msg = parsed(
        alert(
            summary=nasty,
            top_mentions=[{"text": "<img src=x onerror=1>", "url": "javascript:alert(1)"}],
        )
    )
    plain, html = parts(msg)
    assert nasty in plain  # plain text carries the words as written
    assert "<script>" not in html and "<img" not in html and "javascript:" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; &lt;b&gt;Prix&lt;/b&gt;" in html
    assert "élevé" in html
    assert "&lt;img src=x onerror=1&gt;" in html


def test_header_injection_is_flattened() -> None:
    msg = parsed(alert(brand="brenmoor\r\nBcc: everyone@example.com"))
    assert msg["Bcc"] is None
    assert "\n" not in msg["Subject"] and "Bcc: everyone@example.com" in msg["Subject"]


def test_message_id_is_deterministic_per_idempotency_key() -> None:
    first = parsed(alert())
    again = parsed(alert())
    assert first["Message-ID"] == again["Message-ID"]
    assert first.as_bytes() == again.as_bytes()  # boundary included: a retry sends the same bytes
    assert first["Message-ID"] == message_id(
        "brenmoor:pricing:20261122T0900Z/firing/email", "alerts.example"
    )
    assert first["Message-ID"].endswith("@alerts.example>")
    acked = parsed(
        alert(state="acknowledged", updated_at=T0 + timedelta(minutes=5)),
        key="brenmoor:pricing:20261122T0900Z/acknowledged/email",
    )
    assert acked["Message-ID"] != first["Message-ID"]
    # one thread per alert: every step refers to the same id
    assert acked["References"] == first["References"] == first["In-Reply-To"]
    other = parsed(alert(dedup_key="brenmoor:scandal:20261122T0900Z"), key="other/firing/email")
    assert other["References"] != first["References"]


def refused(code: int, who: str = "a@x.example") -> aiosmtplib.SMTPRecipientRefused:
    return aiosmtplib.SMTPRecipientRefused(code, "mailbox busy", who)


def cert_error() -> aiosmtplib.SMTPConnectError:
    exc = aiosmtplib.SMTPConnectError("Error connecting to smtp.example on port 465")
    exc.__cause__ = ssl.SSLCertVerificationError(1, "certificate verify failed")
    return exc


@pytest.mark.parametrize(
    ("exc", "kind", "status"),
    [
        (aiosmtplib.SMTPResponseException(421, "service not available"), RetryableDelivery, 421),
        (aiosmtplib.SMTPDataError(451, "4.3.0 try again later"), RetryableDelivery, 451),
        (aiosmtplib.SMTPDataError(552, "5.3.4 message too big"), PermanentDelivery, 552),
        (aiosmtplib.SMTPSenderRefused(553, "not ours", SENDER), PermanentDelivery, 553),
        (aiosmtplib.SMTPAuthenticationError(535, "5.7.8 bad credentials"), PermanentDelivery, 535),
        (aiosmtplib.SMTPAuthenticationError(454, "4.7.0 try later"), RetryableDelivery, 454),
        (aiosmtplib.SMTPConnectResponseError(554, "no service"), PermanentDelivery, 554),
        (aiosmtplib.SMTPRecipientsRefused([refused(550), refused(450)]), RetryableDelivery, 450),
        (aiosmtplib.SMTPRecipientsRefused([refused(550), refused(551)]), PermanentDelivery, 550),
        (aiosmtplib.SMTPServerDisconnected("Connection lost"), RetryableDelivery, None),
        (aiosmtplib.SMTPConnectError("Error connecting"), RetryableDelivery, None),
        (aiosmtplib.SMTPConnectTimeoutError("Timed out connecting"), RetryableDelivery, None),
        (aiosmtplib.SMTPReadTimeoutError("Timed out waiting"), RetryableDelivery, None),
        (ConnectionRefusedError(111, "refused"), RetryableDelivery, None),
        (
            aiosmtplib.SMTPNotSupported("SMTP STARTTLS extension not supported"),
            PermanentDelivery,
            None,
        ),
        (cert_error(), PermanentDelivery, None),
        (ValueError("Invalid address"), PermanentDelivery, None),
    ],
)
def test_smtp_errors_map_onto_the_retry_classification(
    exc: BaseException, kind: type[DeliveryError], status: int | None
) -> None:
    error = classify_smtp_error(exc)
    assert type(error) is kind
    assert error.status_code == status
    assert str(error).startswith("email: ")
    if isinstance(exc, TimeoutError):
        assert "timeout" in str(error)


def receiver_settings(**over: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "console_alerts": False,
        "smtp_host": "smtp.example",
        "smtp_from": SENDER,
        "email_to": "comms@brenmoor.example, oncall@brenmoor.example",
    }
    values.update(over)
    return values


def test_settings_build_the_email_receiver() -> None:
    (receiver,) = build_receivers(
        make_settings(
            **receiver_settings(smtp_username="tocsin", smtp_password="app-password-0123")
        )
    )
    assert isinstance(receiver, EmailReceiver) and receiver.name == "email"
    state = vars(receiver)
    assert state["_to"] == TO and state["_starttls"] is True and state["_tls"] is False
    assert isinstance(state["_password"], SecretStr)
    assert "app-password-0123" not in repr(make_settings(**receiver_settings()))
    (implicit,) = build_receivers(make_settings(**receiver_settings(smtp_tls=True)))
    assert vars(implicit)["_starttls"] is False and vars(implicit)["_tls"] is True


@pytest.mark.parametrize(
    ("values", "needle"),
    [
        ({"smtp_host": "smtp.example"}, "TOCSIN_SMTP_FROM, TOCSIN_EMAIL_TO"),
        ({"email_to": "a@x.example"}, "TOCSIN_SMTP_HOST, TOCSIN_SMTP_FROM"),
        ({"smtp_username": "tocsin"}, "go together"),
        (receiver_settings(smtp_username="tocsin"), "TOCSIN_SMTP_PASSWORD go together"),
        (receiver_settings(smtp_password="app-password-0123"), "go together"),
        (
            receiver_settings(
                smtp_username="tocsin", smtp_password="app-password-0123", smtp_starttls=False
            ),
            "never sent in clear",
        ),
        (receiver_settings(smtp_username="tocsin", smtp_password="changeme"), "placeholder"),
        (receiver_settings(email_to="a@x.example, not an address"), "not a plain e-mail address"),
        (receiver_settings(email_to="a@x.example,a@x.example"), "listed twice"),
        (receiver_settings(smtp_from="Tocsin <tocsin@alerts.example>"), "not a plain e-mail"),
    ],
)
def test_half_configured_email_is_refused(values: dict[str, Any], needle: str) -> None:
    with pytest.raises(ValidationError) as info:
        make_settings(**values)
    assert needle in str(info.value)
    assert "app-password-0123" not in str(info.value)


def test_recipients_come_from_the_environment_as_a_comma_list(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TOCSIN_SMTP_HOST", "smtp.example")
    monkeypatch.setenv("TOCSIN_SMTP_FROM", SENDER)
    monkeypatch.setenv("TOCSIN_EMAIL_TO", " comms@brenmoor.example,oncall@brenmoor.example ,")
    monkeypatch.setenv("TOCSIN_SMTP_PASSWORD", "app-password-0123")
    monkeypatch.setenv("TOCSIN_SMTP_USERNAME", "tocsin")
    settings = make_settings()
    assert settings.email_to == TO
    assert settings.smtp_password is not None
    assert settings.smtp_password.get_secret_value() == "app-password-0123"


def test_receiver_refuses_tls_and_starttls_together() -> None:
    with pytest.raises(ValueError, match="exclude each other"):
        EmailReceiver("smtp.example", SENDER, TO, starttls=True, tls=True)


def notice(count: int = 3, **over: Any) -> GroupNotice:
    topics = ["pricing", "scandal", "adverse_event"] + [f"topic{i}" for i in range(count)]
    alerts = tuple(
        alert(
            dedup_key=f"brenmoor:{topics[i]}:20261122T0900Z",
            topic=topics[i],
            severity="critical" if i == 1 else "warning",
            updated_at=T0 + timedelta(minutes=i),
            summary=f"spike <{i}>",
        )
        for i in range(count)
    )
    values: dict[str, Any] = {
        "group": "route.0|brand=brenmoor",
        "labels": (("brand", "brenmoor"),),
        "alerts": alerts,
    }
    values.update(over)
    return GroupNotice(**values)


def parsed_group(
    n: GroupNotice, key: str = "group/route.0|brand=brenmoor@1/1/email"
) -> EmailMessage:
    built = build_group_message(
        n, idempotency_key=key, sender=SENDER, recipients=TO, link="https://tocsin.example/a"
    )
    return message_from_bytes(built.as_bytes(), policy=policy.default)


def test_group_mail_lists_every_alert_in_one_message() -> None:
    msg = parsed_group(notice())
    # 70-78 characters: the stdlib folds the whole value onto the next line, and its parser keeps
    # that fold's space (mail clients unfold it away), hence the strip
    assert msg["Subject"].strip() == (
        "[FIRING critical] 3 alerts for brenmoor: pricing, scandal, adverse event"
    )
    assert msg.get_all(DEDUP_HEADER) == [
        "brenmoor:pricing:20261122T0900Z",
        "brenmoor:scandal:20261122T0900Z",
        "brenmoor:adverse_event:20261122T0900Z",
    ]
    assert msg["Date"].datetime == T0 + timedelta(minutes=2)  # the latest step's time
    plain, html = parts(msg)
    assert plain.count("* brenmoor / ") == 3 and "Group: route.0|brand=brenmoor" in plain
    assert "spike <2>" in plain and "spike &lt;2&gt;" in html and "spike <2>" not in html
    assert html.count("Key brenmoor:") == 3
    assert msg.as_bytes() == parsed_group(notice()).as_bytes()
    update = parsed_group(notice(sequence=2), key="group/route.0|brand=brenmoor@1/2/email")
    assert update["Subject"].endswith("(update)")
    assert update["Message-ID"] != msg["Message-ID"]
    assert update["References"] == msg["References"]  # one thread per group


def test_a_large_group_is_cut_and_counted() -> None:
    plain, html = parts(parsed_group(notice(25)))
    assert plain.count("* brenmoor / ") == 10
    assert "... and 15 more alerts in this group" in plain
    assert "and 15 more alerts in this group" in html
