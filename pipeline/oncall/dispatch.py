"""The dispatch plan: alert steps -> receivers, each step delivered at most once per receiver.

Idempotency is kept in a changelog-backed table keyed by dedup key (the stream's key): before
sending a step to a receiver the agent checks whether that step already reached it, and records
success right after. A restart or rebalance therefore re-reads uncommitted alert steps without
paging twice; the one window left (the worker dies between a receiver accepting and the table
write) is closed by receivers that de-duplicate on the idempotency key, which is the same on every
attempt. Every attempt leaves a receipt on ``alerts.deliveries``; a step a receiver never accepted
(its last attempt failed) also leaves a dead letter on ``alerts.deliveries.dlq``
(``pipeline/delivery/dead_letters.py``; ``notify_groups`` writes them through :func:`dead_letter_sink` too).

Before sending, a firing or escalated step may be muted: by an active silence (the global
``silences`` table) or by inhibition (a firing critical alert for the same brand and topic, read
from this worker's alert book). A muted step leaves a ``silenced`` / ``inhibited`` receipt per
receiver instead of a delivery. A route's time intervals (``mute_time_intervals`` /
``active_time_intervals``, see ``pipeline/oncall/routing/``) mute per receiver instead: a receiver whose
every route is muted at ``now`` gets a ``muted`` receipt, the others get the step as usual (and a
grouped step goes to the first unmuted route naming the receiver). Resolved and acknowledged steps
are never muted, by silences or by time: Alertmanager would drop a resolved notice inside a mute
interval, Tocsin always sends it, like it does for silenced alerts. An escalated step goes to its
escalation level's receivers; acknowledged and resolved steps also reach every receiver that was
paged by an escalation, so nobody paged is left with an open incident.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

from pipeline import services
from pipeline.delivery.dead_letters import DeadLetterSink, dead_lettering
from pipeline.delivery.once import deliver_once
from pipeline.delivery.receivers.base import Receiver
from pipeline.delivery.redaction import secrets_of
from pipeline.delivery.retry import RetryPolicy, sender
from pipeline.oncall.escalation import step_name
from pipeline.oncall.grouping import GroupKey, group_id, grouping_to_dict
from pipeline.oncall.inhibition import DEFAULT_RULES, inhibited_by
from pipeline.oncall.routing import Route, RoutingTree, alert_labels, load_routing
from pipeline.oncall.silences import Silence, readable_silences, silenced_by
from pipeline.records import Alert, DeliveryDeadLetter, DeliveryReceipt, GroupCommand
from pipeline.tables import alert_book, silences
from pipeline.topics import alert_groups_topic, deliveries, delivery_dead_letters

log = logging.getLogger(__name__)

PAGED_BY_ESCALATION = "escalated."


def step_of(alert: Alert) -> str:
    """The step's name in idempotency keys: its state, or ``escalated.<round>.<level>``."""
    if alert.state == "escalated":
        esc = (alert.why or {}).get("escalation") or {}
        return step_name(int(esc.get("round", 0)), int(esc.get("level", 1)))
    return alert.state


def idempotency_key(alert: Alert, receiver: Receiver) -> str:
    return f"{alert.dedup_key}/{step_of(alert)}/{receiver.name}"


def select_receivers(
    alert: Alert,
    receivers: list[Receiver],
    tree: RoutingTree | None,
    delivered: Mapping[str, str] | None = None,
) -> list[Receiver]:
    """Receivers the route tree names for ``alert`` (all without a tree); the console always.

    ``delivered`` (the alert book's marks) adds, for acknowledged/resolved steps, the receivers
    an escalation paged.
    """
    if tree is None:
        return receivers
    names: set[str]
    if alert.state == "escalated":
        policy = tree.escalation_for(alert)
        level = int(((alert.why or {}).get("escalation") or {}).get("level", 0))
        names = set()
        if policy is not None and 0 < level <= len(policy.levels):
            names = set(policy.levels[level - 1].receivers)
    else:
        names = set(tree.route(alert))
        if alert.state in ("acknowledged", "resolved") and delivered:
            names |= {
                mark.split("/", 1)[1] for mark in delivered if mark.startswith(PAGED_BY_ESCALATION)
            }
    return [r for r in receivers if r.name in names or r.name == "console"]


