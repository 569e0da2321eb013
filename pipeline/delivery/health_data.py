"""Health data stays inside: adverse-event evidence leaves as counts and links, never as text.

A mention classified ``adverse_event`` is health data about the person who wrote it (or about
someone they name). Alert notifications go to channels a comms team reads -- Slack, Teams,
PagerDuty, Opsgenie, e-mail, webhooks, Alertmanager -- which are not safety channels, so before an
alert step reaches a receiver, :func:`for_receiver` withholds the evidence text of

* every top mention (``top_mentions``, ``why.top_mentions``, ``why.first_source``) of an alert
  whose topic is ``adverse_event``, and
* every top mention flagged ``adverse_event`` by counting (a multi-label mention in, say, a
  pricing surge), whatever the alert's topic,

and the handles of the top authors of an ``adverse_event`` alert. Counts, ids, platforms, reach
and links stay, so a responder can still open the post where they have the right to. A receiver
marked ``health_data_cleared: true`` in the routing file (``named.py``: a safety mailbox, the PV
system's webhook) gets the alert untouched.

This is the one place it happens: ``retry.sender`` (every single-alert send, including
``tocsin notify test``) and ``base.send_group`` (every grouped notification) pass each alert
through here, so no receiver renders evidence it should not have.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from pipeline.records import HEALTH_FLAG as FLAG
from pipeline.records import HEALTH_TOPIC, Alert

if TYPE_CHECKING:
    from pipeline.delivery.receivers.base import GroupNotice, Outbound

#: What a withheld mention's text reads as, in every receiver's rendering.
WITHHELD = "[adverse-event mention withheld: health data; open the link]"


def is_health_data(mention: Mapping[str, Any], whole_alert: bool) -> bool:
    """Whether a mention is health data: any of an ``adverse_event`` alert's (``whole_alert``),
    or one flagged ``adverse_event`` (an alert's top mentions carry the flag) or classified so
    (the console store's rows carry their topics, space-separated)."""
    if whole_alert or mention.get(FLAG):
        return True
    topics = mention.get("topics") or ()
    return HEALTH_TOPIC in (topics.split() if isinstance(topics, str) else topics)


def withheld(mention: Any, whole_alert: bool) -> Any:
    """A mention as a reader not cleared for health data may see it (a copy): the text of a
    health-data mention (:func:`is_health_data`) reads :data:`WITHHELD` and its author's handle
    is blank; ids, platform, reach and the link stay. Alert receivers (:func:`redacted`) and the
    console's pages (``pipeline.console.views``) both show mentions through it."""
    if not isinstance(mention, Mapping):
        return mention
    shown = dict(mention)
    if not is_health_data(mention, whole_alert):
        return shown
    if "text" in shown:
        shown["text"] = WITHHELD
    if "author_handle" in shown:
        shown["author_handle"] = ""
    return shown


def _mentions(items: Any, whole_alert: bool) -> Any:
    if not isinstance(items, list):
        return items
    return [withheld(m, whole_alert) for m in items]


def _quotes_health_data(topic: Any, why: Any, top_mentions: Any) -> bool:
    if topic == HEALTH_TOPIC:
        return True
    why = why if isinstance(why, Mapping) else {}
    quoted = [*(top_mentions if isinstance(top_mentions, list) else [])]
    quoted += why.get("top_mentions") if isinstance(why.get("top_mentions"), list) else []
    first = why.get("first_source")
    if isinstance(first, Mapping):
        quoted.append(first)
    return any(isinstance(m, Mapping) and m.get(FLAG) for m in quoted)


def _withheld_why(why: Any, whole: bool) -> Any:
    if not isinstance(why, Mapping):
        return why
    out = dict(why)
    if "top_mentions" in out:
        out["top_mentions"] = _mentions(out["top_mentions"], whole)
    if out.get("first_source") is not None:
        out["first_source"] = withheld(out["first_source"], whole)
    if whole and isinstance(out.get("top_authors"), list):
        out["top_authors"] = [
            {k: v for k, v in a.items() if k != "handle"} if isinstance(a, Mapping) else a
            for a in out["top_authors"]
        ]
    return out


def has_health_data(alert: Alert) -> bool:
    """Whether ``alert`` carries any evidence text that counts as health data."""
    return _quotes_health_data(alert.topic, alert.why, alert.top_mentions)


def redacted(alert: Alert) -> Alert:
    """``alert`` with its health-data evidence withheld (a copy; the original is untouched)."""
    if not has_health_data(alert):
        return alert
    whole = alert.topic == HEALTH_TOPIC
    fields = {name: getattr(alert, name) for name in alert.asdict()}
    fields.update(
        why=_withheld_why(alert.why, whole), top_mentions=_mentions(alert.top_mentions, whole)
    )
    return Alert(**fields)


def redacted_json(alert: Mapping[str, Any]) -> dict[str, Any]:
    """An alert as stored (a JSON object, ``GET /api/alerts``) with the same evidence withheld,
    the tipping mention's text included: the API's token is no clearance for health data."""
    out = dict(alert)
    topic, why, tops = out.get("topic"), out.get("why"), out.get("top_mentions")
    if not _quotes_health_data(topic, why, tops):
        return out
    whole = topic == HEALTH_TOPIC
    out["why"], out["top_mentions"] = _withheld_why(why, whole), _mentions(tops, whole)
    if out.get("tipping_mention") is not None:
        out["tipping_mention"] = withheld(out["tipping_mention"], whole)
    return out


def for_receiver(alert: Alert, receiver: Outbound) -> Alert:
    """The alert as ``receiver`` may see it: whole if it is cleared for health data."""
    return alert if receiver.health_data_cleared else redacted(alert)


def notice_for(notice: GroupNotice, receiver: Outbound) -> GroupNotice:
    """A group notice as ``receiver`` may see it (each alert through :func:`for_receiver`)."""
    if receiver.health_data_cleared:
        return notice
    return replace(notice, alerts=tuple(redacted(a) for a in notice.alerts))
