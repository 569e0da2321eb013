"""Routing as data: a YAML tree of matchers that sends each alert to receivers, like Alertmanager.

Every alert enters the root route. Its child routes are tried in order; an alert that matches a
child descends into it, and stops there unless that child says ``continue: true``, in which case
the next siblings are tried as well. A route none of whose children matched is a result itself.
Receivers, ``group_by`` and the three timers are inherited from the parent when a route does not
set them, with Alertmanager's meaning:

* ``group_by``: labels whose values make one notification group (``[...]`` groups by every label);
* ``group_wait``: how long a new group waits for more alerts before its first notification;
* ``group_interval``: how long to wait before notifying about alerts added to a notified group;
* ``repeat_interval``: how long before re-sending a notification that has not changed.

The labels an alert is matched on are ``brand``, ``topic``, ``severity``, ``state`` and, when the
detector records them in ``Alert.why``, ``language`` and ``author_kind``. Matchers are exact
(``match: {severity: critical}``, a list meaning any of) or regular expressions anchored at both
ends (``match_re: {topic: "scandal|boycott"}``). The file is validated on load; a mistake raises
:class:`~pipeline.errors.ConfigError` naming the file, line and field.

Time of day (``pipeline/oncall/time_intervals.py``): top-level ``time_intervals`` names intervals
(``business_hours``: 09:00-18:00 Monday to Friday in Europe/Paris); a route lists some under
``mute_time_intervals`` (its notifications are muted inside any of them) and/or
``active_time_intervals`` (muted outside all of them; mute wins when both apply). Exactly as in
Alertmanager, these never change matching: an alert still ends on a muted route (and so does not
fall through to its siblings or the parent); only that route's notifications are muted, decided at
the moment of sending (:meth:`Route.muted_at`). Also as in Alertmanager, the two lists are not
inherited by child routes and the root route takes neither. A receiver named by several routes an
alert ends on is muted only when every one of those routes is (Alertmanager would send through the
unmuted one). What muting does to delivery is ``agents/dispatch_alerts.py``'s business: muted
firing and escalated steps leave a ``muted`` receipt; acknowledged and resolved steps always go out.

Receivers: routes name receivers. The ``TOCSIN_*`` settings build one default receiver per type,
named after it (``slack``, ``pagerduty``, ``email`` ...); the file's top-level ``receivers:``
declares named ones (``- name: comms-fr`` with ``slack_configs: [...]``, secrets by ``_env`` or
``_file`` reference), read by ``pipeline/delivery/receivers/named.py``. This module only lets
the key through; names are checked against the receivers actually built.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TypeVar

import yaml

from pipeline.durations import parse_duration
from pipeline.errors import ConfigError
from pipeline.oncall import time_intervals as ti
from pipeline.oncall.escalation import EscalationPolicy, Level
from pipeline.oncall.inhibition import InhibitRule
from pipeline.oncall.matchers import Matcher
from pipeline.oncall.routes import ALL_LABELS, LABELS, Grouping, Route, RoutingTree, alert_labels
from pipeline.oncall.time_intervals import NamedInterval, TimeInterval
from pipeline.records import SEVERITIES

__all__ = [
    "ALL_LABELS",
    "LABELS",
    "Grouping",
    "Route",
    "RoutingTree",
    "alert_labels",
    "load_routing",
    "parse_routing",
]

_T = TypeVar("_T")
_ROUTE_KEYS = frozenset(
    {
        "receiver",
        "receivers",
        "match",
        "match_re",
        "continue",
        "group_by",
        "group_wait",
        "group_interval",
        "repeat_interval",
        "routes",
        "escalation",
        "mute_time_intervals",
        "active_time_intervals",
    }
)
#: ``receivers`` (named receivers) is read and checked by ``pipeline/delivery/receivers/named.py``.
_TOP_KEYS = ("route", "receivers", "inhibit_rules", "escalation_policies", "time_intervals")
_INTERVAL_KEYS = ("times", "weekdays", "days_of_month", "months", "years", "location")
_INHIBIT_KEYS = frozenset(
    {"source_match", "source_match_re", "target_match", "target_match_re", "equal"}
)
_DEFAULT_GROUPING = (("brand", "topic"), 30.0, 300.0, 4 * 3600.0)


# -- loading -----------------------------------------------------------------------------------
class _Parser:
    """Walks the YAML node tree (not plain data) so every error can name its line."""

    def __init__(self, source: str, known_receivers: frozenset[str] | None) -> None:
        self.source = source
        self.known = known_receivers
        self.policies: dict[str, EscalationPolicy] = {}
        self.intervals: dict[str, NamedInterval] = {}

    def fail(self, node: yaml.Node, field: str, problem: str) -> ConfigError:
        return ConfigError(f"{self.source}:{node.start_mark.line + 1}: {field}: {problem}")

    def mapping(self, node: yaml.Node, field: str) -> dict[str, yaml.Node]:
        if not isinstance(node, yaml.MappingNode):
            raise self.fail(node, field, "expected a mapping")
        out: dict[str, yaml.Node] = {}
        for key, value in node.value:
            if not isinstance(key, yaml.ScalarNode):
                raise self.fail(key, field, "keys must be plain strings")
            if key.value in out:
                raise self.fail(key, f"{field}.{key.value}", "given twice")
            out[key.value] = value
        return out

    def string(self, node: yaml.Node, field: str) -> str:
        if not isinstance(node, yaml.ScalarNode) or node.tag != "tag:yaml.org,2002:str":
            raise self.fail(node, field, "expected a string")
        if not node.value:
            raise self.fail(node, field, "must not be empty")
        return str(node.value)

    def strings(self, node: yaml.Node, field: str) -> list[str]:
        """A string or a list of strings."""
        if isinstance(node, yaml.SequenceNode):
            items = [self.string(item, f"{field}[{i}]") for i, item in enumerate(node.value)]
            if not items:
                raise self.fail(node, field, "must not be an empty list")
            return items
        return [self.string(node, field)]

    def boolean(self, node: yaml.Node, field: str) -> bool:
        if not isinstance(node, yaml.ScalarNode) or node.tag != "tag:yaml.org,2002:bool":
            raise self.fail(node, field, "expected true or false")
        return node.value.lower() in ("true", "yes", "on")

    def duration(self, node: yaml.Node, field: str, *, allow_zero: bool = False) -> float:
        text = self.string(node, field) if node.tag == "tag:yaml.org,2002:str" else None
        if text is None:
            raise self.fail(node, field, "expected a duration such as 30s, 5m or 4h")
        try:
            seconds = parse_duration(text)
        except ValueError as exc:
            raise self.fail(node, field, str(exc)) from None
        if seconds < 0 or (seconds == 0 and not allow_zero):
            raise self.fail(node, field, "must be longer than zero")
        return seconds

    def matchers(self, node: yaml.Node, field: str, *, regex: bool) -> list[Matcher]:
        out: list[Matcher] = []
        for label, value in self.mapping(node, field).items():
            where = f"{field}.{label}"
            if label not in LABELS:
                raise self.fail(value, where, f"unknown label; use one of {', '.join(LABELS)}")
            if regex:
                text = self.string(value, where)
                try:
                    out.append(Matcher(label, pattern=re.compile(text)))
                except re.error as exc:
                    raise self.fail(value, where, f"bad regular expression: {exc}") from None
                continue
            values = self.strings(value, where)
            if label == "severity":
                wrong = [v for v in values if v not in SEVERITIES]
                if wrong:
                    raise self.fail(
                        value, where, f"{wrong[0]!r} is not one of {', '.join(SEVERITIES)}"
                    )
            out.append(Matcher(label, values=frozenset(values)))
        return out

    def route(self, node: yaml.Node, path: str, parent: Route | None) -> Route:
        fields = self.mapping(node, path)
        for key, value in fields.items():
            if key not in _ROUTE_KEYS:
                raise self.fail(value, f"{path}.{key}", "unknown field")
        if "receiver" in fields and "receivers" in fields:
            raise self.fail(node, path, "give either receiver or receivers, not both")
        receivers: tuple[str, ...]
        if "receiver" in fields:
            receivers = (self.string(fields["receiver"], f"{path}.receiver"),)
        elif "receivers" in fields:
            receivers = tuple(self.strings(fields["receivers"], f"{path}.receivers"))
        elif parent is not None:
            receivers = parent.receivers
        else:
            raise self.fail(node, path, "the root route needs a receiver")
        for i, name in enumerate(receivers):
            if self.known is not None and name not in self.known:
                where = fields.get("receiver") or fields.get("receivers") or node
                raise self.fail(
                    where,
                    f"{path}.receivers[{i}]" if "receivers" in fields else f"{path}.receiver",
                    f"unknown receiver {name!r}; configured: {', '.join(sorted(self.known))}",
                )
        matchers: list[Matcher] = []
        if "match" in fields:
            matchers += self.matchers(fields["match"], f"{path}.match", regex=False)
        if "match_re" in fields:
            matchers += self.matchers(fields["match_re"], f"{path}.match_re", regex=True)
        if parent is None and matchers:
            raise self.fail(node, path, "the root route matches every alert; it takes no match")
        cont = False
        if "continue" in fields:
            cont = self.boolean(fields["continue"], f"{path}.continue")
            if parent is None and cont:
                raise self.fail(fields["continue"], f"{path}.continue", "not allowed on the root")
        grouping = self.grouping(fields, path, parent.grouping if parent else None)
        escalation = parent.escalation if parent else None
        if "escalation" in fields:
            escalation = self.string(fields["escalation"], f"{path}.escalation")
            if escalation not in self.policies:
                raise self.fail(
                    fields["escalation"],
                    f"{path}.escalation",
                    f"no escalation policy {escalation!r} in escalation_policies",
                )
        muting: dict[str, tuple[NamedInterval, ...]] = {}
        for key in ("mute_time_intervals", "active_time_intervals"):
            if key in fields:
                if parent is None:
                    raise self.fail(fields[key], f"{path}.{key}", "not allowed on the root route")
                muting[key] = self.interval_refs(fields[key], f"{path}.{key}")
        mute = muting.get("mute_time_intervals", ())
        active = muting.get("active_time_intervals", ())
        children: list[Route] = []
        shell = Route(
            path, receivers, tuple(matchers), cont, grouping, (), escalation, mute, active
        )
        if "routes" in fields:
            node_routes = fields["routes"]
            if not isinstance(node_routes, yaml.SequenceNode):
                raise self.fail(node_routes, f"{path}.routes", "expected a list of routes")
            for i, child in enumerate(node_routes.value):
                children.append(self.route(child, f"{path}.routes[{i}]", shell))
        return Route(
            path,
            receivers,
            tuple(matchers),
            cont,
            grouping,
            tuple(children),
            escalation,
            mute,
            active,
        )

    def interval_refs(self, node: yaml.Node, field: str) -> tuple[NamedInterval, ...]:
        names = self.strings(node, field)
        for i, name in enumerate(names):
            if name not in self.intervals:
                known = ", ".join(sorted(self.intervals)) or "none defined"
                raise self.fail(
                    node,
                    f"{field}[{i}]",
                    f"no time interval {name!r} in time_intervals (defined: {known})",
                )
        return tuple(self.intervals[name] for name in names)

    def time_intervals(self, node: yaml.Node) -> dict[str, NamedInterval]:
        """Alertmanager's ``time_intervals: [{name, time_intervals: [...]}]``."""
        if not isinstance(node, yaml.SequenceNode):
            raise self.fail(node, "time_intervals", "expected a list of {name, time_intervals}")
        out: dict[str, NamedInterval] = {}
        for i, item in enumerate(node.value):
            where = f"time_intervals[{i}]"
            fields = self.mapping(item, where)
            for key, value in fields.items():
                if key not in ("name", "time_intervals"):
                    raise self.fail(value, f"{where}.{key}", "unknown field")
            if "name" not in fields or "time_intervals" not in fields:
                raise self.fail(item, where, "needs name and time_intervals")
            name = self.string(fields["name"], f"{where}.name")
            if name in out:
                raise self.fail(fields["name"], f"{where}.name", f"{name!r} defined twice")
            body = fields["time_intervals"]
            if not isinstance(body, yaml.SequenceNode) or not body.value:
                raise self.fail(body, f"{where}.time_intervals", "a non-empty list")
            out[name] = NamedInterval(
                name,
                tuple(
                    self.time_interval(entry, f"{where}.time_intervals[{j}]")
                    for j, entry in enumerate(body.value)
                ),
            )
        return out

    def time_interval(self, node: yaml.Node, where: str) -> TimeInterval:
        fields = self.mapping(node, where)
        for key, value in fields.items():
            if key not in _INTERVAL_KEYS:
                raise self.fail(
                    value, f"{where}.{key}", f"unknown field; use {', '.join(_INTERVAL_KEYS)}"
                )
        parsers = {
            "weekdays": ti.parse_weekdays,
            "days_of_month": ti.parse_days_of_month,
            "months": ti.parse_months,
            "years": ti.parse_years,
        }
        ranges: dict[str, tuple[tuple[int, int], ...]] = {}
        for key, parse in parsers.items():
            if key in fields:
                ranges[key] = tuple(
                    self.checked(parse, item, f"{where}.{key}[{k}]")
                    for k, item in enumerate(self.items(fields[key], f"{where}.{key}"))
                )
        times: list[tuple[int, int]] = []
        if "times" in fields:
            for k, item in enumerate(self.items(fields["times"], f"{where}.times")):
                at = f"{where}.times[{k}]"
                span = self.mapping(item, at)
                for key, value in span.items():
                    if key not in ("start_time", "end_time"):
                        raise self.fail(value, f"{at}.{key}", "unknown field")
                if set(span) != {"start_time", "end_time"}:
                    raise self.fail(item, at, "needs start_time and end_time")
                # raw text: YAML 1.1 would read an unquoted 09:00 as the number 540
                start = self.checked(str, span["start_time"], f"{at}.start_time")
                end = self.checked(str, span["end_time"], f"{at}.end_time")
                try:
                    ti.parse_clock(start)
                except ValueError as exc:
                    raise self.fail(span["start_time"], f"{at}.start_time", str(exc)) from None
                try:
                    times.append(ti.parse_times(start, end))
                except ValueError as exc:
                    raise self.fail(span["end_time"], f"{at}.end_time", str(exc)) from None
        location = ti.UTC_ZONE
        if "location" in fields:
            location = self.checked(
                ti.parse_location,
                fields["location"],
                f"{where}.location",
            )
        return TimeInterval(
            times=tuple(times),
            weekdays=ranges.get("weekdays", ()),
            days_of_month=ranges.get("days_of_month", ()),
            months=ranges.get("months", ()),
            years=ranges.get("years", ()),
            location=location,
        )

    def items(self, node: yaml.Node, field: str) -> list[yaml.Node]:
        if not isinstance(node, yaml.SequenceNode) or not node.value:
            raise self.fail(node, field, "expected a non-empty list")
        return list(node.value)

    def checked(self, parse: Callable[[str], _T], node: yaml.Node, field: str) -> _T:
        """``parse`` a scalar (string or number), its ValueError becoming a located error."""
        if not isinstance(node, yaml.ScalarNode) or not node.value:
            raise self.fail(node, field, "expected a string or number")
        try:
            return parse(str(node.value))
        except ValueError as exc:
            raise self.fail(node, field, str(exc)) from None

    def known_receiver(self, node: yaml.Node, field: str, name: str) -> None:
        if self.known is not None and name not in self.known:
            raise self.fail(
                node,
                field,
                f"unknown receiver {name!r}; configured: {', '.join(sorted(self.known))}",
            )

    def inhibit_rules(self, node: yaml.Node) -> tuple[InhibitRule, ...]:
        if not isinstance(node, yaml.SequenceNode):
            raise self.fail(node, "inhibit_rules", "expected a list of rules")
        rules: list[InhibitRule] = []
        for i, item in enumerate(node.value):
            where = f"inhibit_rules[{i}]"
            fields = self.mapping(item, where)
            for key, value in fields.items():
                if key not in _INHIBIT_KEYS:
                    raise self.fail(value, f"{where}.{key}", "unknown field")
            sides: dict[str, list[Matcher]] = {"source": [], "target": []}
            for side, found in sides.items():
                for suffix, regex in (("match", False), ("match_re", True)):
                    key = f"{side}_{suffix}"
                    if key in fields:
                        found += self.matchers(fields[key], f"{where}.{key}", regex=regex)
                if not found:
                    raise self.fail(item, where, f"needs {side}_match or {side}_match_re")
            equal: list[str] = []
            if "equal" in fields:
                equal = self.strings(fields["equal"], f"{where}.equal")
                for name in equal:
                    if name not in LABELS:
                        raise self.fail(
                            fields["equal"], f"{where}.equal", f"unknown label {name!r}"
                        )
            rules.append(InhibitRule(tuple(sides["source"]), tuple(sides["target"]), tuple(equal)))
        return tuple(rules)

    def escalation_policies(self, node: yaml.Node) -> dict[str, EscalationPolicy]:
        policies: dict[str, EscalationPolicy] = {}
        for name, body in self.mapping(node, "escalation_policies").items():
            where = f"escalation_policies.{name}"
            fields = self.mapping(body, where)
            for key, value in fields.items():
                if key not in ("levels", "ack_timeout"):
                    raise self.fail(value, f"{where}.{key}", "unknown field")
            timeout = None
            if "ack_timeout" in fields:
                timeout = self.duration(fields["ack_timeout"], f"{where}.ack_timeout")
            raw_levels = fields.get("levels")
            if not isinstance(raw_levels, yaml.SequenceNode) or not raw_levels.value:
                raise self.fail(raw_levels or body, f"{where}.levels", "a non-empty list")
            levels: list[Level] = []
            for i, level_node in enumerate(raw_levels.value):
                at = f"{where}.levels[{i}]"
                level = self.mapping(level_node, at)
                for key, value in level.items():
                    if key not in ("after", "receivers"):
                        raise self.fail(value, f"{at}.{key}", "unknown field")
                if "after" not in level or "receivers" not in level:
                    raise self.fail(level_node, at, "needs after and receivers")
                after = self.duration(level["after"], f"{at}.after", allow_zero=True)
                if levels and after <= levels[-1].after_s:
                    raise self.fail(level["after"], f"{at}.after", "must grow from level to level")
                names = self.strings(level["receivers"], f"{at}.receivers")
                for j, receiver in enumerate(names):
                    self.known_receiver(level["receivers"], f"{at}.receivers[{j}]", receiver)
                levels.append(Level(after, tuple(names)))
            policies[name] = EscalationPolicy(name, tuple(levels), timeout)
        return policies

    def grouping(
        self, fields: dict[str, yaml.Node], path: str, parent: Grouping | None
    ) -> Grouping:
        by: tuple[str, ...]
        by, wait, interval, repeat = _DEFAULT_GROUPING
        by_all = False
        if parent is not None:
            by, by_all = parent.group_by, parent.by_all
            wait, interval, repeat = (
                parent.group_wait_s,
                parent.group_interval_s,
                parent.repeat_interval_s,
            )
        if "group_by" in fields:
            names = self.strings(fields["group_by"], f"{path}.group_by")
            if names == [ALL_LABELS]:
                by, by_all = (), True
            else:
                for i, name in enumerate(names):
                    if name not in LABELS:
                        raise self.fail(
                            fields["group_by"],
                            f"{path}.group_by[{i}]",
                            f"unknown label {name!r}; use one of {', '.join(LABELS)} or '...'",
                        )
                by, by_all = tuple(names), False
        if "group_wait" in fields:
            wait = self.duration(fields["group_wait"], f"{path}.group_wait", allow_zero=True)
        if "group_interval" in fields:
            interval = self.duration(fields["group_interval"], f"{path}.group_interval")
        if "repeat_interval" in fields:
            repeat = self.duration(fields["repeat_interval"], f"{path}.repeat_interval")
        return Grouping(by, wait, interval, repeat, by_all)