def group_plan(
    alert: Alert,
    receivers: list[Receiver],
    tree: RoutingTree | None,
    now: datetime | None = None,
) -> list[tuple[Route, str]]:
    """(route, receiver name) pairs whose firing step goes to an alert group instead of out now.

    Each receiver goes with the first route (tree order) that names it and, given ``now``, is
    not time-muted then; only routes with a ``group_wait`` above zero group. The console is never
    grouped (it is the worker's own log).
    """
    if tree is None or alert.state != "firing":
        return []
    configured = {r.name for r in receivers if r.name != "console"}
    seen: set[str] = set()
    plan: list[tuple[Route, str]] = []
    for route in tree.routes_for(alert):
        if now is not None and route.muted_at(now) is not None:
            continue
        for name in route.receivers:
            if name in seen or name not in configured:
                continue
            seen.add(name)
            if route.grouping.group_wait_s > 0:
                plan.append((route, name))
    return plan


def plain(alert: Alert) -> dict[str, Any]:
    """The alert as a plain dict (no ``__faust`` marker that could revive it as a record)."""
    return {k: v for k, v in alert.to_representation().items() if k != "__faust"}


def group_key(route: Route, receiver: str, alert: Alert) -> GroupKey:
    """One group per (route, receiver, values of the route's ``group_by`` labels)."""
    return f"{route.path}:{receiver}", route.grouping.key(alert_labels(alert))


async def send_receipt(
    alert: Alert,
    receiver: Receiver,
    attempt: int,
    outcome: str,
    status: int | None,
    error: str | None,
) -> None:
    """Count one attempt (or mute) and leave its receipt on ``alerts.deliveries``.

    Shared by this agent and ``notify_groups``: the receipts topic is the one record of what
    each receiver was sent, whichever path sent it.
    """
    services.metrics().deliveries.labels(receiver.name, outcome).inc()
    await deliveries.send(
        key=alert.dedup_key,
        value=DeliveryReceipt(
            dedup_key=alert.dedup_key,
            state=alert.state,
            receiver=receiver.name,
            attempt=attempt,
            outcome=outcome,
            status_code=status,
            at=datetime.now(UTC),
            error=error,
        ),
    )


def routing_tree(receivers: list[Receiver]) -> RoutingTree | None:
    """The configured route tree, checked against the receivers actually configured."""
    path = services.settings().routing_file
    if path is None:
        return None
    return load_routing(path, known_receivers={r.name for r in receivers})


def retry_policy() -> RetryPolicy:
    return RetryPolicy.from_settings(services.settings())


async def dead_letter_sink(record: DeliveryDeadLetter) -> None:
    """Count a dead letter and write it to ``alerts.deliveries.dlq``, keyed by dedup key."""
    services.metrics().delivery_dead_letters.labels(record.receiver).inc()
    await delivery_dead_letters.send(key=record.dedup_key, value=record)


def secrets() -> list[str]:
    """Secret setting values and named receivers' secrets, masked in dead letters' errors."""
    named = [secret for receiver in services.receivers() for secret in receiver.secrets]
    return secrets_of(services.settings(), named)


def labels_of(stored: Mapping[str, Any]) -> dict[str, str]:
    """Routing labels of an alert as the alert book stores it (a plain dict)."""
    return {k: str(stored.get(k, "")) for k in ("brand", "topic", "severity", "state")}


_unreadable_logged = [-60.0]


def _unreadable_silence(problem: str) -> None:
    now = time.monotonic()
    if now - _unreadable_logged[0] >= 60.0:
        _unreadable_logged[0] = now
        log.error("a stored silence does not read back and is ignored: %s", problem)


