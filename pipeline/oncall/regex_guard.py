"""Refuse silence regexes that can backtrack catastrophically, before they are stored.

Python's ``re`` has no timeout, and a silence's regex runs on the alert path for every alert
step: ``(a+)+$`` against a label value of thirty ``a`` and a ``b`` takes minutes of the event loop.
Alertmanager is safe because Go's RE2 never backtracks; here the pattern is read with the
standard library's own parser and refused when it has

* a repeat inside a repeat (``(a+)+``, ``(a*)*``, ``(.*a){20}``): exponential backtracking;
* an alternation inside an unbounded repeat (``(a|a)*``, ``(a|ab)+``): the same, by another road;
* a back-reference (``(a*)\\1``): matching is no longer regular at all;
* more than :data:`MAX_UNBOUNDED` unbounded repeats in all (``a*a*a*a*a*b``): polynomial blow-up;
* more than :data:`MAX_PATTERN` characters.

Label values are short words (brand, topic, severity, channel), so what is refused here is
nothing a real silence needs; ``brenmoor|glytera`` and ``pricing.*`` stay fine.
"""

from __future__ import annotations

import re

# The parser behind re.compile (public as sre_parse before 3.11; Tocsin needs 3.11+).
from re import _constants as sre_constants  # type: ignore[attr-defined]
from re import _parser as sre_parse  # type: ignore[attr-defined]
from typing import Any

from pipeline.errors import TocsinError

MAX_PATTERN = 256
MAX_UNBOUNDED = 3
_REPEATS = {
    sre_constants.MAX_REPEAT,
    sre_constants.MIN_REPEAT,
    getattr(sre_constants, "POSSESSIVE_REPEAT", sre_constants.MAX_REPEAT),
}
_UNBOUNDED = sre_constants.MAXREPEAT


class UnsafeRegex(TocsinError, ValueError):
    """The pattern could backtrack for a very long time; the message says which construct."""


def _children(op: Any, av: Any) -> list[Any]:
    """The sub-patterns of one parsed node (groups, branches, repeats, lookarounds)."""
    if op in _REPEATS:
        return [av[2]]
    if op == sre_constants.SUBPATTERN:
        return [av[-1]]
    if op == sre_constants.BRANCH:
        return list(av[1])
    if op in (sre_constants.ASSERT, sre_constants.ASSERT_NOT):
        return [av[1]]
    if op == getattr(sre_constants, "ATOMIC_GROUP", None):
        return [av]
    if op == sre_constants.GROUPREF_EXISTS:
        return [branch for branch in av[1:] if branch is not None]
    return []


def _walk(pattern: Any, inside_repeat: bool, inside_unbounded: bool, counts: list[int]) -> None:
    for op, av in pattern:
        if op in (sre_constants.GROUPREF, sre_constants.GROUPREF_EXISTS):
            raise UnsafeRegex("back-references are not allowed")
        if op in _REPEATS:
            _lo, hi, _sub = av
            if hi > 1:
                if inside_repeat:
                    raise UnsafeRegex("a repeat inside a repeat (like (a+)+) can backtrack forever")
                unbounded = hi == _UNBOUNDED
                counts[0] += unbounded
                for child in _children(op, av):
                    _walk(child, True, unbounded, counts)
                continue
        if op == sre_constants.BRANCH and inside_unbounded:
            raise UnsafeRegex("an alternation inside a repeat (like (a|ab)*) can backtrack forever")
        for child in _children(op, av):
            _walk(child, inside_repeat, inside_unbounded, counts)


def check(pattern: str) -> None:
    """Return quietly for a pattern safe to match; :class:`UnsafeRegex` or ``re.error`` otherwise."""
    if len(pattern) > MAX_PATTERN:
        raise UnsafeRegex(f"longer than {MAX_PATTERN} characters")
    re.compile(pattern)  # re.error for a pattern that is not a regex at all
    counts = [0]
    _walk(sre_parse.parse(pattern), False, False, counts)
    if counts[0] > MAX_UNBOUNDED:
        raise UnsafeRegex(f"more than {MAX_UNBOUNDED} unbounded repeats (*, +, {{n,}})")
