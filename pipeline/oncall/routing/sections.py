"""The routing file's sections other than the route tree: time intervals, inhibit rules,
escalation policies, and the label matchers that routes and inhibit rules share.
"""

from __future__ import annotations

import re

import yaml

from pipeline.oncall import time_intervals as ti
from pipeline.oncall.escalation import EscalationPolicy, Level
from pipeline.oncall.inhibition import InhibitRule
from pipeline.oncall.matchers import Matcher
from pipeline.oncall.routes import LABELS
from pipeline.oncall.routing.nodes import NodeReader
from pipeline.oncall.time_intervals import NamedInterval, TimeInterval
from pipeline.records import SEVERITIES

_INTERVAL_KEYS = ("times", "weekdays", "days_of_month", "months", "years", "location")
_INHIBIT_KEYS = frozenset(
    {"source_match", "source_match_re", "target_match", "target_match_re", "equal"}
)


class SectionReader(NodeReader):
    """Reads the sections; ``known_receivers`` (None: not checked) validates receiver names."""

    def __init__(self, source: str, known_receivers: frozenset[str] | None) -> None:
        super().__init__(source)
        self.known = known_receivers
        self.policies: dict[str, EscalationPolicy] = {}
        self.intervals: dict[str, NamedInterval] = {}

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
