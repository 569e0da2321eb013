"""Alertmanager's grouping timers, as a pure state machine driven by an injected clock.

Alerts that share a route and the values of its ``group_by`` labels form a group and are
notified together:

* a new group waits ``group_wait`` so a burst (a scandal spiking on three topics at once)
  becomes one notification;
* after that, changes (new alerts, resolved ones) are sent at most once per ``group_interval``;
* an unchanged group that still has firing alerts is re-sent after ``repeat_interval``.

Resolved alerts are sent once in the next notification and then leave the group; a group with
nothing left disappears. ``due(now)`` returns the notifications to send at ``now``; the caller
ticks it (the worker every second, tests with a fake clock).

The worker keeps one group per table key, so :meth:`Grouper.dump` / :meth:`Grouper.load` turn a
group into a plain JSON dict and back (the changelog-backed ``alert_groups`` table stores it; a
restart in the middle of a ``group_wait`` resumes from it). :meth:`Grouper.remove` takes an alert
out without making the group "changed": the worker sends resolved and acknowledged steps on their
own, at once, and only tells the group to stop listing (and repeating) that alert. ``created`` (the
time the group was opened) names one life of a group, so a group that empties and opens again
later does not reuse the idempotency keys of its earlier notifications.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pipeline.oncall.routing import Grouping

GroupKey = tuple[str, tuple[tuple[str, str], ...]]  # (route path, group label values)


@dataclass(frozen=True)
class Notification:
    """One message for one group: every alert in it at flush time, latest step of each."""

    key: GroupKey
    receivers: tuple[str, ...]
    alerts: tuple[Mapping[str, Any], ...]
    sequence: int  # 1 for the group's first notification, then 2, 3 ...
    repeat: bool = False
    created: float = 0.0  # when the group opened: (key, created, sequence) names the message


@dataclass
class _Group:
    receivers: tuple[str, ...]
    grouping: Grouping
    next_flush: float
    alerts: dict[str, Mapping[str, Any]] = field(default_factory=dict)
    changed: bool = True
    last_flush: float | None = None
    sequence: int = 0
    created: float = 0.0


class Grouper:
    """Groups alert steps and says when each group is due; all times are seconds from ``now``."""

    def __init__(self) -> None:
        self._groups: dict[GroupKey, _Group] = {}

    def add(
        self,
        key: GroupKey,
        grouping: Grouping,
        receivers: tuple[str, ...],
        alert_key: str,
        alert: Mapping[str, Any],
        now: float,
    ) -> None:
        """Put the latest step of ``alert_key`` into group ``key`` (created on first use)."""
        group = self._groups.get(key)
        if group is None:
            group = _Group(receivers, grouping, next_flush=now + grouping.group_wait_s, created=now)
            self._groups[key] = group
        previous = group.alerts.get(alert_key)
        if previous is None or previous.get("state") != alert.get("state"):
            group.changed = True
        group.alerts[alert_key] = alert

    def due(self, now: float) -> list[Notification]:
        """Notifications to send at ``now``, and the timers moved on as Alertmanager does."""
        out: list[Notification] = []
        for key in list(self._groups):
            group = self._groups[key]
            if now < group.next_flush:
                continue
            repeat = (
                not group.changed
                and group.last_flush is not None
                and now - group.last_flush >= group.grouping.repeat_interval_s
                and any(a.get("state") != "resolved" for a in group.alerts.values())
            )
            if group.changed or repeat:
                group.sequence += 1
                out.append(
                    Notification(
                        key,
                        group.receivers,
                        tuple(group.alerts[k] for k in sorted(group.alerts)),
                        group.sequence,
                        repeat=repeat,
                        created=group.created,
                    )
                )
                group.last_flush, group.changed = now, False
                group.alerts = {
                    k: a for k, a in group.alerts.items() if a.get("state") != "resolved"
                }
            group.next_flush = now + group.grouping.group_interval_s
            if not group.alerts:
                del self._groups[key]
        return out

    def remove(self, key: GroupKey, alert_key: str) -> None:
        """Stop listing ``alert_key`` in group ``key`` (no notification for it); drop an empty group."""
        group = self._groups.get(key)
        if group is None:
            return
        group.alerts.pop(alert_key, None)
        if not group.alerts:
            del self._groups[key]

    def dump(self, key: GroupKey) -> dict[str, Any] | None:
        """Group ``key`` as a JSON-able dict (None if there is no such group)."""
        group = self._groups.get(key)
        if group is None:
            return None
        return {
            "key": [key[0], [list(pair) for pair in key[1]]],
            "receivers": list(group.receivers),
            "grouping": grouping_to_dict(group.grouping),
            "next_flush": group.next_flush,
            "alerts": {k: dict(a) for k, a in group.alerts.items()},
            "changed": group.changed,
            "last_flush": group.last_flush,
            "sequence": group.sequence,
            "created": group.created,
        }

    def load(self, state: Mapping[str, Any]) -> GroupKey:
        """Restore a group from :meth:`dump`'s dict; returns its key."""
        path, pairs = state["key"]
        key: GroupKey = (str(path), tuple((str(k), str(v)) for k, v in pairs))
        last = state.get("last_flush")
        self._groups[key] = _Group(
            receivers=tuple(state["receivers"]),
            grouping=grouping_from_dict(state["grouping"]),
            next_flush=float(state["next_flush"]),
            alerts={str(k): dict(a) for k, a in state.get("alerts", {}).items()},
            changed=bool(state.get("changed", True)),
            last_flush=None if last is None else float(last),
            sequence=int(state.get("sequence", 0)),
            created=float(state.get("created", 0.0)),
        )
        return key

    def next_due(self) -> float | None:
        """When the earliest group is due (None with no groups): how long a caller may sleep."""
        return min((g.next_flush for g in self._groups.values()), default=None)

    def __len__(self) -> int:
        return len(self._groups)


def grouping_to_dict(grouping: Grouping) -> dict[str, Any]:
    return {
        "group_by": list(grouping.group_by),
        "by_all": grouping.by_all,
        "group_wait_s": grouping.group_wait_s,
        "group_interval_s": grouping.group_interval_s,
        "repeat_interval_s": grouping.repeat_interval_s,
    }


def grouping_from_dict(data: Mapping[str, Any]) -> Grouping:
    return Grouping(
        tuple(str(name) for name in data.get("group_by", ())),
        float(data["group_wait_s"]),
        float(data["group_interval_s"]),
        float(data["repeat_interval_s"]),
        bool(data.get("by_all", False)),
    )


def group_id(key: GroupKey) -> str:
    """The group's Kafka and table key: route path, then its label values (``route|brand=x``)."""
    path, pairs = key
    return path + "|" + ",".join(f"{name}={value}" for name, value in pairs)
