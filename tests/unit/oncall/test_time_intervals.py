"""Time intervals on routes (Alertmanager's time_intervals), with an injected clock: the pure
``contains``, validation errors naming file/line/field, route muting semantics, and the effect in
dispatch_alerts and notify_groups (``muted`` receipts, resolved notices always sent)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from prometheus_client import CollectorRegistry

from agents import dispatch_alerts
from pipeline import services
from pipeline.app import app
from pipeline.delivery.receivers.base import Receiver
from pipeline.delivery.retry import RetryPolicy
from pipeline.errors import ConfigError
from pipeline.metrics import TocsinMetrics
from pipeline.oncall import dispatch as dispatch_plan
from pipeline.oncall import group_notices
from pipeline.oncall.grouping import group_id, grouping_to_dict
from pipeline.oncall.routing import load_routing, parse_routing
from pipeline.oncall.time_intervals import (
    TimeInterval,
    parse_days_of_month,
    parse_months,
    parse_times,
    parse_weekdays,
)
from pipeline.records import Alert, GroupCommand
from pipeline.settings import make_settings
from tests.fakes import GroupRecordingReceiver, RecordingTopic

PARIS = ZoneInfo("Europe/Paris")
EXAMPLE = Path(__file__).resolve().parents[3] / "pipeline" / "config" / "routing.yaml"
KNOWN = ("console", "slack", "pagerduty", "teams", "webhook", "opsgenie")
FAST = RetryPolicy(attempts=1, backoff_s=0.001, backoff_max_s=0.001)
BUSINESS = TimeInterval(
    times=(parse_times("09:00", "18:00"),),
    weekdays=(parse_weekdays("monday:friday"),),
    location=PARIS,
)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, sec: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, sec, tzinfo=UTC)


# -- TimeInterval.contains: pure, injected time ------------------------------------------------
def test_business_hours_follow_paris_wall_clock_across_the_dst_change() -> None:
    # 2026-10-25: Paris leaves summer time (UTC+2 -> UTC+1). 07:30 UTC is 09:30 on Friday the
    # 23rd but 08:30 on Monday the 26th; 08:30 UTC is inside on both days.
    assert BUSINESS.contains(utc(2026, 10, 23, 7, 30))
    assert not BUSINESS.contains(utc(2026, 10, 26, 7, 30))
    assert BUSINESS.contains(utc(2026, 10, 26, 8, 30))
    assert BUSINESS.contains(utc(2026, 10, 23, 15, 59))  # 17:59 CEST
    assert not BUSINESS.contains(utc(2026, 10, 23, 16, 0))  # 18:00 CEST: end excluded
    assert BUSINESS.contains(utc(2026, 10, 26, 16, 59))  # 17:59 CET
    # 2026-03-29: summer time starts; 07:00 UTC Friday the 27th is 08:00, Monday 30th is 09:00
    assert not BUSINESS.contains(utc(2026, 3, 27, 7, 0))
    assert BUSINESS.contains(utc(2026, 3, 30, 7, 0))
    # the same instant seen through another zone's datetime gives the same answer
    assert BUSINESS.contains(datetime(2026, 10, 26, 9, 30, tzinfo=PARIS))


def test_weekends_are_outside_and_naive_datetimes_are_refused() -> None:
    assert not BUSINESS.contains(utc(2026, 10, 24, 10, 0))  # Saturday
    assert not BUSINESS.contains(utc(2026, 10, 25, 10, 0))  # Sunday
    weekend = TimeInterval(weekdays=(parse_weekdays("saturday"), parse_weekdays("Sunday")))
    assert weekend.contains(utc(2026, 10, 25, 23, 59))
    assert not weekend.contains(utc(2026, 10, 26, 0, 0))
    with pytest.raises(ValueError, match="timezone-aware"):
        BUSINESS.contains(datetime(2026, 10, 26, 10, 0))


def test_a_night_is_two_ranges_as_alertmanager_requires() -> None:
    with pytest.raises(ValueError, match="22:00-24:00 and 00:00-06:00"):
        parse_times("22:00", "06:00")
    night = TimeInterval(
        times=(parse_times("22:00", "24:00"), parse_times("00:00", "06:00")), location=PARIS
    )
    inside = [(21, 0), (22, 30), (4, 59)]  # 22:00, 23:30, 05:59 in Paris (UTC+1 in November)
    outside = [(20, 59), (5, 0), (12, 0)]  # 21:59, 06:00, 13:00
    assert all(night.contains(utc(2026, 11, 23, h, m)) for h, m in inside)
    assert not any(night.contains(utc(2026, 11, 23, h, m)) for h, m in outside)


def test_months_days_of_month_and_years() -> None:
    summer = TimeInterval(months=(parse_months("june:august"),))
    assert summer.contains(utc(2026, 7, 1)) and not summer.contains(utc(2026, 9, 1))
    assert parse_months("3") == (3, 3) and parse_months("March") == (3, 3)
    last = TimeInterval(days_of_month=(parse_days_of_month("-1"),))
    assert last.contains(utc(2028, 2, 29)) and not last.contains(utc(2028, 2, 28))  # leap year
    assert last.contains(utc(2026, 2, 28))
    week = TimeInterval(days_of_month=(parse_days_of_month("1:7"),), years=((2026, 2026),))
    assert week.contains(utc(2026, 5, 7)) and not week.contains(utc(2026, 5, 8))
    assert not week.contains(utc(2027, 5, 1))
    late = TimeInterval(days_of_month=(parse_days_of_month("29:31"),))
    assert not late.contains(utc(2026, 2, 28))  # February has no 29th: skipped, not wrapped
    assert late.contains(utc(2026, 4, 30))  # clamped to April's 30 days


@pytest.mark.parametrize(
    ("parse", "text"),
    [
        (parse_weekdays, "friday:monday"),
        (parse_weekdays, "fri"),
        (parse_months, "13"),
        (parse_months, "december:january"),
        (parse_days_of_month, "0"),
        (parse_days_of_month, "32"),
        (parse_days_of_month, "10:5"),
    ],
)
def test_bad_ranges_are_refused(parse: Any, text: str) -> None:
    with pytest.raises(ValueError):
        parse(text)


# -- validation: file, line and field ----------------------------------------------------------
def with_intervals(interval: str, route_extra: str = "") -> str:
    return (
        "time_intervals:\n"
        "  - name: office\n"
        "    time_intervals:\n"
        f"      - {interval}\n"
        "route:\n"
        "  receiver: slack\n"
        "  routes:\n"
        "    - match: {severity: info}\n"
        f"      {route_extra or 'active_time_intervals: [office]'}\n"
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            with_intervals("{times: [{start_time: '09:00', end_time: '25:00'}]}"),
            "r.yaml:4: time_intervals[0].time_intervals[0].times[0].end_time: '25:00' is not",
        ),
        (
            with_intervals("{times: [{start_time: '22:00', end_time: '06:00'}]}"),
            "r.yaml:4: time_intervals[0].time_intervals[0].times[0].end_time: start_time 22:00",
        ),
        (
            with_intervals("{weekdays: ['saturday:monday']}"),
            "r.yaml:4: time_intervals[0].time_intervals[0].weekdays[0]: 'saturday:monday' runs",
        ),
        (
            with_intervals("{location: Mars/Olympus}"),
            "r.yaml:4: time_intervals[0].time_intervals[0].location: 'Mars/Olympus' is not an",
        ),
        (
            with_intervals("{weekday: [monday]}"),
            "r.yaml:4: time_intervals[0].time_intervals[0].weekday: unknown field",
        ),
        (
            with_intervals("{weekdays: [monday]}", "mute_time_intervals: [office, nights]"),
            "r.yaml:9: route.routes[0].mute_time_intervals[1]: no time interval 'nights'",
        ),
        (
            "route:\n  receiver: slack\n  mute_time_intervals: [x]\n",
            "r.yaml:3: route.mute_time_intervals: not allowed on the root route",
        ),
        (
            "time_intervals:\n  - name: a\n    time_intervals: [{months: [may]}]\n"
            "  - name: a\n    time_intervals: [{months: [june]}]\nroute: {receiver: slack}\n",
            "r.yaml:4: time_intervals[1].name: 'a' defined twice",
        ),
    ],
)
def test_errors_name_file_line_and_field(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_routing(text, source="r.yaml", known_receivers=KNOWN)
    assert str(info.value).startswith(message), str(info.value)


def test_unquoted_times_are_read_as_clock_times() -> None:
    # YAML 1.1 reads a bare 09:00 as the number 540; Alertmanager users write it bare
    tree = parse_routing(
        with_intervals("times: [{start_time: 09:00, end_time: 17:30}]"), known_receivers=KNOWN
    )
    (interval,) = tree.time_intervals["office"].intervals
    assert interval.times == ((540, 1050),)


# -- routes: Alertmanager semantics ------------------------------------------------------------
TREE = parse_routing(
    """
