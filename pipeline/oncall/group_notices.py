"""Group notices: Alertmanager's alert grouping in the delivery path, safe across restarts.

The ``notify_groups`` agent and its ``flush_groups`` timer (``agents/notify_groups.py``) call
this module.

Design
------
``dispatch_alerts`` hands each firing step of a grouped route (``group_wait`` above zero) to the
group of (route, receiver, values of the route's ``group_by`` labels) as an ``add`` command on
``alerts.groups``, keyed by the group's id (``route.routes[1]:slack|brand=quillon``). Keying by
group id puts every alert of a group -- whatever its own dedup key and partition -- on one
partition, where this agent keeps the group in the changelog-backed ``alert_groups`` table: the
:class:`~pipeline.oncall.grouping.Grouper` state (alerts, timers, sequence) as a plain dict.

* A new group is timed from the ``add`` command's own time: its first notification is due
  ``group_wait`` later, so a burst (a brand's scandal spiking on three topics) is one message.
* The ``flush_groups`` timer (every :data:`TICK_S`) looks at this worker's groups and sends a
  ``flush`` command for each group that is due. It never writes the table (a timer has no
  current event, hence no changelog partition); the agent does, when the command comes back.
* On ``flush`` the agent asks the Grouper what is due at the current time. A due notification is
  first written to the table as ``pending`` (alerts, sequence), then sent to the receiver with
  the usual retries, and marked done in ``pending`` before ``pending`` is cleared. Later
  alerts joining the group are sent at most once per ``group_interval``; an unchanged group with
  firing alerts is re-sent after ``repeat_interval`` (the Grouper does both; cheap because the
  timer ticks anyway). A notification that failed after every retry marks its group changed
  again, so it is tried once more at the next ``group_interval``.
* Restart or rebalance: the table comes back from its changelog with the timers as wall-clock
  times, and the timer of whichever worker owns the partition flushes it -- a worker killed during
  ``group_wait`` still sends after restart. A worker killed while sending leaves ``pending``
  behind; the next ``flush`` finishes it for a receiver not marked yet, with the same idempotency
  key ``group/<group id>@<opened ms>/<sequence>/<receiver>``; the only window left (receiver
  accepted, table not yet written) is the one ``dispatch_alerts`` has, closed the same way by
  receivers that de-duplicate on the key. A re-read ``add`` of a step already in the group is no
  change (same state) and sends nothing; a re-read ``flush`` finds nothing due.
* Receipts: every attempt leaves one receipt per alert of the notification on
  ``alerts.deliveries`` (the alert's dedup key and state, the receiver, the outcome). A
  notification a receiver never accepted also leaves one dead letter per alert on
  ``alerts.deliveries.dlq`` (``pipeline/delivery/dead_letters.py``), with the group and the key each
  alert carried (``<notification key>/<dedup key>``, as ``Receiver.send_group`` gives it).
* Silences are checked again at flush (a silence created during ``group_wait`` mutes): muted
  alerts are left out of the message and get a ``silenced``/``inhibited`` receipt. So is the
  group's route's time intervals: a flush inside its mute interval (or outside its active ones)
  sends nothing and leaves a ``muted`` receipt per alert; the step is not re-sent later.
* Not grouped, sent by ``dispatch_alerts`` at once: routes with ``group_wait: 0s`` (exactly the
  behaviour without grouping), the console, escalated, acknowledged and resolved steps (resolved
  notices always go out). Acknowledged and resolved steps ``remove`` their alert from the group, so
  it is not listed or repeated any more; a group left empty is dropped.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from pipeline import services
from pipeline.delivery.dead_letters import DeadLetterSink, dead_lettering
from pipeline.delivery.receivers.base import GroupNotice, Receiver, send_group
from pipeline.delivery.retry import RetryPolicy, retry_call
from pipeline.oncall.dispatch import (
    muted_by,
    send_receipt,
    step_of,
)
from pipeline.oncall.grouping import Grouper, GroupKey, grouping_from_dict
from pipeline.oncall.routing import RoutingTree
from pipeline.records import Alert, GroupCommand, shape_problem

log = logging.getLogger(__name__)
RESEND_FLUSH_S = 10.0  # a flush command not answered by then (a rebalance moved it) is sent again

State = dict[str, Any]
Save = Callable[[State], None]
ReceiptHook = Callable[[Receiver, Alert, int, str, "int | None", "str | None"], Awaitable[None]]


def _load(state: Mapping[str, Any]) -> tuple[Grouper, GroupKey | None]:
    grouper = Grouper()
    stored = state.get("group")
    return grouper, (grouper.load(stored) if stored else None)


def _state(grouper: Grouper, key: GroupKey | None, pending: Mapping[str, Any] | None) -> State:
    out: State = {}
    dumped = grouper.dump(key) if key is not None else None
    if dumped is not None:
        out["group"] = dumped
    if pending:
        out["pending"] = dict(pending)
    return out


def command_problem(command: GroupCommand) -> str | None:
    """Why a group command cannot be applied, or None; checked before the group's state is read.

    Only dispatch and the flush timer write ``alerts.groups``, but whatever can produce to it
    could send an ``add`` whose grouping lacks its timers (the agent crashed on a KeyError) or
    whose alert is not one (stored, then every flush of the group failed on it).
    """
    if command.action not in ("add", "remove", "flush"):
        return f"action: add, remove or flush, not {command.action[:40]!r}"
    if command.action == "flush":
        return None
    raw = command.alert
    if not isinstance(raw, dict) or not isinstance(raw.get("dedup_key"), str):
        return "alert: an alert with a dedup key"
    if command.action == "remove":
        return None
    try:
        alert = Alert.from_data({k: v for k, v in raw.items() if k != "__faust"})
    except (KeyError, TypeError, ValueError) as exc:
        return f"alert: {type(exc).__name__}: {exc}"
    try:
        grouping_from_dict(command.grouping or {})
    except (KeyError, TypeError, ValueError) as exc:
        return f"grouping: {type(exc).__name__}: {exc}"
    key = command.key
    if not (
        isinstance(key, list)
        and len(key) == 2
        and isinstance(key[0], str)
        and isinstance(key[1], list)
        and all(isinstance(pair, list) and len(pair) == 2 for pair in key[1])
    ):
        return "key: [route path, [[label, value], ...]]"
    if not command.receivers or not all(isinstance(r, str) for r in command.receivers):
        return "receivers: a non-empty list of names"
    return shape_problem(alert, Alert)


def advance(state: Mapping[str, Any], command: GroupCommand, now: float) -> State:
    """Apply one command to a group's stored state (pure); a due flush sets ``pending``."""
    grouper, key = _load(state)
    pending = state.get("pending")
    if command.action == "add" and command.alert and command.key and command.grouping:
        path, pairs = command.key
        key = (str(path), tuple((str(k), str(v)) for k, v in pairs))
        alert = {k: v for k, v in command.alert.items() if k != "__faust"}
        grouper.add(
            key,
            grouping_from_dict(command.grouping),
            tuple(command.receivers or ()),
            str(alert["dedup_key"]),
            alert,
            command.at.timestamp(),
        )
    elif command.action == "remove" and command.alert and key is not None:
        grouper.remove(key, str(command.alert["dedup_key"]))
    elif command.action == "flush" and key is not None and not pending:
        for note in grouper.due(now):
            pending = {
                "sequence": note.sequence,
                "created": note.created,
                "repeat": note.repeat,
                "labels": [list(pair) for pair in note.key[1]],
                "receivers": list(note.receivers),
                "alerts": [dict(a) for a in note.alerts],
                "done": {},  # receiver -> when it was sent (or given up on: see "failed")
            }
    return _state(grouper, key, pending)


