"""Parsing the routing file: the route tree with its grouping, then the whole document.

What every field means is in the package docstring (``pipeline/oncall/routing/__init__.py``).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import yaml

from pipeline.errors import ConfigError
from pipeline.oncall.matchers import Matcher
from pipeline.oncall.routes import ALL_LABELS, LABELS, Grouping, Route, RoutingTree
from pipeline.oncall.routing.sections import SectionReader
from pipeline.oncall.time_intervals import NamedInterval

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
_DEFAULT_GROUPING = (("brand", "topic"), 30.0, 300.0, 4 * 3600.0)


class _Parser(SectionReader):
    """The route tree: matchers, receivers, grouping, escalation and time intervals per route."""

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
