"""On-call logic with an injected clock: silences, inhibition, grouping, escalation, acks."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import pytest
from pydantic import SecretStr

from pipeline.approvals.slack_verify import sign as slack_signature
from pipeline.errors import ConfigError
from pipeline.oncall.acks import (
    AckRejected,
    pagerduty_signature,
    parse_pagerduty_event,
    parse_slack_action,
    verify_pagerduty,
    verify_slack,
)
from pipeline.oncall.escalation import EscalationPolicy, Level, due_steps
from pipeline.oncall.grouping import Grouper
from pipeline.oncall.inhibition import DEFAULT_RULES, inhibited_by
from pipeline.oncall.routing import Grouping, parse_routing
from pipeline.oncall.silences import (
    SilenceError,
    parse_silence,
    silence_from_dict,
    silenced_by,
)

T0 = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def labels(**over: str) -> dict[str, str]:
    return {
        "brand": "brenmoor",
        "topic": "pricing",
        "severity": "warning",
        "state": "firing",
    } | over


# -- silences ----------------------------------------------------------------------------------
def silence_body(**over: Any) -> dict[str, Any]:
    return {
        "matchers": [{"name": "brand", "value": "brenmoor"}],
        "startsAt": at(0).isoformat(),
        "endsAt": at(60).isoformat(),
        "createdBy": "ana",
        "comment": "planned price announcement",
    } | over


def test_silence_mutes_matching_firing_alerts_only_while_active() -> None:
    s = parse_silence(silence_body(startsAt=at(10).isoformat()), silence_id="s1", now=at(0))
    assert s.state(at(0)) == "pending" and not s.mutes(labels(), at(5))
    assert s.state(at(10)) == "active" and s.mutes(labels(), at(10))
    assert not s.mutes(labels(brand="quillon"), at(20))
    assert s.state(at(70)) == "expired" and not s.mutes(labels(), at(70))
    assert silenced_by(labels(), "firing", [s], at(30)) is s
    assert silenced_by(labels(), "escalated", [s], at(30)) is s
    assert silenced_by(labels(state="resolved"), "resolved", [s], at(30)) is None  # always sent


def test_silence_regex_and_negative_matchers() -> None:
    body = silence_body(
        matchers=[
            {"name": "topic", "value": "pricing|boycott", "isRegex": True},
            {"name": "severity", "value": "critical", "isEqual": False},
        ]
    )
    s = parse_silence(body, silence_id="s2", now=at(0))
    assert s.mutes(labels(topic="boycott"), at(1))
    assert not s.mutes(labels(topic="scandal"), at(1))
    assert not s.mutes(labels(severity="critical"), at(1))
    assert not s.mutes(labels(topic="pricingx"), at(1))  # anchored at both ends


def test_silence_expire_and_round_trip() -> None:
    s = parse_silence(silence_body(), silence_id="s3", now=at(0))
    ended = s.expired(at(20))
    assert ended.ends_at == at(20) and ended.state(at(20)) == "expired"
    assert not ended.mutes(labels(), at(21))
    assert silence_from_dict(s.to_dict()) == s
    assert s.to_dict(at(5))["status"] == {"state": "active"}


@pytest.mark.parametrize(
    ("over", "field"),
    [
        ({"matchers": []}, "matchers"),
        ({"matchers": [{"name": "author", "value": "x"}]}, "matchers[0].name"),
        ({"matchers": [{"name": "brand", "value": "(", "isRegex": True}]}, "bad regular"),
        ({"matchers": [{"name": "brand", "value": ".*", "isRegex": True}]}, "empty label"),
        ({"endsAt": at(-1).isoformat()}, "endsAt"),
        ({"endsAt": "tomorrow"}, "endsAt"),
        ({"endsAt": "2026-11-22T12:00:00"}, "time zone"),
        ({"endsAt": at(60 * 24 * 31).isoformat()}, "30 days"),
        ({"createdBy": ""}, "createdBy"),
        ({"comment": None}, "comment"),
    ],
)
def test_bad_silences_name_the_field(over: dict[str, Any], field: str) -> None:
    with pytest.raises(SilenceError, match=field.replace("[", r"\[").replace("]", r"\]")):
        parse_silence(silence_body(**over), silence_id="x", now=at(0))


# -- inhibition --------------------------------------------------------------------------------
def test_critical_mutes_warnings_of_same_brand_and_topic() -> None:
    critical = ("k-crit", labels(severity="critical"))
    assert inhibited_by("k-warn", labels(), [critical]) == "k-crit"
    assert inhibited_by("k-warn", labels(topic="boycott"), [critical]) is None
    assert inhibited_by("k-warn", labels(brand="quillon"), [critical]) is None
    resolved_critical = ("k-crit", labels(severity="critical", state="resolved"))
    assert inhibited_by("k-warn", labels(), [resolved_critical]) is None
    # an alert never mutes itself, and a resolved notice is never muted
    assert inhibited_by("k-crit", labels(severity="critical"), [critical]) is None
    assert inhibited_by("k-warn", labels(state="resolved"), [critical]) is None
    assert len(DEFAULT_RULES) == 1


def test_inhibit_rules_from_routing_file() -> None:
    tree = parse_routing(
        "route: {receiver: slack}\n"
        "inhibit_rules:\n"
        "  - source_match: {topic: scandal}\n"
        "    target_match_re: {topic: 'pricing|advocacy'}\n"
        "    equal: [brand]\n"
    )
    assert tree.inhibit_rules is not None
    scandal = ("k1", labels(topic="scandal", severity="info"))
    assert inhibited_by("k2", labels(topic="advocacy"), [scandal], tree.inhibit_rules) == "k1"
    assert inhibited_by("k2", labels(), [("k1", labels(severity="critical"))], ()) is None
    assert parse_routing("route: {receiver: slack}\n").inhibit_rules is None  # defaults apply


def test_bad_inhibit_rule_names_line_and_field() -> None:
    text = "route: {receiver: slack}\ninhibit_rules:\n  - target_match: {severity: warning}\n"
    with pytest.raises(ConfigError, match=r"<routing>:3: inhibit_rules\[0\]: needs source_match"):
        parse_routing(text)


# -- grouping ----------------------------------------------------------------------------------
BY_BRAND = Grouping(("brand",), group_wait_s=30, group_interval_s=300, repeat_interval_s=3600)


def put(g: Grouper, key: str, state: str, now: float, brand: str = "brenmoor") -> None:
    g.add(
        ("route", (("brand", brand),)),
        BY_BRAND,
        ("slack",),
        key,
        {"dedup_key": key, "state": state, "brand": brand},
        now,
    )


def test_group_wait_batches_a_burst_into_one_notification() -> None:
    g = Grouper()
    put(g, "brenmoor:pricing", "firing", 0)
    put(g, "brenmoor:boycott", "firing", 10)
    put(g, "quillon:pricing", "firing", 12, brand="quillon")
    assert g.due(29) == []
    first = g.due(30)
    assert len(first) == 1 and first[0].sequence == 1
    assert [a["dedup_key"] for a in first[0].alerts] == ["brenmoor:boycott", "brenmoor:pricing"]
    (quillon,) = g.due(42)
    assert [a["dedup_key"] for a in quillon.alerts] == ["quillon:pricing"]


def test_group_interval_limits_updates_and_repeat_resends() -> None:
    g = Grouper()
    put(g, "a", "firing", 0)
    assert len(g.due(30)) == 1
    put(g, "b", "firing", 40)  # joins a notified group: waits for the group_interval tick
    assert g.due(100) == [] and g.due(329) == []
    (update,) = g.due(330)
    assert update.sequence == 2 and {a["dedup_key"] for a in update.alerts} == {"a", "b"}
    assert g.due(630) == []  # nothing changed: no message at the next tick
    repeats = [n for t in range(630, 30 + 3600 + 301, 300) for n in g.due(t)]
    assert len(repeats) == 1 and repeats[0].repeat  # re-sent once repeat_interval has passed


def test_resolved_alert_is_sent_once_then_leaves_the_group() -> None:
    g = Grouper()
    put(g, "a", "firing", 0)
    g.due(30)
    put(g, "a", "resolved", 50)
    (resolved,) = g.due(330)
    assert [a["state"] for a in resolved.alerts] == ["resolved"]
    assert len(g) == 0 and g.due(10_000) == [] and g.next_due() is None


def test_same_state_again_is_not_a_change() -> None:
    g = Grouper()
    put(g, "a", "firing", 0)
    g.due(30)
    put(g, "a", "firing", 60)  # a redelivered step after a restart
    assert g.due(330) == []


# -- escalation --------------------------------------------------------------------------------
POLICY = EscalationPolicy(
    "crisis", (Level(600, ("pagerduty",)), Level(1800, ("webhook",))), ack_timeout_s=3600
)


def test_unacknowledged_alert_climbs_the_levels() -> None:
    assert due_steps(POLICY, fired_at=at(0), now=at(9)) == []
    assert due_steps(POLICY, fired_at=at(0), now=at(10)) == [(0, 1)]
    assert due_steps(POLICY, fired_at=at(0), now=at(45)) == [(0, 1), (0, 2)]


def test_acknowledgement_stops_the_climb_until_it_times_out() -> None:
    acked = [at(15)]
    assert due_steps(POLICY, fired_at=at(0), now=at(40), acked=acked) == [(0, 1)]
    assert due_steps(POLICY, fired_at=at(0), now=at(75 + 9), acked=acked) == [(0, 1)]
    # the ack ran out at 75 min with the alert still open: a new round from there
    assert due_steps(POLICY, fired_at=at(0), now=at(85), acked=acked) == [(0, 1), (1, 1)]
    assert due_steps(POLICY, fired_at=at(0), now=at(110), acked=acked)[-1] == (1, 2)


def test_acknowledging_again_extends_and_no_timeout_means_forever() -> None:
    acked = [at(15), at(70)]  # renewed before the first ran out at 75
    assert due_steps(POLICY, fired_at=at(0), now=at(125), acked=acked) == [(0, 1)]
    assert due_steps(POLICY, fired_at=at(0), now=at(140), acked=acked) == [(0, 1), (1, 1)]
    forever = EscalationPolicy("f", POLICY.levels)
    assert due_steps(forever, fired_at=at(0), now=at(10_000), acked=[at(5)]) == []
    assert due_steps(POLICY, fired_at=at(0), now=at(5), acked=[at(30)]) == []  # future ack


def test_escalation_policies_in_the_routing_file() -> None:
    tree = parse_routing(
        "escalation_policies:\n"
        "  crisis:\n"
        "    ack_timeout: 1h\n"
        "    levels:\n"
        "      - {after: 10m, receivers: [pagerduty]}\n"
        "      - {after: 30m, receivers: webhook}\n"
        "route:\n"
        "  receiver: slack\n"
        "  routes:\n"
        "    - match: {topic: scandal}\n"
        "      escalation: crisis\n"
        "      routes:\n"
        "        - match: {severity: critical}\n",
        known_receivers={"slack", "pagerduty", "webhook"},
    )
    from pipeline.records import Alert

    scandal = Alert(
        dedup_key="k",
        state="firing",
        severity="critical",
        brand="b",
        topic="scandal",
        started_at=T0,
        updated_at=T0,
        observed=1.0,
        expected=1.0,
        score=0.5,
        summary="s",
    )
    assert tree.escalation_for(scandal) == POLICY  # inherited by the child route
    assert tree.escalation_for(scandal.derive(topic="pricing")) is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("route: {receiver: slack, escalation: nope}\n", "no escalation policy 'nope'"),
        (
            "escalation_policies: {p: {levels: [{after: 10m, receivers: [sms]}]}}\n"
            "route: {receiver: slack}\n",
            "unknown receiver 'sms'",
        ),
        (
            "escalation_policies: {p: {levels: [{after: 10m, receivers: [slack]},"
            " {after: 5m, receivers: [slack]}]}}\nroute: {receiver: slack}\n",
            "must grow",
        ),
    ],
)
def test_bad_escalation_config(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_routing(text, known_receivers={"slack"})


# -- acknowledgements --------------------------------------------------------------------------
SLACK_SECRET = SecretStr("8f742231b10e8888abcd99yyyzzz85a5")
PD_SECRET = SecretStr("pd-webhook-signing-secret-0123456789")
NOW = T0.timestamp()


def slack_request(
    action_id: str = "tocsin_acknowledge", *, stamp: float = NOW
) -> tuple[dict[str, str], bytes]:
    payload = {
        "type": "block_actions",
        "user": {"id": "U0ANA", "username": "ana"},
        "actions": [{"action_id": action_id, "value": "brenmoor:pricing:20261122T0900Z"}],
    }
    body = urlencode({"payload": json.dumps(payload)}).encode()
    ts = str(int(stamp))
    headers = {
        "x-slack-request-timestamp": ts,
        "x-slack-signature": slack_signature(SLACK_SECRET, ts, body),
    }
    return headers, body


def test_slack_button_verified_and_parsed() -> None:
    headers, body = slack_request()
    verify_slack(SLACK_SECRET, headers, body, now=NOW + 60)
    ack = parse_slack_action(body, now=T0)
    assert ack is not None
    assert (ack.dedup_key, ack.by, ack.via, ack.action) == (
        "brenmoor:pricing:20261122T0900Z",
        "ana",
        "slack",
        "acknowledge",
    )
    resolve = parse_slack_action(slack_request("tocsin_resolve")[1], now=T0)
    assert resolve is not None and resolve.action == "resolve"
    assert parse_slack_action(slack_request("tocsin_draft_response")[1], now=T0) is None


def test_slack_signature_rejections() -> None:
    headers, body = slack_request()
    with pytest.raises(AckRejected, match="bad_signature"):
        verify_slack(SLACK_SECRET, headers, body + b"x", now=NOW)
    with pytest.raises(AckRejected, match="bad_signature"):
        verify_slack(SecretStr("another-secret-entirely-000000"), headers, body, now=NOW)
    with pytest.raises(AckRejected, match="stale_timestamp"):
        verify_slack(SLACK_SECRET, headers, body, now=NOW + 301)  # a replay
    with pytest.raises(AckRejected, match="signature_missing"):
        verify_slack(SLACK_SECRET, {}, body, now=NOW)


def pd_event(event_type: str = "incident.acknowledged") -> bytes:
    return json.dumps(
        {
            "event": {
                "id": "01ABCDEF",
                "event_type": event_type,
                "resource_type": "incident",
                "occurred_at": "2026-11-22T09:12:00.000Z",
                "agent": {"id": "PUSER01", "summary": "Ana Oncall", "type": "user_reference"},
                "data": {
                    "id": "PINC001",
                    "type": "incident",
                    "incident_key": "brenmoor:pricing:20261122T0900Z",
                    "status": "acknowledged",
                },
            }
        }
    ).encode()


def test_pagerduty_webhook_verified_and_parsed() -> None:
    body = pd_event()
    rotated = f"v1=deadbeef, {pagerduty_signature(PD_SECRET, body)}"
    verify_pagerduty(PD_SECRET, {"x-pagerduty-signature": rotated}, body)
    ack = parse_pagerduty_event(body, now=at(20))
    assert ack is not None
    assert (ack.dedup_key, ack.at, ack.by, ack.via) == (
        "brenmoor:pricing:20261122T0900Z",
        at(12),
        "Ana Oncall",
        "pagerduty",
    )
    assert ack.event_id == "01ABCDEF"  # travels with the ack: a replayed body is applied once
    assert parse_pagerduty_event(pd_event("incident.priority_updated"), now=at(20)) is None
    resolved = parse_pagerduty_event(pd_event("incident.resolved"), now=at(20))
    assert resolved is not None and resolved.action == "resolve"


def test_pagerduty_signature_rejections() -> None:
    body = pd_event()
    good = pagerduty_signature(PD_SECRET, body)
    with pytest.raises(AckRejected):
        verify_pagerduty(PD_SECRET, {"x-pagerduty-signature": good}, body.replace(b"Ana", b"Eve"))
    with pytest.raises(AckRejected):
        verify_pagerduty(PD_SECRET, {}, body)
    with pytest.raises(AckRejected):
        verify_pagerduty(
            SecretStr("wrong-secret-000000000000"), {"x-pagerduty-signature": good}, body
        )
