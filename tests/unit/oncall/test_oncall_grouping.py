"""Grouping in the delivery path, with an injected clock: dispatch hands firing steps to groups,
notify_groups sends each group as one notification per receiver, once, across restarts."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from agents import dispatch_alerts
from pipeline import services
from pipeline.app import app
from pipeline.delivery.receivers.base import GroupNotice, Receiver
from pipeline.delivery.receivers.console import format_group
from pipeline.delivery.receivers.slack import GROUP_MAX_SHOWN, slack_group_payload
from pipeline.delivery.retry import RetryPolicy
from pipeline.metrics import TocsinMetrics
from pipeline.oncall import dispatch as dispatch_plan
from pipeline.oncall import group_notices
from pipeline.oncall.grouping import Grouper, group_id
from pipeline.oncall.routing import Grouping, parse_routing
from pipeline.records import Alert, DeliveryDeadLetter, GroupCommand
from pipeline.settings import make_settings
from tests.fakes import GroupRecordingReceiver, RecordingReceiver, RecordingTopic
from tests.fakes_http import slack_blocks_problem

T0 = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
ROUTING = """\
route:
  receivers: [slack, pagerduty]
  group_by: [brand]
  group_wait: 30s
  group_interval: 5m
  repeat_interval: 4h
inhibit_rules: []
"""
TREE = parse_routing(ROUTING, known_receivers={"console", "slack", "pagerduty"})
FAST = RetryPolicy(attempts=2, backoff_s=0.001, backoff_max_s=0.001)


def alert(topic: str, state: str = "firing", brand: str = "quillon", **over: Any) -> Alert:
    values: dict[str, Any] = {
        "dedup_key": f"{brand}:{topic}:20261122T0900Z",
        "state": state,
        "severity": "warning",
        "brand": brand,
        "topic": topic,
        "started_at": T0,
        "updated_at": T0,
        "observed": 30.0,
        "expected": 3.0,
        "score": 0.999,
        "summary": f"30 {topic} mentions of {brand}",
        "top_mentions": [{"id": "x:1", "text": f"{brand} {topic}!", "url": "https://x.example/1"}],
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


def changelog(state: dict[str, Any]) -> dict[str, Any]:
    """What a restarted worker reads back: the state through JSON, as the changelog holds it."""
    return dict(json.loads(json.dumps(state, default=lambda v: v.isoformat())))


def add(a: Alert, receiver: str, at: float) -> GroupCommand:
    """The add command dispatch_alerts sends for ``a`` on the example tree's only route."""
    route = TREE.root
    key = dispatch_plan.group_key(route, receiver, a)
    return GroupCommand(
        group=group_id(key),
        action="add",
        at=datetime.fromtimestamp(at, UTC),
        key=[key[0], [list(p) for p in key[1]]],
        alert=dispatch_plan.plain(a),
        receivers=[receiver],
        grouping={
            "group_by": list(route.grouping.group_by),
            "group_wait_s": route.grouping.group_wait_s,
            "group_interval_s": route.grouping.group_interval_s,
            "repeat_interval_s": route.grouping.repeat_interval_s,
        },
    )


class Worker:
    """One group's slice of a worker: the table row (through JSON) and the command handler."""

    def __init__(self, receivers: list[Receiver], table: dict[str, dict[str, Any]]) -> None:
        self.receivers = receivers
        self.table = table
        self.receipts: list[tuple[str, str, str, int]] = []
        self.dead_letters: list[DeliveryDeadLetter] = []

    async def dead_letter(self, record: DeliveryDeadLetter) -> None:
        self.dead_letters.append(record)

    async def receipt(
        self, r: Receiver, a: Alert, attempt: int, outcome: str, _s: int | None, _e: str | None
    ) -> None:
        self.receipts.append((a.dedup_key, r.name, outcome, attempt))

    async def run(self, command: GroupCommand, now: float) -> None:
        def save(state: dict[str, Any]) -> None:
            self.table[command.group] = changelog(state)

        await group_notices.handle(
            command,
            dict(self.table.get(command.group, {})),
            self.receivers,
            FAST,
            tree=TREE,  # inhibit_rules: [] (other tests' alert books must not mute these)
            save=save,
            receipt=self.receipt,
            dead_letters=self.dead_letter,
            now=now,
        )

    async def flush(self, group: str, now: float) -> None:
        at = datetime.fromtimestamp(now, UTC)
        await self.run(GroupCommand(group=group, action="flush", at=at), now)


