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
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pipeline.routing import Grouping

GroupKey = tuple[str, tuple[tuple[str, str], ...]]  # (route path, group label values)


@dataclass(frozen=True)
class Notification:
    """One message for one group: every alert in it at flush time, latest step of each."""

    key: GroupKey
    receivers: tuple[str, ...]
    alerts: tuple[Mapping[str, Any], ...]
    sequence: int  # 1 for the group's first notification, then 2, 3 ...
    repeat: bool = False


@dataclass
class _Group:
    receivers: tuple[str, ...]
    grouping: Grouping
    next_flush: float
    alerts: dict[str, Mapping[str, Any]] = field(default_factory=dict)
    changed: bool = True
    last_flush: float | None = None
    sequence: int = 0


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
            group = _Group(receivers, grouping, next_flush=now + grouping.group_wait_s)
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

    def next_due(self) -> float | None:
        """When the earliest group is due (None with no groups): how long a caller may sleep."""
        return min((g.next_flush for g in self._groups.values()), default=None)

    def __len__(self) -> int:
        return len(self._groups)
