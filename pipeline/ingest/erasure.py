"""What of one author Tocsin holds, found and removed: the pure half of ``tocsin privacy erase``.

An :class:`Erasure` names an author by everything that can point at them in Tocsin's data: the
raw id and handle the source gave (only on ``mentions.raw`` and ``mentions.dlq``: ingest
pseudonymises, see ``pseudonyms.py``), their pseudonym, and the ids and texts of their mentions.
:func:`mentions` says whether a JSON value holds any of it; :func:`scrub` removes it from a table
value: list items that are the author's mention or the author (by id, pseudonym or handle) are
dropped, a nested object that is one of them (``first_source``, ``tipping_mention``) becomes
``null``, and a text equal to one of theirs is dropped. Counts stay: they are not about anyone.
Table values are plain JSON, so one rule covers every table without knowing its shape.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Erasure:
    """Everything that identifies one author's data (sets of strings)."""

    ids: frozenset[str]  # the raw author id and its pseudonym(s)
    handles: frozenset[str] = frozenset()
    mention_ids: frozenset[str] = frozenset()
    texts: frozenset[str] = field(default_factory=frozenset)

    @property
    def needles(self) -> tuple[str, ...]:
        """What to search for in a JSON text: each id, handle and mention id as a whole JSON
        string (quoted, so ``x:1`` does not match ``x:10``), and the first 100 characters of each
        text (alerts quote a prefix)."""
        exact = {
            json.dumps(n, ensure_ascii=False)
            for n in (*self.ids, *self.handles, *self.mention_ids)
            if n
        }
        prefixes = {t[:100] for t in self.texts if t}
        return tuple(sorted(exact | prefixes))

    def with_mentions(self, ids: Iterable[str], texts: Iterable[str]) -> Erasure:
        return Erasure(
            self.ids,
            self.handles,
            self.mention_ids | frozenset(ids),
            self.texts | frozenset(texts),
        )


def _is_theirs(item: dict[str, Any], erasure: Erasure) -> bool:
    ident = item.get("id")
    if isinstance(ident, str) and (ident in erasure.ids or ident in erasure.mention_ids):
        return True
    handle = item.get("handle")
    if isinstance(handle, str) and handle in erasure.handles:
        return True
    author = item.get("author")
    if isinstance(author, dict) and _is_theirs(author, erasure):
        return True
    return isinstance(author, str) and author in erasure.ids


def _string_is_theirs(value: str, erasure: Erasure) -> bool:
    return value in erasure.ids or value in erasure.handles or value in erasure.texts


def scrub(value: Any, erasure: Erasure) -> tuple[Any, int]:
    """``value`` without the author's data, and how many items were removed."""
    if isinstance(value, list):
        kept: list[Any] = []
        removed = 0
        for item in value:
            if (isinstance(item, dict) and _is_theirs(item, erasure)) or (
                isinstance(item, str) and _string_is_theirs(item, erasure)
            ):
                removed += 1
                continue
            clean, n = scrub(item, erasure)
            kept.append(clean)
            removed += n
        return kept, removed
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        removed = 0
        for key, item in value.items():
            theirs = (isinstance(item, dict) and _is_theirs(item, erasure)) or (
                isinstance(item, str) and item in erasure.texts
            )
            if theirs:
                out[key], removed = None, removed + 1
            else:
                clean, n = scrub(item, erasure)
                out[key] = clean
                removed += n
        return out, removed
    return value, 0


def mentions(value: Any, erasure: Erasure) -> bool:
    """Whether ``value`` (any JSON value) holds anything of the author."""
    text = json.dumps(value, ensure_ascii=False)
    return any(needle in text for needle in erasure.needles)
