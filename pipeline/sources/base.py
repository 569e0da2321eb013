r"""The one small base every source kind implements: connect, read, checkpoint, close.

A source turns its protocol's events into :data:`Event`\ s and knows nothing about brands, Kafka or
metrics: the runner (:mod:`pipeline.sources.runner`) does the rest the same way for every kind.

- :class:`Candidate`: an event mapped to the ``mentions.raw`` contract (a dict), still to be
  validated by the ingest decoder and matched against the brands;
- :class:`Malformed`: an event the source cannot map, with a reason code of the ingest decoder's
  set (:data:`pipeline.errors.INVALID_MENTION_REASONS`) and the bytes as received: a dead letter;
- :class:`Skipped`: a well-formed event that is not a mention (a delete, an identity update, a
  repost of a post this source never saw): counted, not sent.

Errors (under :class:`pipeline.errors.TocsinError`)::

    SourceError
    ├── SourceDisconnected   the connection ended or failed; worth reconnecting (``retry_after``)
    └── SourceRefused        the service refuses us for good (401, 403, 404): fix the config
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any, ClassVar, Generic, TypeVar

from pipeline.errors import TocsinError
from pipeline.safejson import BadJson, loads

#: Longest mention id of the contract (``RawMention.id``); longer native ids are hashed.
MAX_ID = 200
#: Largest single event a source reads (a Jetstream frame, an SSE event, a feed body is larger).
MAX_EVENT_BYTES = 512 * 1024


class SourceError(TocsinError):
    """A live source failed."""


class SourceDisconnected(SourceError):
    """The connection ended or failed in a way a reconnect may fix; wait ``retry_after`` if set."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class SourceRefused(SourceError):
    """The service refuses this source for good (bad token, unknown feed): retrying cannot help."""


@dataclass(frozen=True)
class Candidate:
    """An event mapped to the ``mentions.raw`` contract; ``raw`` is what arrived (for a dead letter)."""

    mention: dict[str, Any]
    raw: bytes = b""


@dataclass(frozen=True)
class Malformed:
    """An event that cannot become a mention; ``reason`` is one of the decoder's reason codes."""

    reason: str
    detail: str
    payload: bytes


@dataclass(frozen=True)
class Skipped:
    """A well-formed event that is not a mention; ``what`` is a short, fixed label."""

    what: str


Event = Candidate | Malformed | Skipped
E = TypeVar("E")


class Source(ABC, Generic[E]):
    """One configured source; the runner calls ``connect``, iterates ``read``, saves
    ``checkpoint()`` once what was read has been produced, and ``close``\\ s it."""

    kind: ClassVar[str]

    def __init__(self, entry: E) -> None:
        self.entry = entry

    @abstractmethod
    async def connect(self, checkpoint: Mapping[str, Any] | None) -> None:
        """Open the connection, resuming from ``checkpoint`` (what :meth:`checkpoint` returned)."""

    @abstractmethod
    def read(self) -> AsyncIterator[Event]:
        """Events until the connection ends; raises :class:`SourceDisconnected` when it does."""

    @abstractmethod
    def checkpoint(self) -> dict[str, Any]:
        """The position after the last event :meth:`read` yielded, as JSON-able data."""

    @abstractmethod
    async def close(self) -> None:
        """Release the connection; safe to call twice or after a failed connect."""


def parse_object(payload: bytes) -> dict[str, Any] | Malformed:
    """One JSON object from untrusted bytes, or the reason it is not one (never raises)."""
    if len(payload) > MAX_EVENT_BYTES:
        return Malformed("oversized", f"event is {len(payload)} bytes", payload[:MAX_EVENT_BYTES])
    try:
        obj = loads(payload)
    except BadJson as exc:
        reason = "invalid_utf8" if "UnicodeDecodeError" in str(exc) else "invalid_json"
        return Malformed(reason, str(exc), payload)
    if not isinstance(obj, dict):
        return Malformed(
            "not_an_object", f"expected a JSON object, got {type(obj).__name__}", payload
        )
    return obj


def bounded_id(prefix: str, native: str) -> str:
    """``prefix:native``, or ``prefix:sha256:<hex>`` when that would exceed the contract's 200."""
    whole = f"{prefix}:{native}"
    if len(whole) <= MAX_ID:
        return whole
    digest = hashlib.sha256(native.encode("utf-8", "surrogatepass")).hexdigest()
    return f"{prefix}:sha256:{digest}"


class Recent:
    """A bounded, insertion-ordered set: the last ``size`` keys seen (ids, uris)."""

    def __init__(self, size: int, items: list[str] | None = None) -> None:
        self.size = size
        self._items: OrderedDict[str, None] = OrderedDict()
        for item in items or []:
            self.add(item)

    def __contains__(self, key: object) -> bool:
        return key in self._items

    def __len__(self) -> int:
        return len(self._items)

    def add(self, key: str) -> None:
        self._items[key] = None
        self._items.move_to_end(key)
        while len(self._items) > self.size:
            self._items.popitem(last=False)

    def items(self) -> list[str]:
        return list(self._items)


class Bad(TocsinError):
    """Raised inside a kind's mapping code for an event it cannot map; becomes :class:`Malformed`."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


def need(obj: Mapping[str, Any], key: str, kind: type | tuple[type, ...], where: str) -> Any:
    """``obj[key]`` if present and of ``kind``; else :class:`Bad` (missing_field / wrong_type)."""
    if key not in obj or obj[key] is None:
        raise Bad("missing_field", f"{where}{key}: required")
    value = obj[key]
    # bool is a subclass of int in Python, but a JSON true is not a count.
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise Bad("wrong_type", f"{where}{key}: unexpected {type(value).__name__}")
    return value


def opt(obj: Mapping[str, Any], key: str, kind: type | tuple[type, ...], where: str) -> Any:
    """``obj[key]`` if present and of ``kind``, ``None`` if absent or null; else :class:`Bad`."""
    if obj.get(key) is None:
        return None
    return need(obj, key, kind, where)


def author_id(prefix: str, native: str) -> str:
    """A pseudonymous, stable author id: ``prefix:`` and 20 hex digits of the native id's SHA-256
    (the same account always gets the same id; the id itself names nobody)."""
    digest = hashlib.sha256(native.encode("utf-8", "surrogatepass")).hexdigest()
    return f"{prefix}:{digest[:20]}"


class _TextOnly(HTMLParser):
    _BREAKS = frozenset({"br", "p", "div", "li", "blockquote"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._BREAKS:
            self.parts.append(" ")

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def html_text(markup: str) -> str:
    """The visible text of an HTML fragment (a toot's ``content``, a feed's description)."""
    parser = _TextOnly()
    parser.feed(markup)
    parser.close()
    return " ".join("".join(parser.parts).split())
