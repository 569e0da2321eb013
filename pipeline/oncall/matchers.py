"""Label matchers, shared by routes, inhibition rules and silences."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass


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