def current_silences() -> list[Silence]:
    """Every silence in the table that reads back; one that does not is ignored (and logged once
    a minute) rather than failing every alert step (a poisoned table would stop all paging)."""
    return readable_silences(silences.values(), _unreadable_silence)


def open_alerts() -> Iterator[tuple[str, dict[str, str]]]:
    """(dedup key, labels) of every alert in this worker's alert book."""
    for key, entry in alert_book.items():
        stored = entry.get("alert") if isinstance(entry, Mapping) else None
        if stored:
            yield str(key), labels_of(stored)


def time_muted(alert: Alert, tree: RoutingTree | None, now: datetime) -> dict[str, tuple[str, str]]:
    """Receiver -> ("muted", why) for receivers the route tree's time intervals mute at ``now``."""
    if tree is None:
        return {}
    return {name: ("muted", why) for name, why in tree.muted_receivers(alert, now).items()}


def muted_by(alert: Alert, tree: RoutingTree | None, now: datetime) -> tuple[str, str] | None:
    """("silenced", silence id) or ("inhibited", dedup key of the muting alert), or None."""
    labels = alert_labels(alert)
    silence = silenced_by(labels, alert.state, current_silences(), now)
    if silence is not None:
        return "silenced", silence.id
    if alert.state not in ("firing", "escalated"):
        return None
    rules = DEFAULT_RULES if tree is None or tree.inhibit_rules is None else tree.inhibit_rules
    source = inhibited_by(alert.dedup_key, labels, open_alerts(), rules)
    return ("inhibited", source) if source is not None else None


@dataclass
class StepInFlight:
    """One alert step on its way through the dispatch stages, and its alert book entry."""

    alert: Alert
    now: datetime
    book: dict[str, Any]
    results: dict[str, bool] = field(default_factory=dict)

    @classmethod
    def open(cls, alert: Alert, now: datetime) -> StepInFlight:
        book = dict(alert_book[alert.dedup_key])
        book["alert"] = alert.to_representation()
        if alert.state == "firing":
            book.setdefault("fired_at", now.isoformat())
        book["delivered"] = dict(book.get("delivered", {}))
        book["grouped"] = dict(book.get("grouped", {}))  # "<step>/<receiver>" -> group id
        return cls(alert, now, book)

    @property
    def step(self) -> str:
        return step_of(self.alert)

    @property
    def delivered(self) -> dict[str, str]:
        return cast(dict[str, str], self.book["delivered"])

    @property
    def grouped(self) -> dict[str, str]:
        return cast(dict[str, str], self.book["grouped"])

    def save(self) -> None:
        book = {k: v for k, v in self.book.items() if k != "grouped" or v}
        alert_book[self.alert.dedup_key] = book

    async def receipt(
        self, receiver: Receiver, attempt: int, outcome: str, status: int | None, error: str | None
    ) -> None:
        await send_receipt(self.alert, receiver, attempt, outcome, status, error)


async def mute_stage(
    flight: StepInFlight, receivers: list[Receiver], tree: RoutingTree | None
) -> list[Receiver]:
    """Silences and inhibition mute every receiver, time intervals some: receipts, then the rest."""
    muted = muted_by(flight.alert, tree, flight.now)
    if muted is not None:
        mutes = {r.name: muted for r in receivers}
    else:
        mutes = time_muted(flight.alert, tree, flight.now)
    for receiver in [r for r in receivers if r.name in mutes]:
        outcome, by = mutes[receiver.name]
        at = flight.now.isoformat()
        flight.book["muted"] = {"step": flight.step, "outcome": outcome, "by": by, "at": at}
        await flight.receipt(receiver, 0, outcome, None, f"{outcome} by {by}")
        flight.results[receiver.name] = False
    if mutes:
        flight.save()
    return [r for r in receivers if r.name not in mutes]