BURST = [alert("scandal"), alert("pricing"), alert("boycott")]
START = T0.timestamp()


async def test_burst_of_three_is_one_notification_per_receiver_and_a_fourth_waits() -> None:
    slack, pagerduty = GroupRecordingReceiver(), RecordingReceiver("pagerduty", status=202)
    worker = Worker([slack, pagerduty], {})
    for i, a in enumerate(BURST):
        for name in ("slack", "pagerduty"):
            await worker.run(add(a, name, START + i), START + i)
    groups = {g.split(":")[1].split("|")[0]: g for g in worker.table}
    await worker.flush(groups["slack"], START + 29)
    await worker.flush(groups["pagerduty"], START + 29)
    assert slack.groups == [] and pagerduty.sent == []  # still inside group_wait
    await worker.flush(groups["slack"], START + 30)
    await worker.flush(groups["pagerduty"], START + 30)
    assert len(slack.groups) == 1
    key, keys, sequence = slack.groups[0]
    assert sorted(keys) == sorted(a.dedup_key for a in BURST) and sequence == 1
    assert key == f"group/{groups['slack']}@{int(START * 1000)}/1/slack"
    # PagerDuty keeps one event per alert (its own dedup per incident), each with its own key
    assert sorted(a.dedup_key for a, _ in pagerduty.got) == sorted(a.dedup_key for a in BURST)
    assert len({k for _, k in pagerduty.got}) == 3
    delivered = [r for r in worker.receipts if r[2] == "delivered"]
    assert len(delivered) == 6  # a receipt per alert per receiver

    fourth = alert("adverse_event")
    await worker.run(add(fourth, "slack", START + 40), START + 40)
    for now in (START + 41, START + 100, START + 329):
        await worker.flush(groups["slack"], now)
    assert len(slack.groups) == 1  # joined a notified group: waits for group_interval
    await worker.flush(groups["slack"], START + 330)
    assert len(slack.groups) == 2
    _, keys, sequence = slack.groups[1]
    assert sequence == 2 and fourth.dedup_key in keys and len(keys) == 4
    await worker.flush(groups["slack"], START + 331)
    await worker.flush(groups["slack"], START + 630)
    assert len(slack.groups) == 2  # nothing changed: nothing sent
    for now in range(int(START) + 930, int(START) + 330 + 4 * 3600 + 301, 300):
        await worker.flush(groups["slack"], now)
    assert len(slack.groups) == 3  # the unchanged, still firing group again after repeat_interval
    _, keys, sequence = slack.groups[2]
    assert sequence == 3 and len(keys) == 4


async def test_restart_mid_group_wait_sends_once_from_the_stored_state() -> None:
    table: dict[str, dict[str, Any]] = {}
    first = Worker([GroupRecordingReceiver()], table)
    for i, a in enumerate(BURST):
        await first.run(add(a, "slack", START + i), START + i)
    (group,) = table
    await first.flush(group, START + 10)  # the worker dies here, 20 s before group_wait ends
    restarted = GroupRecordingReceiver()
    second = Worker([restarted], table)  # a new process: only the table survived
    await second.flush(group, START + 25)
    assert restarted.groups == []
    await second.flush(group, START + 31)
    await second.flush(group, START + 32)  # a second flush (timer tick, re-read command)
    assert len(restarted.groups) == 1 and len(restarted.groups[0][1]) == 3
    # a re-read add of a step the group holds is no change: no second message
    await second.run(add(BURST[0], "slack", START), START + 33)
    await second.flush(group, START + 331)
    assert len(restarted.groups) == 1


class DiesAfterSending(GroupRecordingReceiver):
    """Accepts the message, then the worker is killed before it hears back."""

    async def send_group(self, notice: GroupNotice, *, idempotency_key: str) -> int | None:
        await super().send_group(notice, idempotency_key=idempotency_key)
        raise asyncio.CancelledError


