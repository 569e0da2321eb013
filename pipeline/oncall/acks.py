"""Acknowledgements from where people are: a Slack button, a PagerDuty webhook, or the API.

Each source proves itself differently, and each proof is checked before its body is trusted:

* Slack signs interactivity requests with scheme ``v0``: ``X-Slack-Signature`` is
  ``v0=`` + HMAC-SHA256(signing secret, ``v0:{X-Slack-Request-Timestamp}:{raw body}``), and a
  timestamp more than five minutes from now is refused (a replayed request);
* PagerDuty v3 webhooks send ``X-PagerDuty-Signature: v1=<hex>[,v1=<hex>...]`` (several while a
  secret is being rotated), each HMAC-SHA256(secret, raw body). The signature covers the body
  only, with no timestamp, so a captured body stays valid: its ``event.id`` travels with the
  acknowledgement and an event id already recorded for that alert is applied no more by
  ``acknowledge_alerts`` (a re-delivery or a replay changes nothing, not even after an
  acknowledgement ran out and the alert climbs again);
* the API uses the bearer token of ``/api/*``.

All three turn into one :class:`~pipeline.oncall.escalation.Ack` keyed by the alert's dedup key:
Slack's button carries it as its ``value`` and PagerDuty echoes it as the incident's
``incident_key`` (the Events API ``dedup_key`` Tocsin set).
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

from pydantic import SecretStr

from pipeline import safejson
from pipeline.approvals import slack_verify
from pipeline.approvals.errors import SignatureRefused
from pipeline.errors import TocsinError
from pipeline.oncall.escalation import Ack

SLACK_ACTIONS = {"tocsin_acknowledge": "acknowledge", "tocsin_resolve": "resolve"}
PAGERDUTY_EVENTS = {"incident.acknowledged": "acknowledge", "incident.resolved": "resolve"}
MAX_DEDUP_KEY = 255


class AckRejected(TocsinError, ValueError):
    """A request claiming to acknowledge an alert failed verification or is malformed."""


def verify_slack(secret: SecretStr, headers: dict[str, str], body: bytes, *, now: float) -> None:
    """Raise :class:`AckRejected` unless Slack signed ``body`` within the last five minutes.

    The check itself is the approvals flow's (``pipeline/approvals/slack_verify.py``): one Slack
    app, one signing secret, one implementation of the scheme.
    """
    try:
        slack_verify.verify_headers(secret, body=body, headers=headers, now=now)
    except SignatureRefused as exc:
        raise AckRejected(f"Slack: {exc.reason}") from None


def pagerduty_signature(secret: SecretStr, body: bytes) -> str:
    key = secret.get_secret_value().encode()
    return "v1=" + hmac.new(key, body, hashlib.sha256).hexdigest()


def verify_pagerduty(secret: SecretStr, headers: dict[str, str], body: bytes) -> None:
    """Raise :class:`AckRejected` unless one of the ``v1=`` signatures matches ``body``."""
    given = [s.strip() for s in headers.get("x-pagerduty-signature", "").split(",") if s.strip()]
    expected = pagerduty_signature(secret, body).encode("ascii")
    # Bytes on both sides: compare_digest refuses a str with non-ASCII characters (TypeError).
    if not any(hmac.compare_digest(expected, s.encode("utf-8", "replace")) for s in given[:8]):
        raise AckRejected("PagerDuty signature missing or mismatched")


def _key(value: Any) -> str:
    if not isinstance(value, str) or not 0 < len(value) <= MAX_DEDUP_KEY:
        raise AckRejected("no usable dedup key")
    return value


def _obj(value: Any) -> dict[str, Any]:
    """``value`` when it is a JSON object, else an empty one (a signed body may still be odd)."""
    return value if isinstance(value, dict) else {}


def parse_slack_action(body: bytes, *, now: datetime) -> Ack | None:
    """The Tocsin button a user pressed (None for any other interaction)."""
    form = parse_qs(body.decode("utf-8", "replace"))
    try:
        payload = safejson.loads(form["payload"][0])
    except (KeyError, IndexError, ValueError):
        raise AckRejected("no JSON payload field") from None
    if not isinstance(payload, dict) or payload.get("type") != "block_actions":
        return None
    actions = payload.get("actions")
    for action in actions if isinstance(actions, list) else []:
        kind = SLACK_ACTIONS.get(str(_obj(action).get("action_id", "")))
        if kind is not None:
            user = _obj(payload.get("user"))
            who = str(user.get("username") or user.get("name") or user.get("id") or "slack")
            return Ack(_key(_obj(action).get("value")), now, who[:100], "slack", kind)
    return None


def parse_pagerduty_event(body: bytes, *, now: datetime) -> Ack | None:
    """An acknowledged/resolved incident from a v3 webhook (None for other event types)."""
    try:
        envelope = safejson.loads(body)
    except ValueError:
        raise AckRejected("body is not JSON") from None
    event = envelope.get("event") if isinstance(envelope, dict) else None
    if not isinstance(event, dict):
        raise AckRejected("no event object")
    kind = PAGERDUTY_EVENTS.get(str(event.get("event_type", "")))
    data = event.get("data")
    if kind is None or not isinstance(data, dict) or data.get("type") != "incident":
        return None
    agent = _obj(event.get("agent"))
    who = str(agent.get("summary") or agent.get("id") or "pagerduty")
    at = now
    occurred = event.get("occurred_at")
    if isinstance(occurred, str):
        try:
            at = datetime.fromisoformat(occurred.replace("Z", "+00:00")).astimezone(UTC)
        except (ValueError, OverflowError):  # 9999-12-31T23:59:59-23:59 is past year 9999 in UTC
            at = now
    event_id = event.get("id")
    return Ack(
        _key(data.get("incident_key")),
        min(at, now),
        who[:100],
        "pagerduty",
        kind,
        event_id[:100] if isinstance(event_id, str) and event_id else None,
    )


def ack_to_dict(ack: Ack) -> dict[str, Any]:
    out = {"at": ack.at.isoformat(), "by": ack.by, "via": ack.via, "action": ack.action}
    if ack.event_id is not None:
        out["event_id"] = ack.event_id
    return out
