"""The routing tree as data: routes, their grouping and time intervals, and the labels matched.

Built and validated by ``pipeline/oncall/routing/`` from the routing file; its docstring says
what every field means. :meth:`RoutingTree.route` walks the tree like Alertmanager: the first
matching child wins unless it says ``continue: true``; :meth:`Route.muted_at` applies a route's
time intervals at the moment of sending.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from pipeline.oncall.escalation import EscalationPolicy
from pipeline.oncall.inhibition import InhibitRule
from pipeline.oncall.matchers import Matcher
from pipeline.oncall.time_intervals import NamedInterval
from pipeline.records import Alert

LABELS = ("brand", "topic", "severity", "state", "language", "author_kind")
ALL_LABELS = "..."


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
    mute_intervals: tuple[NamedInterval, ...] = ()  # not inherited, as in Alertmanager
    active_intervals: tuple[NamedInterval, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        return all(m.matches(labels) for m in self.matchers)

    def muted_at(self, now: datetime) -> str | None:
        """Why this route's notifications are muted at ``now`` (for the receipt), or None."""
        for named in self.mute_intervals:
            if named.contains(now):
                return f"{self.path} mute_time_intervals {named.name}"
        if self.active_intervals and not any(n.contains(now) for n in self.active_intervals):
            names = ", ".join(n.name for n in self.active_intervals)
            return f"{self.path} outside active_time_intervals {names}"
        return None

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
    time_intervals: Mapping[str, NamedInterval] = field(default_factory=dict)

    def routes_for(self, alert: Alert) -> list[Route]:
        return self.root.resolve(alert_labels(alert))

    def route(self, alert: Alert) -> list[str]:
        """Receiver names for ``alert``, each once, in the order the tree yields them."""
        names: list[str] = []
        for route in self.routes_for(alert):
            names.extend(name for name in route.receivers if name not in names)
        return names

    def escalation_route(self, alert: Alert) -> Route | None:
        """The first route the alert ends on that names an escalation policy."""
        return next((r for r in self.routes_for(alert) if r.escalation is not None), None)

    def escalation_for(self, alert: Alert) -> EscalationPolicy | None:
        """The escalation policy of the first route the alert ends on that names one."""
        route = self.escalation_route(alert)
        return None if route is None else self.escalation_policies[str(route.escalation)]

    def muted_receivers(self, alert: Alert, now: datetime) -> dict[str, str]:
        """Receiver -> why, for receivers whose notification of ``alert`` is time-muted at ``now``.

        A firing step: a receiver is muted when every route the alert ends on that names it is
        muted. An escalated step: every receiver of the policy's levels is muted when the route
        that gives the policy is. Other steps (acknowledged, resolved) are never muted.
        """
        if alert.state == "escalated":
            route = self.escalation_route(alert.derive(state="firing"))
            why = route.muted_at(now) if route is not None else None
            if route is None or why is None:
                return {}
            policy = self.escalation_policies[str(route.escalation)]
            return {name: why for level in policy.levels for name in level.receivers}
        if alert.state != "firing":
            return {}
        muted: dict[str, str] = {}
        open_: set[str] = set()
        for route in self.routes_for(alert):
            why = route.muted_at(now)
            for name in route.receivers:
                if why is None:
                    open_.add(name)
                else:
                    muted.setdefault(name, why)
        return {name: why for name, why in muted.items() if name not in open_}

    def find(self, path: str) -> Route | None:
        """The route at ``path`` (``route.routes[1]``), e.g. from an alert group's id."""
        stack = [self.root]
        while stack:
            node = stack.pop()
            if node.path == path:
                return node
            stack.extend(node.routes)
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
