"""Console receiver: prints alert steps on the worker's stdout; the default with nothing configured."""

from __future__ import annotations

import sys
from typing import TextIO

from pipeline.delivery.receivers.base import GroupNotice, Receiver
from pipeline.records import Alert


def format_alert(alert: Alert) -> str:
    """One line a person on call can read at a glance."""
    return (
        f"[tocsin] {alert.state.upper():<9} {alert.severity:<8} {alert.brand}/{alert.topic} "
        f"observed={alert.observed:g} expected={alert.expected:.1f} score={alert.score:.3f} "
        f"since={alert.started_at:%Y-%m-%d %H:%M}Z key={alert.dedup_key} :: {alert.summary}"
    )


def format_group(notice: GroupNotice) -> str:
    """A headline naming the group, then one indented line per alert."""
    where = " ".join(f"{name}={value}" for name, value in notice.labels) or "(all)"
    kind = "repeat" if notice.repeat else f"#{notice.sequence}"
    head = f"[tocsin] GROUP     {len(notice.alerts)} alert(s) {where} {kind} group={notice.group}"
    return "\n".join([head, *(f"  {format_alert(a)}" for a in notice.alerts)])


class ConsoleReceiver(Receiver):
    name = "console"
    kind = "console"

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream

    async def send(self, alert: Alert, *, idempotency_key: str) -> int | None:
        out = self._stream or sys.stdout
        print(format_alert(alert), file=out, flush=True)
        return None

    async def send_group(self, notice: GroupNotice, *, idempotency_key: str) -> int | None:
        out = self._stream or sys.stdout
        print(format_group(notice), file=out, flush=True)
        return None