time_intervals:
  - name: office
    time_intervals:
      - weekdays: ["monday:friday"]
        times: [{start_time: "09:00", end_time: "18:00"}]
        location: Europe/Paris
  - name: lunch
    time_intervals:
      - times: [{start_time: "12:00", end_time: "13:00"}]
        location: Europe/Paris
escalation_policies:
  crisis:
    levels:
      - {after: 10m, receivers: [pagerduty]}
route:
  receiver: slack
  routes:
    - match: {severity: warning}
      receiver: pagerduty
      mute_time_intervals: [office]
      continue: true
    - match: {severity: warning}
      receivers: [slack, teams]
      active_time_intervals: [office]
      mute_time_intervals: [lunch]
      routes:
        - match: {topic: scandal}
          escalation: crisis
    - match: {severity: info}
      receiver: slack
      active_time_intervals: [office]
""",
    known_receivers=KNOWN,
)
MONDAY_10 = utc(2026, 11, 23, 9, 0)  # 10:00 in Paris
MONDAY_1230 = utc(2026, 11, 23, 11, 30)
MONDAY_NIGHT = utc(2026, 11, 23, 22, 0)


def alert(key: str = "q:pricing:1", state: str = "firing", **over: Any) -> Alert:
    values: dict[str, Any] = {
        "dedup_key": key,
        "state": state,
        "severity": "warning",
        "brand": "quillon",
        "topic": "pricing",
        "started_at": MONDAY_10,
        "updated_at": MONDAY_10,
        "observed": 30.0,
        "expected": 3.0,
        "score": 0.999,
        "summary": "s",
    }
    return Alert(**(values | over))


def test_time_intervals_never_change_matching() -> None:
    # an info alert at night still ends on its (muted) route: no fall-through to the root
    assert TREE.route(alert(severity="info")) == ["slack"]
    assert [r.path for r in TREE.routes_for(alert(severity="info"))] == ["route.routes[2]"]
    assert TREE.route(alert()) == ["pagerduty", "slack", "teams"]


def test_muted_receivers_follow_the_clock() -> None:
    day, lunch, night = MONDAY_10, MONDAY_1230, MONDAY_NIGHT
    assert TREE.muted_receivers(alert(), day) == {
        "pagerduty": "route.routes[0] mute_time_intervals office"
    }
    assert TREE.muted_receivers(alert(), night) == {
        "slack": "route.routes[1] outside active_time_intervals office",
        "teams": "route.routes[1] outside active_time_intervals office",
    }
    # inside office hours but also inside lunch: mute wins over active
    assert set(TREE.muted_receivers(alert(), lunch)) == {"pagerduty", "slack", "teams"}
    # a receiver named by a muted and an unmuted route is not muted (info: slack muted at night,
    # but a critical alert is not on that route)
    assert TREE.muted_receivers(alert(severity="info"), night) == {
        "slack": "route.routes[2] outside active_time_intervals office"
    }
    assert TREE.muted_receivers(alert(severity="critical"), night) == {}
    # never muted: resolved and acknowledged steps
    assert TREE.muted_receivers(alert(state="resolved"), night) == {}
    assert TREE.muted_receivers(alert(state="acknowledged"), night) == {}


def test_intervals_are_not_inherited_and_escalations_follow_their_route() -> None:
    scandal = alert("q:scandal:1", topic="scandal")
    leaf = TREE.routes_for(scandal)[1]
    assert leaf.path == "route.routes[1].routes[0]"
    assert leaf.receivers == ("slack", "teams")  # receivers inherited, intervals not
    assert leaf.mute_intervals == () and leaf.active_intervals == ()
    assert TREE.muted_receivers(scandal, MONDAY_NIGHT) == {}
    escalated = scandal.derive(
        state="escalated", why={"escalation": {"policy": "crisis", "round": 0, "level": 1}}
    )
    assert TREE.muted_receivers(escalated, MONDAY_NIGHT) == {}
    muted_tree = parse_routing(
        "time_intervals: [{name: always, time_intervals: [{years: ['2000:2999']}]}]\n"
        "escalation_policies: {crisis: {levels: [{after: 10m, receivers: [pagerduty]}]}}\n"
        "route:\n  receiver: slack\n  routes:\n"
        "    - {match: {topic: scandal}, escalation: crisis, mute_time_intervals: [always]}\n",
        known_receivers=KNOWN,
    )
    assert muted_tree.muted_receivers(escalated, MONDAY_NIGHT) == {
        "pagerduty": "route.routes[0] mute_time_intervals always"
    }


def test_the_example_file_pages_warnings_out_of_hours_and_mutes_info_at_night() -> None:
    tree = load_routing(EXAMPLE, known_receivers=(*KNOWN, "alertmanager", "slack_api", "email"))
    warning, info = alert(), alert(severity="info")
    tuesday_10 = datetime(2026, 11, 24, 10, 0, tzinfo=PARIS)
    tuesday_20 = datetime(2026, 11, 24, 20, 0, tzinfo=PARIS)
    christmas = datetime(2026, 12, 24, 11, 0, tzinfo=PARIS)
    assert tree.route(warning) == ["pagerduty", "slack"]
    assert set(tree.muted_receivers(warning, tuesday_10)) == {"pagerduty"}
    assert tree.muted_receivers(warning, tuesday_20) == {}
    assert tree.muted_receivers(info, tuesday_10) == {}
    assert set(tree.muted_receivers(info, tuesday_20)) == {"slack"}
    assert "christmas" in tree.muted_receivers(info, christmas)["slack"]


# -- the delivery path -------------------------------------------------------------------------
@pytest.fixture(autouse=True)
def _services() -> Iterator[None]:
    app.finalize()
    app.flow_control.resume()
    services.override(
        metrics=TocsinMetrics(CollectorRegistry(), receivers=("slack", "pagerduty", "teams")),
        settings=make_settings(delivery_backoff_s=0.01),
    )
    yield
    services.reset()


NO_GROUPING = (
    "time_intervals:\n"
    "  - name: office\n"
    "    time_intervals:\n"
    "      - weekdays: ['monday:friday']\n"
    "        times: [{start_time: '09:00', end_time: '18:00'}]\n"
    "        location: Europe/Paris\n"
    "inhibit_rules: []\n"
    "route:\n"
    "  receiver: slack\n"
    "  group_wait: 0s\n"
    "  routes:\n"
    "    - {match: {severity: warning}, receiver: pagerduty,"
    " mute_time_intervals: [office], continue: true}\n"
    "    - {match: {severity: warning}, receivers: [slack, teams],"
    " active_time_intervals: [office]}\n"
)


async def test_dispatch_leaves_muted_receipts_and_always_sends_resolved(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    receipts = RecordingTopic()
    monkeypatch.setattr(dispatch_plan, "deliveries", receipts)
    monkeypatch.setattr(dispatch_plan, "current_silences", list)
    clock = [MONDAY_10]
    real_dispatch = dispatch_plan.dispatch

    async def dispatch_at(*args: Any, **kwargs: Any) -> dict[str, bool]:
        return await real_dispatch(*args, **kwargs, now=clock[0])  # the injected clock

    monkeypatch.setattr(dispatch_alerts, "dispatch", dispatch_at)
    routing = tmp_path / "routing.yaml"
    routing.write_text(NO_GROUPING, encoding="utf-8")
    slack, teams, pagerduty = (
        GroupRecordingReceiver("slack"),
        GroupRecordingReceiver("teams"),
        GroupRecordingReceiver("pagerduty"),
    )
    services.override(
        receivers=[slack, teams, pagerduty], settings=make_settings(routing_file=routing)
    )
    night = alert("q:night")
    async with dispatch_alerts.dispatch_alerts.test_context() as agent:
        await agent.put(alert("q:day"), key="q:day")
        clock[0] = MONDAY_NIGHT
        await agent.put(night, key="q:night")
        clock[0] = MONDAY_NIGHT + timedelta(minutes=5)
        resolved = night.derive(state="resolved", updated_at=clock[0])
        await agent.put(resolved, key="q:night")
    assert slack.sent == [("q:day", "firing"), ("q:night", "resolved")]
    assert teams.sent == slack.sent
    assert pagerduty.sent == [("q:night", "firing"), ("q:night", "resolved")]
    muted = [(r.dedup_key, r.receiver, r.error) for r in receipts.values if r.outcome == "muted"]
    assert muted == [
        ("q:day", "pagerduty", "muted by route.routes[0] mute_time_intervals office"),
        ("q:night", "slack", "muted by route.routes[1] outside active_time_intervals office"),
        ("q:night", "teams", "muted by route.routes[1] outside active_time_intervals office"),
    ]


async def test_a_group_flushed_inside_a_mute_interval_sends_nothing() -> None:
    tree = parse_routing(
        "time_intervals:\n"
        "  - name: office\n"
        "    time_intervals:\n"
        "      - times: [{start_time: '09:00', end_time: '18:00'}]\n"
        "        location: Europe/Paris\n"
        "inhibit_rules: []\n"
        "route:\n"
        "  receiver: slack\n"
        "  routes:\n"
        "    - {match: {severity: warning}, group_wait: 30s, active_time_intervals: [office]}\n",
        known_receivers=KNOWN,
    )
    slack = GroupRecordingReceiver("slack")
    table: dict[str, dict[str, Any]] = {}
    receipts: list[tuple[str, str]] = []

    async def receipt(
        r: Receiver, a: Alert, attempt: int, outcome: str, _s: int | None, _e: str | None
    ) -> None:
        receipts.append((a.dedup_key, outcome))

    async def run(command: GroupCommand, at: datetime) -> None:
        def save(state: dict[str, Any]) -> None:
            table[command.group] = state

        await group_notices.handle(
            command,
            dict(table.get(command.group, {})),
            [slack],
            FAST,
            tree=tree,
            save=save,
            receipt=receipt,
            dead_letters=_no_dead_letters,
            now=at.timestamp(),
        )

    route = tree.root.routes[0]
    for start, key in ((utc(2026, 11, 23, 16, 59, 45), "q:late"), (MONDAY_10, "q:morning")):
        a = alert(key)
        group_key = dispatch_plan.group_key(route, "slack", a)
        gid = group_id(group_key)
        add = GroupCommand(
            group=gid,
            action="add",
            at=start,
            key=[group_key[0], [list(p) for p in group_key[1]]],
            alert=dispatch_plan.plain(a),
            receivers=["slack"],
            grouping=grouping_to_dict(route.grouping),
        )
        table.clear()
        await run(add, start)
        flush_at = start + timedelta(seconds=30)
        await run(GroupCommand(group=gid, action="flush", at=flush_at), flush_at)
    # added at 17:59:45 Paris, due at 18:00:15: outside the office, muted; the morning one is sent
    assert [keys for _, keys, _ in slack.groups] == [["q:morning"]]
    assert ("q:late", "muted") in receipts and ("q:morning", "muted") not in receipts


async def _no_dead_letters(record: Any) -> None:
    raise AssertionError(f"unexpected dead letter {record}")
