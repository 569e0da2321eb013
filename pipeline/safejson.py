"""``json.loads`` for untrusted bodies: any failure is a ``ValueError``, never anything else.

Python's parser fails on hostile input in more ways than :class:`json.JSONDecodeError`: deep
nesting raises :class:`RecursionError`, an integer of more than 4,300 digits a plain
:class:`ValueError` (``sys.set_int_max_str_digits``), and bytes that are not UTF-8 a
:class:`UnicodeDecodeError`. Handlers catch one exception and answer 400 with a reason; this
module makes that one exception the only one there is.
"""

from __future__ import annotations

import json
from typing import Any

from pipeline.errors import TocsinError

#: Deeper than any payload Slack, PagerDuty or an API client sends; refused before parsing.
MAX_DEPTH = 64


class BadJson(TocsinError, ValueError):
    """The body is not JSON Tocsin will read; the message says why in a few words."""


def nesting_depth(text: str | bytes) -> int:
    """The deepest ``[``/``{`` nesting outside strings (a cheap scan, no recursion)."""
    data = text.encode("utf-8", "replace") if isinstance(text, str) else text
    depth = deepest = 0
    in_string = escaped = False
    for byte in data:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):
            depth += 1
            deepest = max(deepest, depth)
        elif byte in (0x5D, 0x7D):
            depth -= 1
    return deepest


def loads(data: str | bytes, *, max_depth: int = MAX_DEPTH) -> Any:
    """Parse ``data``; :class:`BadJson` for anything that is not JSON of a sane shape."""
    # The depth cannot exceed the number of openers; counting them runs in C, so the byte-by-byte
    # scan is only paid by bodies that could be too deep (a 256 KiB text is not).
    openers = (
        data.count("[") + data.count("{")
        if isinstance(data, str)
        else (data.count(b"[") + data.count(b"{"))
    )
    if openers > max_depth and nesting_depth(data) > max_depth:
        raise BadJson(f"nested deeper than {max_depth} levels")
    try:
        return json.loads(data)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError, UnicodeDecodeError, int limit
        raise BadJson(f"not JSON ({type(exc).__name__})") from None
