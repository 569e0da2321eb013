"""Inhibition: a firing alert mutes related, less important ones (Alertmanager's inhibit_rules).

A rule has source matchers (the alert that mutes), target matchers (the alerts muted) and
``equal`` labels both must share. The default rule is the one comms teams ask for first: a
critical alert for a brand and topic mutes warnings for the same brand and topic, so one crisis
pages once. As in Alertmanager an alert never inhibits itself, and only a *firing* source mutes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from pipeline.oncall.matchers import Matcher

FIRING_STATES = frozenset({"firing", "escalated", "acknowledged"})


@dataclass(frozen=True)
class InhibitRule:
    source: tuple[Matcher, ...]
    target: tuple[Matcher, ...]
    equal: tuple[str, ...]

    def mutes(self, source: Mapping[str, str], target: Mapping[str, str]) -> bool:
        return (
            all(m.matches(source) for m in self.source)
            and all(m.matches(target) for m in self.target)
            and all(source.get(name) == target.get(name) for name in self.equal)
        )


DEFAULT_RULES = (
    InhibitRule(
        source=(Matcher("severity", values=frozenset({"critical"})),),
        target=(Matcher("severity", values=frozenset({"warning"})),),
        equal=("brand", "topic"),
    ),
)


def inhibited_by(
    key: str,
    labels: Mapping[str, str],
    others: Iterable[tuple[str, Mapping[str, str]]],
    rules: Iterable[InhibitRule] = DEFAULT_RULES,
) -> str | None:
    """The dedup key of a firing alert muting ``labels`` (``others``: (key, labels)), or None.

    Resolved steps are never muted: the resolved notice always goes out.
    """
    if labels.get("state") == "resolved":
        return None
    rules = tuple(rules)
    for other_key, other in others:
        if other_key == key or other.get("state") not in FIRING_STATES:
            continue
        if any(rule.mutes(other, labels) for rule in rules):
            return other_key
    return None