async def release_stage(flight: StepInFlight) -> None:
    """An acknowledged or resolved step goes out at once: its groups let the alert go."""
    if flight.alert.state not in ("acknowledged", "resolved"):
        return
    for gid in sorted(set(flight.grouped.values())):
        await alert_groups_topic.send(
            key=gid,
            value=GroupCommand(
                group=gid,
                action="remove",
                at=flight.now,
                alert={"dedup_key": flight.alert.dedup_key},
            ),
        )


async def group_stage(
    flight: StepInFlight, receivers: list[Receiver], tree: RoutingTree | None
) -> set[str]:
    """Hand a firing step to the groups of routes that group; the receivers handed over."""
    metrics = services.metrics()
    handed: set[str] = set()
    for route, name in group_plan(flight.alert, receivers, tree, flight.now):
        handed.add(name)
        mark = f"{flight.step}/{name}"
        if mark in flight.delivered or mark in flight.grouped:
            metrics.deliveries.labels(name, "skipped_duplicate").inc()
            flight.results[name] = True
            continue
        key = group_key(route, name, flight.alert)
        gid = group_id(key)
        await alert_groups_topic.send(
            key=gid,
            value=GroupCommand(
                group=gid,
                action="add",
                at=flight.now,
                key=[key[0], [list(pair) for pair in key[1]]],
                alert=plain(flight.alert),
                receivers=[name],
                grouping=grouping_to_dict(route.grouping),
            ),
        )
        flight.grouped[mark] = gid
        flight.save()
        receiver = next(r for r in receivers if r.name == name)
        await flight.receipt(receiver, 0, "grouped", None, None)
        flight.results[name] = True
    return handed


async def deliver_stage(
    flight: StepInFlight,
    receivers: list[Receiver],
    policy: RetryPolicy,
    dead_letters: DeadLetterSink,
) -> None:
    """Each receiver not reached yet gets the step once (retries, receipts, dead letters)."""
    metrics = services.metrics()
    alert, masked = flight.alert, secrets()
    for receiver in receivers:

        async def on_attempt(
            attempt: int,
            outcome: str,
            status: int | None,
            error: str | None,
            receiver: Receiver = receiver,
        ) -> None:
            await flight.receipt(receiver, attempt, outcome, status, error)

        step_key = idempotency_key(alert, receiver)
        mark = f"{flight.step}/{receiver.name}"
        fresh = mark not in flight.delivered
        ok = await deliver_once(
            flight.delivered,
            mark,
            sender(receiver, alert, step_key),
            policy=policy,
            on_attempt=dead_lettering(
                on_attempt,
                alerts=[alert],
                receiver=receiver.name,
                step=step_of,
                idempotency_key=step_key,
                sink=dead_letters,
                secrets=masked,
            ),
            on_duplicate=metrics.deliveries.labels(receiver.name, "skipped_duplicate").inc,
        )
        flight.results[receiver.name] = ok
        if ok and fresh:
            latency = (datetime.now(UTC) - alert.updated_at).total_seconds()
            metrics.delivery_latency.labels(receiver.name).observe(max(0.0, latency))
        flight.save()


async def dispatch(
    alert: Alert,
    receivers: list[Receiver],
    policy: RetryPolicy,
    *,
    tree: RoutingTree | None = None,
    dead_letters: DeadLetterSink = dead_letter_sink,
    now: datetime | None = None,
) -> dict[str, bool]:
    """Deliver one alert step to every receiver not yet reached; returns receiver -> delivered.

    The stages, in order: mute (silences, inhibition, time intervals), release (an acknowledged
    or resolved step leaves its groups), group (a firing step joins its routes' groups),
    deliver (the rest, once each). ``now`` (default: the wall clock) decides silences and time
    intervals; tests inject it.
    """
    flight = StepInFlight.open(alert, now or datetime.now(UTC))
    receivers = await mute_stage(flight, receivers, tree)
    if receivers:
        await release_stage(flight)
        handed = await group_stage(flight, receivers, tree)
        rest = [r for r in receivers if r.name not in handed]
        await deliver_stage(flight, rest, policy, dead_letters)
    flight.save()
    return flight.results
