"""Health data in alerts: adverse-event evidence leaves as counts and links unless cleared.

Each test sends through the real entry points (``retry.sender``, ``base.send_group``) to a
recording receiver, so what is checked is what a receiver would render.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from pipeline.delivery.health_data import WITHHELD, for_receiver, redacted, withheld
from pipeline.delivery.receivers import build_receivers
from pipeline.delivery.receivers.base import GroupNotice, send_group
from pipeline.delivery.receivers.named import parse_named_receivers
from pipeline.delivery.retry import sender
from pipeline.errors import ConfigError
from pipeline.records import HEALTH_FLAG, Alert
from pipeline.settings import make_settings
from tests.fakes import RecordingReceiver

T0 = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
AE_TEXT = "Took Glytera last week and woke up with a rash all over my face"
PRICE_TEXT = "Glytera price tripled overnight"
BOTH_TEXT = "Glytera doubled in price and my mother was hospitalised with a rash"


def mention(i: int, text: str, *, flagged: bool = False, **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": f"x:{i}",
        "text": text,
        "url": f"https://x.example/{i}",
        "platform": "x",
        "reach": 100 + i,
        **extra,
    }
    if flagged:
        out[HEALTH_FLAG] = True
    return out


def alert(topic: str, top: list[dict[str, Any]]) -> Alert:
    return Alert(
        dedup_key=f"brenmoor:{topic}:20261122T0900Z",
        state="firing",
        severity="critical",
        brand="brenmoor",
        topic=topic,
        started_at=T0,
        updated_at=T0,
        observed=40,
        expected=3,
        score=0.999,
        summary=f"40 {topic} mentions of brenmoor in 5 min",
        why={
            "top_mentions": [dict(m) for m in top],
            "first_source": {**top[0], "first": True},
            "top_authors": [{"id": "u1", "handle": "@jane_doe", "followers": 10}],
            "language": "en",
        },
        top_mentions=top,
    )


async def test_adverse_event_alert_reaches_an_uncleared_receiver_without_text() -> None:
    ae = alert("adverse_event", [mention(1, AE_TEXT), mention(2, AE_TEXT + " and fever")])
    comms, safety = RecordingReceiver("slack"), RecordingReceiver("safety-desk", cleared=True)
    for receiver in (comms, safety):
        await sender(receiver, ae, "k")()
    [body] = comms.bodies
    assert "rash" not in body and "@jane_doe" not in body
    assert WITHHELD in body and "https://x.example/1" in body and "https://x.example/2" in body
    assert '"observed": 40' in body  # the counts stay
    [cleared] = safety.bodies
    assert AE_TEXT in cleared and "@jane_doe" in cleared
    # the alert itself (as kept in the alert book and on the topic) is untouched
    assert ae.top_mentions is not None and ae.top_mentions[0]["text"] == AE_TEXT


async def test_a_flagged_mention_in_another_topic_is_withheld_alone() -> None:
    pricing = alert("pricing", [mention(1, PRICE_TEXT), mention(2, BOTH_TEXT, flagged=True)])
    out = redacted(pricing)
    assert out.top_mentions is not None and out.why is not None
    assert [m["text"] for m in out.top_mentions] == [PRICE_TEXT, WITHHELD]
    assert [m["text"] for m in out.why["top_mentions"]] == [PRICE_TEXT, WITHHELD]
    assert out.why["first_source"]["text"] == PRICE_TEXT
    # handles only go for a whole adverse-event alert
    assert out.why["top_authors"][0]["handle"] == "@jane_doe"
    # a first source that is the flagged one is withheld too
    first_flagged = alert("pricing", [mention(2, BOTH_TEXT, flagged=True), mention(1, PRICE_TEXT)])
    assert redacted(first_flagged).why["first_source"]["text"] == WITHHELD  # type: ignore[index]


def test_an_alert_without_health_data_is_passed_as_is() -> None:
    pricing = alert("pricing", [mention(1, PRICE_TEXT)])
    assert redacted(pricing) is pricing
    assert for_receiver(pricing, RecordingReceiver("slack")) is pricing


async def test_group_notices_are_redacted_per_receiver() -> None:
    ae = alert("adverse_event", [mention(1, AE_TEXT)])
    notice = GroupNotice(group="g", labels=(("brand", "brenmoor"),), alerts=(ae,))
    comms, safety = RecordingReceiver("teams"), RecordingReceiver("pv-hook", cleared=True)
    await send_group(comms, notice, idempotency_key="g/1")
    await send_group(safety, notice, idempotency_key="g/1")
    assert AE_TEXT not in comms.bodies[0] and WITHHELD in comms.bodies[0]
    assert AE_TEXT in safety.bodies[0]


ROUTING = """
route:
  receiver: console
