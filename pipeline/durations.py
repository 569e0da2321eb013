"""Durations as Alertmanager and Prometheus write them (``30s``, ``5m``, ``1h30m``)."""

from __future__ import annotations

import re

_DURATION = re.compile(r"(\d+)(ms|s|m|h|d|w)")
_UNIT_S = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


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