def idempotency_key(group: str, pending: Mapping[str, Any], receiver: str) -> str:
    """Same on every attempt and after a restart; a reopened group has a new ``created``."""
    opened = int(float(pending["created"]) * 1000)
    return f"group/{group}@{opened}/{pending['sequence']}/{receiver}"


async def unmuted(
    group: str,
    alerts: list[Alert],
    receiver: Receiver,
    tree: RoutingTree | None,
    now: datetime,
    receipt: ReceiptHook,
) -> list[Alert]:
    """The alerts of a group notification ``receiver`` gets at ``now``; a receipt per muted one.

    The group's route may have entered a mute interval since the alerts were added.
    """
    route = tree.find(group.split(":", 1)[0]) if tree is not None else None
    why = route.muted_at(now) if route is not None else None
    shown: list[Alert] = []
    for alert in alerts:
        muted = ("muted", why) if why is not None else muted_by(alert, tree, now)
        if muted is None:
            shown.append(alert)
        else:
            await receipt(receiver, alert, 0, muted[0], None, f"{muted[0]} by {muted[1]}")
    return shown


async def deliver_notice(
    group: str,
    pending: dict[str, Any],
    receiver: Receiver,
    shown: list[Alert],
    policy: RetryPolicy,
    *,
    receipt: ReceiptHook,
    dead_letters: DeadLetterSink,
    masked: Iterable[str],
) -> bool:
    """One group notification to ``receiver``, retried; a receipt per alert and attempt, and a
    dead letter per alert when every attempt failed. True when the receiver accepted it."""
    notice = GroupNotice(
        group=group,
        labels=tuple((str(k), str(v)) for k, v in pending.get("labels", [])),
        alerts=tuple(shown),
        sequence=int(pending["sequence"]),
        repeat=bool(pending.get("repeat", False)),
    )
    key = idempotency_key(group, pending, receiver.name)

    async def send() -> int | None:
        return await send_group(receiver, notice, idempotency_key=key)

    async def on_attempt(attempt: int, outcome: str, status: int | None, error: str | None) -> None:
        for alert in shown:
            await receipt(receiver, alert, attempt, outcome, status, error)

    def alert_key(alert: Alert) -> str:
        return f"{key}/{alert.dedup_key}"

    hook = dead_lettering(
        on_attempt,
        alerts=shown,
        receiver=receiver.name,
        step=step_of,
        idempotency_key=alert_key,
        sink=dead_letters,
        secrets=masked,
        group=group,
    )
    return await retry_call(send, policy=policy, on_attempt=hook)


