"""Routing tree: Alertmanager's first-match-unless-continue semantics, inheritance, and errors."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from pipeline.durations import parse_duration
from pipeline.errors import ConfigError
from pipeline.oncall.routing import load_routing, parse_routing
from pipeline.records import Alert

EXAMPLE = Path(__file__).resolve().parents[3] / "pipeline" / "config" / "routing.yaml"
AT = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
KNOWN = (
    "console",
    "slack",
    "slack_api",
    "pagerduty",
    "opsgenie",
    "teams",
    "alertmanager",
    "webhook",
)


def alert(**over: Any) -> Alert:
    values: dict[str, Any] = {
        "dedup_key": "k",
        "state": "firing",
        "severity": "warning",
        "brand": "brenmoor",
        "topic": "pricing",
        "started_at": AT,
        "updated_at": AT,
        "observed": 10.0,
        "expected": 2.0,
        "score": 0.99,
        "summary": "s",
    }
    values.update(over)
    return Alert(**values)


@pytest.fixture(scope="module")
def example() -> Any:
    return load_routing(EXAMPLE, known_receivers=KNOWN)


@pytest.mark.parametrize(
    ("fields", "receivers"),
    [
        ({}, ["pagerduty", "slack"]),  # the two warning routes (one muted in business hours)
        ({"severity": "info", "topic": "other"}, ["slack"]),
        ({"severity": "critical"}, ["pagerduty", "slack"]),  # continue: then falls to the root
        ({"severity": "critical", "topic": "scandal"}, ["pagerduty", "slack", "teams"]),
        ({"topic": "boycott"}, ["slack", "teams"]),
        ({"topic": "scandalous"}, ["pagerduty", "slack"]),  # match_re anchored at both ends
        ({"why": {"language": "fr"}}, ["slack", "webhook"]),
        ({"topic": "scandal", "why": {"language": "fr"}}, ["slack", "teams"]),  # first match wins
        ({"severity": "info"}, ["slack"]),
    ],
)
def test_example_file_routes(example: Any, fields: dict[str, Any], receivers: list[str]) -> None:
    assert example.route(alert(**fields)) == receivers


def test_inheritance_and_grouping(example: Any) -> None:
    crit, scandal, fr, info, *_ = example.root.routes
    assert crit.grouping.group_wait_s == 10 and crit.grouping.repeat_interval_s == 4 * 3600
    assert scandal.grouping.repeat_interval_s == 3600 and scandal.grouping.group_wait_s == 30
    assert info.grouping.group_by == ("brand",) and info.grouping.group_interval_s == 1800
    assert fr.grouping.key({"brand": "b", "topic": "t", "language": "fr"}) == (
        ("brand", "b"),
        ("topic", "t"),
    )
    assert info.receivers == ("slack",)  # inherited
    assert example.receiver_names() == {"slack", "pagerduty", "teams", "webhook"}


def test_nested_routes_and_group_by_all() -> None:
    tree = parse_routing(
        """
route:
  receiver: console
  group_by: ['...']
  routes:
    - match: {brand: [brenmoor, valmoreau]}
      receiver: slack
      routes:
        - match: {severity: critical}
          receiver: pagerduty
""",
        known_receivers=KNOWN,
    )
    assert tree.route(alert()) == ["slack"]
    assert tree.route(alert(severity="critical")) == ["pagerduty"]
    assert tree.route(alert(brand="valmoreau", severity="critical")) == ["pagerduty"]
    assert tree.route(alert(brand="other", severity="critical")) == ["console"]
    leaf = tree.routes_for(alert(severity="critical"))[0]
    assert leaf.grouping.by_all
    assert [k for k, _ in leaf.grouping.key({"topic": "t", "brand": "b"})] == ["brand", "topic"]


def test_durations() -> None:
    assert parse_duration("30s") == 30
    assert parse_duration("1h30m") == 5400
    assert parse_duration("500ms") == 0.5
    for bad in ("", "5", "5 m", "m5", "1h 2m", "-1s"):
        with pytest.raises(ValueError):
            parse_duration(bad)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("route: {receiver: slack, match: {brand: x}}", "r.yaml:1: route: the root route"),
        ("route: {}", "r.yaml:1: route: the root route needs a receiver"),
        ("route:\n  receiver: nobody\n", "r.yaml:2: route.receiver: unknown receiver 'nobody'"),
        (
            "route:\n  receiver: slack\n  routes:\n    - match:\n        severity: urgent\n",
            "r.yaml:5: route.routes[0].match.severity: 'urgent' is not one of info, warning",
        ),
        (
            "route:\n  receiver: slack\n  routes:\n    - match: {colour: red}\n",
            "r.yaml:4: route.routes[0].match.colour: unknown label",
        ),
        (
            "route:\n  receiver: slack\n  group_wait: soon\n",
            "r.yaml:3: route.group_wait: 'soon' is not a duration",
        ),
        (
            "route:\n  receiver: slack\n  repeat_interval: 0s\n",
            "r.yaml:3: route.repeat_interval: must be longer than zero",
        ),
        (
            "route:\n  receiver: slack\n  routes:\n    - continue: yes please\n",
            "r.yaml:4: route.routes[0].continue: expected true or false",
        ),
        (
            "route:\n  receiver: slack\n  routes:\n    - match_re: {topic: '(unclosed'}\n",
            "r.yaml:4: route.routes[0].match_re.topic: bad regular expression",
        ),
        (
            "route:\n  receiver: slack\n  group_by: [brand, colour]\n",
            "r.yaml:3: route.group_by[1]: unknown label 'colour'",
        ),
        (
            "route:\n  receiver: slack\n  recievers: [x]\n",
            "r.yaml:3: route.recievers: unknown field",
        ),
        ("route:\n  receiver: slack\n  receiver: teams\n", "r.yaml:3: route.receiver: given twice"),
        ("routes: []\n", "r.yaml:1: routes: unknown field"),
        ("route: [\n", "r.yaml:2: not valid YAML"),
        ("", "r.yaml: empty routing file"),
    ],
)
def test_errors_name_file_line_and_field(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_routing(text, source="r.yaml", known_receivers=KNOWN)
    assert str(info.value).startswith(message), str(info.value)


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read routing file"):
        load_routing(tmp_path / "absent.yaml")