def parse_routing(
    text: str, *, source: str = "<routing>", known_receivers: Iterable[str] | None = None
) -> RoutingTree:
    """Build a :class:`RoutingTree` from YAML text; ``known_receivers`` checks receiver names."""
    parser = _Parser(source, frozenset(known_receivers) if known_receivers is not None else None)
    try:
        document = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        raise ConfigError(
            f"{source}{line}: not valid YAML ({getattr(exc, 'problem', exc)})"
        ) from None
    if document is None:
        raise ConfigError(f"{source}: empty routing file")
    top = parser.mapping(document, "(top level)")
    for key, value in top.items():
        if key not in _TOP_KEYS:
            raise parser.fail(value, key, f"unknown field; use {', '.join(_TOP_KEYS)}")
    if "route" not in top:
        raise parser.fail(document, "route", "missing")
    if "escalation_policies" in top:
        parser.policies = parser.escalation_policies(top["escalation_policies"])
    if "time_intervals" in top:
        parser.intervals = parser.time_intervals(top["time_intervals"])
    rules = parser.inhibit_rules(top["inhibit_rules"]) if "inhibit_rules" in top else None
    return RoutingTree(
        source,
        parser.route(top["route"], "route", None),
        rules,
        dict(parser.policies),
        dict(parser.intervals),
    )


def load_routing(path: Path, *, known_receivers: Iterable[str] | None = None) -> RoutingTree:
    """Read and validate a routing file (see ``pipeline/config/routing.yaml``)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read routing file ({exc.strerror})") from None
    return parse_routing(text, source=str(path), known_receivers=known_receivers)
