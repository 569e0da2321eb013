"""Bounded LRU cache of classifications keyed by a hash of the normalised text.

During a crisis a large share of mentions are reposts and copypasta of a few texts; classifying each
distinct text once is the cheapest throughput gain there is. Normalisation drops what reposting
changes (case, URLs, "RT @handle:" prefixes, mentions, whitespace) but keeps words, so two texts
that share a cache entry would get the same verdict from the model anyway.
"""

from __future__ import annotations

import hashlib
import re
from collections import OrderedDict
from typing import Generic, TypeVar

V = TypeVar("V")

_RT = re.compile(r"^\s*(?:rt|repost)\s*@\w+\s*:?\s*", re.IGNORECASE)
_URL = re.compile(r"https?://\S+")
_HANDLE = re.compile(r"@\w+")


def text_key(text: str) -> str:
    """A stable key for texts that differ only by what reposting changes."""
    norm = _RT.sub("", text)
    norm = _URL.sub(" ", norm)
    norm = _HANDLE.sub(" ", norm)
    norm = " ".join(norm.casefold().split())
    return hashlib.blake2b(norm.encode("utf-8"), digest_size=16).hexdigest()


class LRUCache(Generic[V]):
    """A plain LRU with a hard size bound (entries), so memory stays flat under any stream."""

    def __init__(self, maxsize: int = 50_000) -> None:
        if maxsize < 1:
            raise ValueError("maxsize must be at least 1")
        self.maxsize = maxsize
        self._data: OrderedDict[str, V] = OrderedDict()

    def get(self, key: str) -> V | None:
        value = self._data.get(key)
        if value is not None:
            self._data.move_to_end(key)
        return value

    def put(self, key: str, value: V) -> None:
        self._data[key] = value
        self._data.move_to_end(key)
        while len(self._data) > self.maxsize:
            self._data.popitem(last=False)

    def __len__(self) -> int:
        return len(self._data)
