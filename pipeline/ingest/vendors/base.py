"""What a vendor adapter is: how the vendor authenticates, and how its JSON becomes raw mentions.

An adapter does no I/O and never raises on vendor input: :meth:`VendorAdapter.lines` turns a
request body into :class:`pipeline.ingest.http.Line` items, each either a mention in the
``mentions.raw`` contract (decoded later, like any HTTP line) or the vendor item itself with the
reason it could not be mapped (dead-lettered). Envelopes and control messages that carry no
mention are skipped, not dead-lettered.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from pipeline.errors import InvalidMention
from pipeline.ingest.http import SINGLE_TYPES, IngestRefused, Line
from pipeline.records import PLATFORMS

Auth = Literal["bearer", "hub_sha1"]
#: A vendor item (a JSON object) to the raw mention it is, or InvalidMention.
Mapper = Callable[[dict[str, Any]], dict[str, Any]]
#: A parsed JSON document to the vendor items it holds (an envelope is opened, control skipped).
Explode = Callable[[Any], Iterator[Any]]
MAX_ID = 200


@dataclass(frozen=True)
class VendorAdapter:
    """One vendor: its route name, its authentication, its envelope and its item mapping."""

    name: str
    auth: Auth
    #: The settings field holding the token or the shared secret (``TOCSIN_VENDOR_...``).
    setting: str
    explode: Explode
    map_item: Mapper

    def lines(self, body: bytes, kind: str, max_items: int) -> list[Line]:
        """Every item of the body as a line: mapped, or refused with the vendor's bytes kept.

        More than ``max_items`` refuses the request (413) as soon as it is known, before the
        rest of a large body is mapped.
        """
        documents = [body] if kind in SINGLE_TYPES else body.split(b"\n")
        out: list[Line] = []
        for doc in documents:
            if not doc.strip():
                continue
            try:
                items = list(self.explode(json.loads(doc)))
            except (ValueError, RecursionError) as exc:
                out.append(Line(len(out) + 1, doc, InvalidMention("invalid_json", str(exc)[:200])))
                continue
            except Exception as exc:  # an envelope no rule foresaw: refused, never a crash
                refused = InvalidMention("invalid_value", f"{self.name}: {type(exc).__name__}")
                out.append(Line(len(out) + 1, doc, refused))
                continue
            if len(out) + len(items) > max_items:
                raise IngestRefused(
                    413, "too_many_lines", f"more than {max_items} items in one push"
                )
            for item in items:
                out.append(self._line(len(out) + 1, item))
        return out

    def _line(self, n: int, item: Any) -> Line:
        # ASCII-escaped JSON: a lone surrogate (valid JSON, invalid UTF-8) stays encodable.
        original = json.dumps(item).encode()
        if not isinstance(item, dict):
            kind = type(item).__name__
            return Line(n, original, InvalidMention("not_an_object", f"{self.name} item: {kind}"))
        try:
            raw = self.map_item(item)
        except InvalidMention as exc:
            return Line(n, original, exc)
        except Exception as exc:  # the adapter's contract: refuse with a reason, never crash
            return Line(n, original, InvalidMention("invalid_value", f"{type(exc).__name__}"))
        return Line(n, json.dumps(raw).encode())


# -- helpers shared by the adapters -------------------------------------------------------------


def field(item: dict[str, Any], *path: str) -> Any:
    """``item[a][b]...`` or None when any step is missing or not an object."""
    node: Any = item
    for part in path:
        if not isinstance(node, dict):
            return None
        node = node.get(part)
    return node


def text_of(item: dict[str, Any], *paths: tuple[str, ...]) -> str | None:
    """The first non-blank string among ``paths``."""
    for path in paths:
        value = field(item, *path)
        if isinstance(value, str) and value.strip():
            return value
    return None


def count(value: Any) -> int:
    """A non-negative integer count, or 0 (vendors leave counts null or absent)."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def author_record(
    vendor: str, author_id: str, followers: int, handle: str | None, **extra: Any
) -> dict[str, Any]:
    """The raw contract's author: the vendor-scoped id (cut to 200), followers, any ``extra``
    fields, and the handle when it fits the contract's 200 characters (else left out)."""
    author: dict[str, Any] = {"id": f"{vendor}:{author_id}"[:200], "followers": followers, **extra}
    if handle is not None and len(handle) <= 200:
        author["handle"] = handle
    return author


