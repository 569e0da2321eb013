"""E-mail messages of alert steps and group notices: subject, plain text and HTML, headers.

A retried send is the *same* message: the ``Message-ID`` is derived from the idempotency key, the
``Date`` is the alert step's own time and the MIME boundary is fixed (every attempt sends the
same bytes). All steps of one alert carry the same ``References`` so clients thread firing ->
acknowledged -> resolved together; a group notice has its own thread per group and an
``X-Tocsin-Dedup-Key`` header per alert. Sending is ``email.py``'s business.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Sequence
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime
from functools import cache
from pathlib import Path

import jinja2

from pipeline.delivery.receivers.base import GroupNotice
from pipeline.records import Alert

log = logging.getLogger(__name__)

DEDUP_HEADER = "X-Tocsin-Dedup-Key"
IDEMPOTENCY_HEADER = "X-Tocsin-Idempotency-Key"
TEMPLATES = Path(__file__).resolve().parent.parent / "templates" / "email"
SUMMARY_MAX = 2000
MENTION_MAX = 280
GROUP_MAX_SHOWN = 10  # alerts written out in one group mail; the rest are counted
GROUP_KEYS_MAX = 50  # X-Tocsin-Dedup-Key headers in one group mail
_SEVERITY_RANK = {"critical": 0, "warning": 1, "info": 2}
_COLOURS = {"critical": "#cf222e", "warning": "#9a6700", "info": "#0969da"}
_SPACE = re.compile(r"\s+")


def one_line(value: str) -> str:
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
    return one_line(
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
    return one_line(domain).strip("<>") or "tocsin.invalid"


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
        msg[DEDUP_HEADER] = one_line(key)
    msg[IDEMPOTENCY_HEADER] = one_line(idempotency_key)
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
    return one_line(f"[{state} {_worst_severity(notice)}] {rest}")


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