async def test_worker_killed_while_sending_finishes_with_the_same_idempotency_key() -> None:
    table: dict[str, dict[str, Any]] = {}
    dying = DiesAfterSending()
    first = Worker([dying], table)
    for i, a in enumerate(BURST):
        await first.run(add(a, "slack", START + i), START + i)
    (group,) = table
    with pytest.raises(asyncio.CancelledError):
        await first.flush(group, START + 30)
    assert table[group]["pending"]["sequence"] == 1  # written before the send
    again = GroupRecordingReceiver()
    second = Worker([again], table)
    await second.flush(group, START + 31)
    assert [g[0] for g in again.groups] == [dying.groups[0][0]]  # the receiver can drop it
    assert "pending" not in table[group]
    await second.flush(group, START + 400)
    assert len(again.groups) == 1


async def test_resolved_leaves_the_group_and_an_emptied_group_opens_anew() -> None:
    slack = GroupRecordingReceiver()
    worker = Worker([slack], {})
    a = BURST[0]
    await worker.run(add(a, "slack", START), START)
    (group,) = worker.table
    await worker.flush(group, START + 30)
    remove = GroupCommand(group=group, action="remove", at=T0, alert={"dedup_key": a.dedup_key})
    await worker.run(remove, START + 60)
    assert worker.table[group] == {}  # nothing left to list or repeat
    await worker.flush(group, START + 5 * 3600)
    assert len(slack.groups) == 1  # no repeat of a resolved alert
    later = START + 6 * 3600
    await worker.run(add(a, "slack", later), later)
    await worker.flush(group, later + 30)
    first_key, second_key = (g[0] for g in slack.groups)
    assert first_key != second_key  # a new life of the group: new idempotency keys


# -- dispatch_alerts: what is grouped and what goes out at once ---------------------------------
def routing_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "routing.yaml"
    path.write_text(text, encoding="utf-8")
    return path