async def send_pending(
    group: str,
    state: State,
    receivers: Iterable[Receiver],
    policy: RetryPolicy,
    *,
    tree: RoutingTree | None,
    save: Save,
    receipt: ReceiptHook,
    dead_letters: DeadLetterSink,
    now: datetime,
    masked: list[str] | None = None,
) -> State:
    """Send the pending notification to each of its receivers not reached yet, then clear it.

    ``dead_letters`` takes a dead letter per alert when a receiver never accepts it; ``masked``
    are the secret values hidden in their errors.
    """
    pending = dict(state.get("pending") or {})
    if not pending:
        return state
    done: dict[str, str] = dict(pending.get("done", {}))
    alerts = [Alert.from_data(dict(a)) for a in pending.get("alerts", [])]
    by_name = {r.name: r for r in receivers}
    for name in pending.get("receivers", []):
        receiver = by_name.get(name)
        if receiver is None or name in done:
            continue
        shown = await unmuted(group, alerts, receiver, tree, now, receipt)
        if shown:
            ok = await deliver_notice(
                group,
                pending,
                receiver,
                shown,
                policy,
                receipt=receipt,
                dead_letters=dead_letters,
                masked=masked or (),
            )
            if not ok:
                pending["failed"] = sorted({*pending.get("failed", []), name})
        done[name] = datetime.now(UTC).isoformat()
        pending["done"] = done
        state = {**state, "pending": pending}
        save(state)
    state = {k: v for k, v in state.items() if k != "pending"}
    if pending.get("failed") and state.get("group"):
        # out of attempts: the group counts as changed, so the next group_interval tries again
        state["group"] = {**state["group"], "changed": True}
    save(state)
    return state


async def handle(
    command: GroupCommand,
    state: State,
    receivers: list[Receiver],
    policy: RetryPolicy,
    *,
    tree: RoutingTree | None,
    save: Save,
    receipt: ReceiptHook,
    dead_letters: DeadLetterSink,
    now: float,
    masked: list[str] | None = None,
) -> State:
    """One command: finish a notification left pending, apply the command, send what is due."""
    at = datetime.fromtimestamp(now, UTC)

    async def finish(current: State) -> State:
        return await send_pending(
            command.group,
            current,
            receivers,
            policy,
            tree=tree,
            save=save,
            receipt=receipt,
            dead_letters=dead_letters,
            now=at,
            masked=masked,
        )

    if command.action == "flush" and state.get("pending"):
        state = await finish(state)
    state = advance(state, command, now)
    save(state)
    if state.get("pending"):
        state = await finish(state)
    return state


def due_at(state: Mapping[str, Any]) -> float | None:
    """When a stored group wants a flush (now if a notification is pending); None: never."""
    if state.get("pending"):
        return 0.0
    group = state.get("group")
    return float(group["next_flush"]) if group else None


def flushes_due(
    states: Iterable[tuple[str, Mapping[str, Any]]],
    now: float,
    emitted: dict[str, tuple[Any, float]],
) -> list[str]:
    """Group ids to send a ``flush`` for at ``now``; ``emitted`` stops repeats while one is in
    flight (the same state is flushed again only after :data:`RESEND_FLUSH_S`)."""
    out: list[str] = []
    for group, state in states:
        when = due_at(state) if state else None
        if when is None or when > now:
            continue
        group_state = state.get("group") or {}
        marker = (when, group_state.get("sequence"), bool(state.get("pending")))
        last = emitted.get(group)
        if last is not None and last[0] == marker and now - last[1] < RESEND_FLUSH_S:
            continue
        emitted[group] = (marker, now)
        out.append(group)
    return out


def receipt_hook() -> ReceiptHook:
    """Count a delivered attempt's latency, then leave its receipt like ``dispatch`` does."""
    metrics = services.metrics()

    async def receipt(
        receiver: Receiver,
        alert: Alert,
        attempt: int,
        outcome: str,
        status: int | None,
        error: str | None,
    ) -> None:
        if outcome == "delivered":
            latency = (datetime.now(UTC) - alert.updated_at).total_seconds()
            metrics.delivery_latency.labels(receiver.name).observe(max(0.0, latency))
        await send_receipt(alert, receiver, attempt, outcome, status, error)

    return receipt
