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
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from pipeline.errors import ConfigError
from pipeline.oncall.escalation import EscalationPolicy, Level
from pipeline.records import SEVERITIES, Alert

if TYPE_CHECKING:  # inhibition imports Matcher from here
    from pipeline.oncall.inhibition import InhibitRule

LABELS = ("brand", "topic", "severity", "state", "language", "author_kind")
ALL_LABELS = "..."
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
    }
)
_TOP_KEYS = ("route", "inhibit_rules", "escalation_policies")
_INHIBIT_KEYS = frozenset(
    {"source_match", "source_match_re", "target_match", "target_match_re", "equal"}
)
_DURATION = re.compile(r"(\d+)(ms|s|m|h|d|w)")
_UNIT_S = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_DEFAULT_GROUPING = (("brand", "topic"), 30.0, 300.0, 4 * 3600.0)


def parse_duration(text: str) -> float:
    """Seconds in an Alertmanager/Prometheus duration such as ``30s``, ``5m`` or ``1h30m``."""
    pos, total = 0, 0.0
    for match in _DURATION.finditer(text):
        if match.start() != pos:
            break
        total += int(match[1]) * _UNIT_S[match[2]]
        pos = match.end()
    if not text or pos != len(text):
        raise ValueError(f"{text!r} is not a duration like 30s, 5m, 4h or 1h30m")
    return total


@dataclass(frozen=True)
class Matcher:
    """One label condition: any of ``values``, or a full match of ``pattern``."""

    label: str
    values: frozenset[str] | None = None
    pattern: re.Pattern[str] | None = None

    def matches(self, labels: Mapping[str, str]) -> bool:
        value = labels.get(self.label)
        if value is None:
            return False
        if self.values is not None:
            return value in self.values
        return self.pattern is not None and self.pattern.fullmatch(value) is not None


@dataclass(frozen=True)
class Grouping:
    """Alertmanager's grouping for one route (``group_by`` empty with ``by_all``: every label)."""

    group_by: tuple[str, ...]
    group_wait_s: float
    group_interval_s: float
    repeat_interval_s: float
    by_all: bool = False

    def key(self, labels: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
        """The group an alert with ``labels`` belongs to on this route."""
        names = sorted(labels) if self.by_all else self.group_by
        return tuple((name, labels.get(name, "")) for name in names)


@dataclass(frozen=True)
class Route:
    """One node of the routing tree; ``path`` (e.g. ``route.routes[1]``) names it in messages."""

    path: str
    receivers: tuple[str, ...]
    matchers: tuple[Matcher, ...]
    continue_: bool
    grouping: Grouping
    routes: tuple[Route, ...]
    escalation: str | None = None  # name of an escalation policy (inherited by child routes)

    def matches(self, labels: Mapping[str, str]) -> bool:
        return all(m.matches(labels) for m in self.matchers)

    def resolve(self, labels: Mapping[str, str]) -> list[Route]:
        """The routes an alert ends on below (and including) this one, in tree order."""
        found: list[Route] = []
        for child in self.routes:
            if child.matches(labels):
                found.extend(child.resolve(labels))
                if not child.continue_:
                    break
        return found or [self]


@dataclass(frozen=True)
class RoutingTree:
    """The route tree plus the file's inhibit rules and escalation policies.

    ``inhibit_rules`` is None when the file does not mention them: the caller then applies
    :data:`pipeline.oncall.inhibition.DEFAULT_RULES`; an empty list means "no inhibition".
    """

    source: str
    root: Route
    inhibit_rules: tuple[InhibitRule, ...] | None = None
    escalation_policies: Mapping[str, EscalationPolicy] = field(default_factory=dict)

    def routes_for(self, alert: Alert) -> list[Route]:
        return self.root.resolve(alert_labels(alert))

    def route(self, alert: Alert) -> list[str]:
        """Receiver names for ``alert``, each once, in the order the tree yields them."""
        names: list[str] = []
        for route in self.routes_for(alert):
            names.extend(name for name in route.receivers if name not in names)
        return names

    def escalation_for(self, alert: Alert) -> EscalationPolicy | None:
        """The escalation policy of the first route the alert ends on that names one."""
        for route in self.routes_for(alert):
            if route.escalation is not None:
                return self.escalation_policies[route.escalation]
        return None

    def receiver_names(self) -> set[str]:
        """Every receiver the tree can send to (check these are configured at start-up)."""
        out: set[str] = set()
        stack = [self.root]
        while stack:
            node = stack.pop()
            out.update(node.receivers)
            stack.extend(node.routes)
        return out


def alert_labels(alert: Alert) -> dict[str, str]:
    """The labels routing matches on; ``language``/``author_kind`` only when the alert has them."""
    labels = {
        "brand": alert.brand,
        "topic": alert.topic,
        "severity": alert.severity,
        "state": alert.state,
    }
    why = alert.why or {}
    for name in ("language", "author_kind"):
        value = why.get(name)
        if isinstance(value, str) and value:
            labels[name] = value
    return labels


# -- loading -----------------------------------------------------------------------------------
class _Parser:
    """Walks the YAML node tree (not plain data) so every error can name its line."""

    def __init__(self, source: str, known_receivers: frozenset[str] | None) -> None:
        self.source = source
        self.known = known_receivers
        self.policies: dict[str, EscalationPolicy] = {}

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
        children: list[Route] = []
        shell = Route(path, receivers, tuple(matchers), cont, grouping, (), escalation)
        if "routes" in fields:
            node_routes = fields["routes"]
            if not isinstance(node_routes, yaml.SequenceNode):
                raise self.fail(node_routes, f"{path}.routes", "expected a list of routes")
            for i, child in enumerate(node_routes.value):
                children.append(self.route(child, f"{path}.routes[{i}]", shell))
        return Route(path, receivers, tuple(matchers), cont, grouping, tuple(children), escalation)

    def known_receiver(self, node: yaml.Node, field: str, name: str) -> None:
        if self.known is not None and name not in self.known:
            raise self.fail(
                node,
                field,
                f"unknown receiver {name!r}; configured: {', '.join(sorted(self.known))}",
            )

    def inhibit_rules(self, node: yaml.Node) -> tuple[InhibitRule, ...]:
        from pipeline.oncall.inhibition import InhibitRule

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
    rules = parser.inhibit_rules(top["inhibit_rules"]) if "inhibit_rules" in top else None
    return RoutingTree(
        source, parser.route(top["route"], "route", None), rules, dict(parser.policies)
    )


def load_routing(path: Path, *, known_receivers: Iterable[str] | None = None) -> RoutingTree:
    """Read and validate a routing file (see ``pipeline/config/routing.yaml``)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read routing file ({exc.strerror})") from None
    return parse_routing(text, source=str(path), known_receivers=known_receivers)