async def test_dispatch_hands_firing_to_groups_and_sends_resolved_at_once(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    receipts, commands = RecordingTopic(), RecordingTopic()
    monkeypatch.setattr(dispatch_plan, "deliveries", receipts)
    monkeypatch.setattr(dispatch_plan, "alert_groups_topic", commands)
    console, slack, pagerduty = (
        GroupRecordingReceiver("console"),
        GroupRecordingReceiver(),
        GroupRecordingReceiver("pagerduty"),
    )
    services.override(
        receivers=[console, slack, pagerduty],
        settings=make_settings(routing_file=routing_file(tmp_path, ROUTING)),
    )
    async with dispatch_alerts.dispatch_alerts.test_context() as agent:
        for a in BURST:
            await agent.put(a, key=a.dedup_key)
        await agent.put(BURST[0], key=BURST[0].dedup_key)  # re-read after a restart
        resolved = BURST[0].derive(state="resolved", updated_at=T0 + timedelta(minutes=5))
        await agent.put(resolved, key=resolved.dedup_key)
    adds = [c for _, c in commands.sent if c.action == "add"]
    assert len(adds) == 6  # 3 alerts x (slack, pagerduty), the re-read one not again
    assert {c.group for c in adds} == {
        "route:slack|brand=quillon",
        "route:pagerduty|brand=quillon",
    }
    assert slack.sent == [(BURST[0].dedup_key, "resolved")]  # the resolve went out at once
    assert pagerduty.sent == [(BURST[0].dedup_key, "resolved")]
    assert [k for k, _ in console.sent] == [a.dedup_key for a in BURST] + [BURST[0].dedup_key]
    removes = [(k, c.alert["dedup_key"]) for k, c in commands.sent if c.action == "remove"]
    assert sorted(removes) == [
        ("route:pagerduty|brand=quillon", BURST[0].dedup_key),
        ("route:slack|brand=quillon", BURST[0].dedup_key),
    ]
    grouped = [(r.dedup_key, r.receiver) for r in receipts.values if r.outcome == "grouped"]
    assert len(grouped) == 6


async def test_group_wait_zero_is_exactly_no_grouping(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    commands = RecordingTopic()
    monkeypatch.setattr(dispatch_plan, "deliveries", RecordingTopic())
    monkeypatch.setattr(dispatch_plan, "alert_groups_topic", commands)
    slack, pagerduty = GroupRecordingReceiver(), GroupRecordingReceiver("pagerduty")
    services.override(
        receivers=[slack, pagerduty],
        settings=make_settings(
            routing_file=routing_file(
                tmp_path, ROUTING.replace("group_wait: 30s", "group_wait: 0s")
            )
        ),
    )
    async with dispatch_alerts.dispatch_alerts.test_context() as agent:
        for a in BURST:
            await agent.put(a, key=a.dedup_key)
    assert commands.sent == [] and slack.groups == [] and pagerduty.groups == []
    assert slack.sent == [(a.dedup_key, "firing") for a in BURST]  # each at once, as before
    assert pagerduty.sent == slack.sent


def test_group_plan_follows_the_first_route_naming_a_receiver() -> None:
    tree = parse_routing(
        "route:\n"
        "  receiver: slack\n"
        "  group_wait: 30s\n"
        "  routes:\n"
        "    - match: {severity: critical}\n"
        "      receivers: [pagerduty, slack]\n"
        "      group_wait: 0s\n"
        "      continue: true\n"
        "    - match: {topic: scandal}\n"
        "      receivers: [slack, teams]\n",
        known_receivers={"console", "slack", "pagerduty", "teams"},
    )
    receivers: list[Receiver] = [
        GroupRecordingReceiver(n) for n in ("console", "slack", "pagerduty", "teams")
    ]
    critical = alert("scandal", severity="critical")
    plan = dispatch_plan.group_plan(critical, receivers, tree)
    assert [(r.path, n) for r, n in plan] == [("route.routes[1]", "teams")]  # slack: at once
    warning = alert("scandal")
    plan = dispatch_plan.group_plan(warning, receivers, tree)
    assert [(r.path, n) for r, n in plan] == [
        ("route.routes[1]", "slack"),
        ("route.routes[1]", "teams"),
    ]
    escalated = warning.derive(state="escalated")
    assert dispatch_plan.group_plan(escalated, receivers, tree) == []


# -- the timer ---------------------------------------------------------------------------------
def test_timer_flushes_due_groups_once_while_in_flight() -> None:
    g = Grouper()
    key = ("route:slack", (("brand", "quillon"),))
    g.add(key, Grouping(("brand",), 30, 300, 3600), ("slack",), "a", {"state": "firing"}, 0.0)
    states = [("g", {"group": g.dump(key)})]
    emitted: dict[str, tuple[Any, float]] = {}
    assert group_notices.flushes_due(states, 29, emitted) == []
    assert group_notices.flushes_due(states, 30, emitted) == ["g"]
    assert group_notices.flushes_due(states, 31, emitted) == []  # its flush is in flight
    assert group_notices.flushes_due(states, 30 + group_notices.RESEND_FLUSH_S, emitted) == ["g"]
    assert group_notices.flushes_due([("p", {"pending": {"sequence": 1}})], 0, {}) == ["p"]
    assert group_notices.flushes_due([("e", {})], 10**9, {}) == []


def test_group_state_round_trips_through_json() -> None:
    g = Grouper()
    key = ("route:slack", (("brand", "quillon"),))
    grouping = Grouping(("brand",), 30, 300, 3600)
    for i, k in enumerate(("a", "b", "c")):
        g.add(key, grouping, ("slack",), k, {"dedup_key": k, "state": "firing"}, float(i))
    state = changelog({"group": g.dump(key)})
    again = Grouper()
    assert again.load(state["group"]) == key
    assert again.due(29) == []
    (note,) = again.due(30)
    assert [a["dedup_key"] for a in note.alerts] == ["a", "b", "c"] and note.created == 0.0


# -- rendering ---------------------------------------------------------------------------------
def test_slack_and_console_render_one_message_for_the_group() -> None:
    notice = GroupNotice("route:slack|brand=quillon", (("brand", "quillon"),), tuple(BURST))
    payload = slack_group_payload(notice)
    assert slack_blocks_problem(payload["blocks"]) is None
    head = payload["blocks"][0]["text"]["text"]
    assert "*FIRING* 3 alerts for quillon: scandal, pricing, boycott" in head
    assert all(a.dedup_key in json.dumps(payload) for a in BURST)
    many = tuple(alert(f"t{i}") for i in range(GROUP_MAX_SHOWN + 5))
    big = slack_group_payload(GroupNotice("g", (("brand", "quillon"),), many, sequence=2))
    assert slack_blocks_problem(big["blocks"]) is None
    assert "(update)" in big["blocks"][0]["text"]["text"]
    assert "and 5 more alerts" in json.dumps(big)
    text = format_group(notice)
    assert text.splitlines()[0].startswith("[tocsin] GROUP     3 alert(s) brand=quillon #1")
    assert len(text.splitlines()) == 4


async def test_default_send_group_sends_each_alert_with_its_own_key() -> None:
    receiver = RecordingReceiver("pagerduty", status=202)
    notice = GroupNotice("g", (), tuple(BURST))
    assert await receiver.send_group(notice, idempotency_key="group/g@0/1/pagerduty") == 202
    sent = [(a.dedup_key, key) for a, key in receiver.got]
    assert sent == [(a.dedup_key, f"group/g@0/1/pagerduty/{a.dedup_key}") for a in BURST]


async def test_a_silence_made_during_group_wait_mutes_at_flush(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from pipeline.oncall.silences import parse_silence

    silence = parse_silence(
        {
            "matchers": [{"name": "topic", "value": "pricing"}],
            "startsAt": (T0 + timedelta(seconds=10)).isoformat(),  # made during group_wait
            "endsAt": (T0 + timedelta(hours=1)).isoformat(),
            "createdBy": "ana",
            "comment": "known campaign",
        },
        silence_id="s-1",
        now=T0,
    )
    slack = GroupRecordingReceiver()
    worker = Worker([slack], {})
    for i, a in enumerate(BURST):
        await worker.run(add(a, "slack", START + i), START + i)
    (group,) = worker.table
    monkeypatch.setattr(dispatch_plan, "current_silences", lambda: [silence])
    await worker.flush(group, START + 30)
    ((_, keys, _),) = slack.groups
    assert sorted(keys) == sorted(a.dedup_key for a in BURST if a.topic != "pricing")
    assert ("quillon:pricing:20261122T0900Z", "slack", "silenced", 0) in worker.receipts


class Refuses(GroupRecordingReceiver):
    """Slack down for the first ``n`` notifications (every attempt refused)."""

    def __init__(self, n: int) -> None:
        super().__init__()
        self.n = n

    async def send_group(self, notice: GroupNotice, *, idempotency_key: str) -> int | None:
        from pipeline.errors import RetryableDelivery

        if self.n > 0:
            self.n -= 1
            raise RetryableDelivery("slack: HTTP 503", status_code=503)
        return await super().send_group(notice, idempotency_key=idempotency_key)


async def test_a_notification_that_failed_every_retry_is_tried_again_at_group_interval() -> None:
    slack = Refuses(FAST.attempts)  # every attempt of the first notification fails
    worker = Worker([slack], {})
    for i, a in enumerate(BURST):
        await worker.run(add(a, "slack", START + i), START + i)
    (group,) = worker.table
    await worker.flush(group, START + 30)
    assert slack.groups == [] and "pending" not in worker.table[group]
    assert [r[2] for r in worker.receipts].count("failed") == 3  # last attempt, per alert
    # ... and a dead letter per alert, with the key each carried and the group
    key = f"group/{group}@{int((START) * 1000)}/1/slack"
    assert sorted((d.dedup_key, d.idempotency_key) for d in worker.dead_letters) == sorted(
        (a.dedup_key, f"{key}/{a.dedup_key}") for a in BURST
    )
    assert {(d.receiver, d.step, d.group, d.attempts) for d in worker.dead_letters} == {
        ("slack", "firing", group, FAST.attempts)
    }
    await worker.flush(group, START + 329)
    assert slack.groups == []
    await worker.flush(group, START + 330)
    ((_, keys, sequence),) = slack.groups
    assert len(keys) == 3 and sequence == 2
    assert len(worker.dead_letters) == 3  # the re-send went through: no new dead letters