def vendor_id(vendor: str, native: str) -> str:
    """``vendor:native``; a native id too long for the contract is replaced by its SHA-256."""
    out = f"{vendor}:{native}"
    if len(out) > MAX_ID:
        out = f"{vendor}:sha256:{hashlib.sha256(native.encode()).hexdigest()}"
    return out


def require(value: Any, what: str, vendor: str) -> Any:
    if value is None or (isinstance(value, str) and not value.strip()):
        raise InvalidMention("missing_field", f"{vendor}: no {what}")
    return value


def iso_from_millis(value: Any, what: str, vendor: str) -> str:
    """Epoch milliseconds (Talkwalker's times) to an ISO-8601 UTC string."""
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidMention("wrong_type", f"{vendor}: {what} is not epoch milliseconds")
    try:
        return datetime.fromtimestamp(value / 1000, UTC).isoformat()
    except (OverflowError, OSError, ValueError) as exc:
        raise InvalidMention("invalid_value", f"{vendor}: {what} out of range") from exc


def iso_from_text(value: Any, what: str, vendor: str) -> str:
    """A vendor's ISO-8601 time (``+0000`` or ``Z`` offsets) as the contract's string."""
    if not isinstance(value, str):
        raise InvalidMention("wrong_type", f"{vendor}: {what} is not a time string")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise InvalidMention("wrong_type", f"{vendor}: {what} is not ISO-8601") from exc
    if parsed.tzinfo is None:
        raise InvalidMention("invalid_value", f"{vendor}: {what} has no time zone")
    return parsed.isoformat()


def platform(name: str) -> str:
    return name if name in PLATFORMS else "other"


def items_of(doc: Any, *keys: str) -> Iterator[Any]:
    """A list as it is, an envelope ``{key: [...]}`` opened, anything else as one item."""
    if isinstance(doc, list):
        yield from doc
        return
    if isinstance(doc, dict):
        for key in keys:
            inner = doc.get(key)
            if isinstance(inner, list):
                yield from inner
                return
    yield doc


HOSTS = {
    "twitter.com": "x",
    "x.com": "x",
    "facebook.com": "facebook",
    "instagram.com": "instagram",
    "linkedin.com": "linkedin",
    "tiktok.com": "tiktok",
    "youtube.com": "youtube",
    "reddit.com": "reddit",
    "bsky.app": "bluesky",
}


def platform_of_url(url: str | None) -> str | None:
    """The social network a URL belongs to, by its host; None when it is none of them."""
    if not url:
        return None
    host = url.split("://", 1)[-1].split("/", 1)[0].split(":", 1)[0].lower()
    for known, name in HOSTS.items():
        if host == known or host.endswith("." + known):
            return name
    return None


def url_of(item: dict[str, Any], *paths: tuple[str, ...]) -> str | None:
    """The first string URL among ``paths`` that fits the contract (2048 characters)."""
    value = text_of(item, *paths)
    return value if value is not None and len(value) <= 2048 else None


def lang_of(item: dict[str, Any], *paths: tuple[str, ...]) -> str | None:
    value = text_of(item, *paths)
    return value if value is not None and len(value) <= 16 else None


def joined(title: str | None, body: str | None) -> str | None:
    """Title and body as one text (brands are matched in both); one of them alone when equal."""
    if title and body and not body.startswith(title):
        return f"{title}\n{body}"
    return body or title
