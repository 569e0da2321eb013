"""On-call wiring of the agents: muting in dispatch, escalation steps, acknowledgement steps."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from agents import acknowledge_alerts, dispatch_alerts
from pipeline import services
from pipeline.app import app
from pipeline.delivery.receivers import SlackWebhookReceiver
from pipeline.delivery.receivers.base import Receiver
from pipeline.metrics import TocsinMetrics
from pipeline.oncall import dispatch as dispatch_plan
from pipeline.oncall import escalate
from pipeline.oncall.acks import ack_to_dict
from pipeline.oncall.escalation import Ack
from pipeline.oncall.routing import parse_routing
from pipeline.oncall.silences import parse_silence
from pipeline.records import AckCommand, Alert, shape_problem
from pipeline.settings import make_settings
from tests.fakes import RecordingReceiver, RecordingTopic

T0 = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
TREE = parse_routing(
    "escalation_policies:\n"
    "  crisis:\n"
    "    ack_timeout: 1h\n"
    "    levels:\n"
    "      - {after: 10m, receivers: [pagerduty]}\n"
    "      - {after: 30m, receivers: [webhook]}\n"
    "route:\n"
    "  receiver: slack\n"
    "  routes:\n"
    "    - match: {topic: scandal}\n"
    "      escalation: crisis\n",
    known_receivers={"console", "slack", "pagerduty", "webhook"},
)


def alert(key: str, state: str = "firing", **over: Any) -> Alert:
    values: dict[str, Any] = {
        "dedup_key": key,
        "state": state,
        "severity": "warning",
        "brand": "quillon",
        "topic": "scandal",
        "started_at": T0,
        "updated_at": T0,
        "observed": 30.0,
        "expected": 3.0,
        "score": 0.999,
        "summary": "s",
    }
    return Alert(**(values | over))


@pytest.fixture(autouse=True)
def _services() -> Iterator[None]:
    app.finalize()
    app.flow_control.resume()
    services.override(
        metrics=TocsinMetrics(CollectorRegistry(), receivers=("slack", "pagerduty")),
        settings=make_settings(delivery_backoff_s=0.01),
    )
    yield
    services.reset()


async def test_silenced_and_inhibited_steps_leave_receipts_not_pages(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    receipts = RecordingTopic()
    monkeypatch.setattr(dispatch_plan, "deliveries", receipts)
    slack = RecordingReceiver("slack")
    services.override(receivers=[slack])
    silence = parse_silence(
        {
            "matchers": [{"name": "topic", "value": "boycott"}],
            "endsAt": (datetime.now(UTC) + timedelta(hours=1)).isoformat(),
            "createdBy": "ana",
            "comment": "known campaign",
        },
        silence_id="s-1",
        now=datetime.now(UTC),
    )
    monkeypatch.setattr(dispatch_plan, "current_silences", lambda: [silence])
    async with dispatch_alerts.dispatch_alerts.test_context() as agent:
        await agent.put(alert("q:boycott:1", topic="boycott"), key="q:boycott:1")
        await agent.put(alert("q:scandal:crit", severity="critical"), key="q:scandal:crit")
        await agent.put(alert("q:scandal:warn"), key="q:scandal:warn")  # muted by the critical
        await agent.put(alert("q:boycott:1", "resolved", topic="boycott"), key="q:boycott:1")
        await agent.put(alert("q:scandal:warn", "resolved"), key="q:scandal:warn")
    assert slack.steps == [
        ("q:scandal:crit", "firing"),
        ("q:boycott:1", "resolved"),  # resolved notices always go out, silenced or not
        ("q:scandal:warn", "resolved"),
    ]
    outcomes = [(r.dedup_key, r.outcome, r.error) for r in receipts.values]
    assert ("q:boycott:1", "silenced", "silenced by s-1") in outcomes
    assert ("q:scandal:warn", "inhibited", "inhibited by q:scandal:crit") in outcomes


def entry(fired: datetime, **over: Any) -> dict[str, Any]:
    return {"alert": alert("q:scandal:e").to_representation(), "fired_at": fired.isoformat()} | over


def steps(alerts: list[Alert]) -> list[tuple[int, int]]:
    return [(a.why["escalation"]["round"], a.why["escalation"]["level"]) for a in alerts if a.why]


def test_escalation_steps_follow_the_clock_and_skip_what_was_delivered() -> None:
    due = escalate.due_escalations
    assert due(entry(T0), {}, TREE, [], T0 + timedelta(minutes=9)) == []
    first = due(entry(T0), {}, TREE, [], T0 + timedelta(minutes=10))
    assert steps(first) == [(0, 1)] and first[0].state == "escalated"
    later = T0 + timedelta(minutes=31)
    assert steps(due(entry(T0), {}, TREE, [], later)) == [(0, 1), (0, 2)]
    paged = entry(T0, delivered={"escalated.0.1/pagerduty": "x"})
    assert steps(due(paged, {}, TREE, [], later)) == [(0, 2)]
    assert due(paged, {}, TREE, [], later, already=["escalated.0.2"]) == []
    acked = {"acks": [{"at": (T0 + timedelta(minutes=12)).isoformat(), "action": "acknowledge"}]}
    assert due(paged, acked, TREE, [], later) == []
    resolved = entry(T0) | {"alert": alert("k", "resolved").to_representation()}
    assert due(resolved, {}, TREE, [], later) == []
    pricing = entry(T0) | {"alert": alert("k", topic="pricing").to_representation()}
    assert due(pricing, {}, TREE, [], later) == []  # its route has no escalation policy


def test_silenced_alerts_do_not_escalate() -> None:
    silence = parse_silence(
        {
            "matchers": [{"name": "brand", "value": "quillon"}],
            "startsAt": T0.isoformat(),
            "endsAt": (T0 + timedelta(hours=2)).isoformat(),
            "createdBy": "ana",
            "comment": "c",
        },
        silence_id="s",
        now=T0,
    )
    later = T0 + timedelta(minutes=31)
    assert escalate.due_escalations(entry(T0), {}, TREE, [silence], later) == []


def test_escalated_steps_go_to_their_level_and_resolves_reach_everyone_paged() -> None:
    receivers: list[Receiver] = [
        RecordingReceiver(n) for n in ("console", "slack", "pagerduty", "webhook")
    ]
    (step,) = escalate.due_escalations(entry(T0), {}, TREE, [], T0 + timedelta(minutes=10))
    chosen = dispatch_plan.select_receivers(step, receivers, TREE)
    assert [r.name for r in chosen] == ["console", "pagerduty"]
    assert dispatch_plan.step_of(step) == "escalated.0.1"
    resolved = alert("q:scandal:e", "resolved")
    delivered = {"firing/slack": "t", "escalated.0.1/pagerduty": "t"}
    chosen = dispatch_plan.select_receivers(resolved, receivers, TREE, delivered)
    assert [r.name for r in chosen] == ["console", "slack", "pagerduty"]


def test_acknowledgement_becomes_one_step() -> None:
    ack = Ack("q:scandal:e", T0 + timedelta(minutes=5), "ana", "slack")
    stored = alert("q:scandal:e", "escalated", why={"escalation": {"level": 1}})
    step = acknowledge_alerts.next_step(stored.to_representation(), ack)
    assert step is not None and step.state == "acknowledged"
    assert step.why is not None and step.why["acknowledged_by"]["by"] == "ana"
    assert "escalation" not in step.why
    assert acknowledge_alerts.next_step(step.to_representation(), ack) is None  # twice: nothing
    assert acknowledge_alerts.next_step(None, ack) is None  # unknown alert
    resolve = Ack("q:scandal:e", T0, "ana", "pagerduty", "resolve")
    closed = acknowledge_alerts.next_step(step.to_representation(), resolve)
    assert closed is not None and closed.state == "resolved"
    assert acknowledge_alerts.next_step(closed.to_representation(), ack) is None


async def test_worker_shutdown_closes_the_shared_http_client() -> None:
    services.override(
        settings=make_settings(
            slack_webhook_url="http://127.0.0.1:9/services/T0/B0/hooksecretvalue",
            pagerduty_routing_key="R0UT1NGKEYr0ut1ngkeyR0UT1NGKEY32",
        )
    )
    receivers = services.receivers()
    clients = {id(getattr(r, "_client", None)) for r in receivers if r.name != "console"}
    assert len(clients) == 1  # one shared client
    (slack,) = [r for r in receivers if isinstance(r, SlackWebhookReceiver)]
    client = slack._client
    assert not client.is_closed
    await app.on_before_shutdown.send()  # what Faust sends when the worker stops
    assert client.is_closed
    assert services.receivers() is not receivers  # rebuilt on next use, with a new client
    await services.aclose()


def test_a_pagerduty_event_applied_once_even_when_replayed() -> None:
    """PagerDuty signs the body only: a captured acknowledgement replayed after the alert's
    acknowledgement ran out (a new escalation round) must not stop the climb again."""
    first = Ack("q:scandal:e", T0, "ana", "pagerduty", event_id="01PDEVT")
    record = {"acks": [ack_to_dict(first)]}
    replay = Ack("q:scandal:e", T0 + timedelta(hours=2), "ana", "pagerduty", event_id="01PDEVT")
    assert acknowledge_alerts.seen_before(record, replay)
    other = Ack("q:scandal:e", T0 + timedelta(hours=2), "ana", "pagerduty", event_id="01PDEVU")
    assert not acknowledge_alerts.seen_before(record, other)
    no_id = Ack("q:scandal:e", T0 + timedelta(hours=2), "ana", "slack")
    assert not acknowledge_alerts.seen_before({"acks": [ack_to_dict(no_id)]}, no_id)
    command = AckCommand(
        dedup_key="q:scandal:e",
        action="acknowledge",
        by="ana",
        via="pagerduty",
        at=T0,
        event_id="01PDEVT",
    )
    again = AckCommand.loads(command.dumps(serializer="json"), serializer="json")
    assert shape_problem(again, AckCommand) is None and again.event_id == "01PDEVT"
    old = AckCommand.loads(
        command.dumps(serializer="json").replace(b'"01PDEVT"', b"7"), serializer="json"
    )
    assert shape_problem(old, AckCommand) is not None