receivers:
  - name: pv-hook
    health_data_cleared: true
    webhook_configs:
      - url_env: PV_URL
        secret_env: PV_SECRET
  - name: comms
    webhook_configs:
      - url_env: PV_URL
        secret_env: PV_SECRET
"""
ENV = {"PV_URL": "http://127.0.0.1:9/pv", "PV_SECRET": "a-webhook-secret-of-some-length"}


def test_the_routing_file_clears_named_receivers(tmp_path: Path) -> None:
    path = tmp_path / "routing.yaml"
    path.write_text(ROUTING, encoding="utf-8")
    named = {n.name: n.health_data_cleared for n in parse_named_receivers(ROUTING, env=ENV)}
    assert named == {"pv-hook": True, "comms": False}
    with pytest.MonkeyPatch.context() as mp:
        for k, v in ENV.items():
            mp.setenv(k, v)
        built = build_receivers(make_settings(routing_file=path))
    assert {r.name: r.health_data_cleared for r in built} == {
        "pv-hook": True,
        "comms": False,
        "console": False,
    }


def test_a_clearance_that_is_not_a_flag_is_refused() -> None:
    bad = ROUTING.replace("health_data_cleared: true", 'health_data_cleared: "yes"')
    with pytest.raises(ConfigError, match=r"<routing>:6: receivers\[0\].health_data_cleared"):
        parse_named_receivers(bad, env=ENV)


def test_counting_flags_top_mentions_classified_adverse_event() -> None:
    from pipeline.counting.buckets import add_mention
    from pipeline.records import Author, ClassifiedMention, Mention

    def classified(i: int, topics: list[str]) -> ClassifiedMention:
        m = Mention(
            id=f"x:{i}",
            platform="x",
            text=BOTH_TEXT,
            created_at=T0,
            brand="brenmoor",
            author=Author(id=f"u{i}"),
            brands=["brenmoor"],
        )
        scores = dict.fromkeys(topics, 0.9)
        return ClassifiedMention(
            mention=m, topics=topics, scores=scores, stance="critical", lang="en", model_version="t"
        )

    state: dict[str, Any] = {}
    tracked = ("pricing", "adverse_event")
    assert add_mention(state, classified(1, ["pricing", "adverse_event"]), tracked, 300)
    assert add_mention(state, classified(2, ["pricing"]), tracked, 300)
    [slot] = state["open"].values()
    flags = {t["id"]: t.get(HEALTH_FLAG, False) for t in slot["pricing"]["top"]}
    assert flags == {"x:1": True, "x:2": False}
    assert [t.get(HEALTH_FLAG) for t in slot["adverse_event"]["top"]] == [True]


def test_one_rule_for_receivers_and_the_console_whatever_the_mention_shape() -> None:
    """``withheld`` is the rule both alert delivery and the console pages show mentions through:
    an alert's flagged top mention, a store row classified adverse_event (its topics a string)
    or any mention of an adverse_event alert loses its text and handle; the rest is kept."""
    from pipeline.console import views

    top = mention(1, AE_TEXT, flagged=True)
    row = {**mention(2, BOTH_TEXT), "topics": "pricing adverse_event", "author_handle": "@m"}
    plain = {**mention(3, PRICE_TEXT), "topics": "pricing", "author_handle": "@p"}
    assert withheld(top, False) == {**top, "text": WITHHELD}
    assert withheld(row, False) == {**row, "text": WITHHELD, "author_handle": ""}
    assert withheld(plain, False) == plain and withheld(plain, False) is not plain
    assert withheld(plain, True) == {**plain, "text": WITHHELD, "author_handle": ""}
    assert withheld("not a mention", True) == "not a mention"
    for m, whole in ((top, False), (row, False), (plain, False), (plain, True)):
        assert views._withheld(m, whole, cleared=False) == withheld(m, whole)
        assert views._withheld(m, whole, cleared=True) is m
