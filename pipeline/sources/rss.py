"""``rss``: RSS 2.0 and Atom feeds, polled politely.

Each feed is fetched with a conditional GET (``If-None-Match`` / ``If-Modified-Since`` from the last
answer's ``ETag`` / ``Last-Modified``; a 304 costs the publisher nothing), no more often than
``interval_s``, the feed's ``<ttl>`` or a ``Retry-After`` allow. Entries are de-duplicated by id
(``guid``, Atom ``id``, else the link): the last ``remember`` ids per feed are kept in the
checkpoint with the validators, so a restart neither re-sends a feed's backlog nor misses what
changed. A feed answering 401/403/404/410 is left alone for the rest of the run; the source is
refused when every feed is. Documents declaring a DTD are refused (no entity expansion).
"""

from __future__ import annotations

import asyncio
import email.utils
import hashlib
import time
import xml.etree.ElementTree as ET  # DTDs are refused before parsing (_parse)
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit
from xml.parsers import expat

import httpx

from pipeline.delivery.http import parse_retry_after
from pipeline.errors import TocsinError
from pipeline.sources.base import (
    Bad,
    Candidate,
    Event,
    Malformed,
    Recent,
    Source,
    SourceDisconnected,
    SourceRefused,
    bounded_id,
    html_text,
)
from pipeline.sources.config import RssEntry

ATOM = "{http://www.w3.org/2005/Atom}"
DC = "{http://purl.org/dc/elements/1.1/}"
#: Largest feed body read; a longer one is cut off and refused.
MAX_FEED_BYTES = 8 * 1024 * 1024
USER_AGENT = "tocsin-sources/0.1 (RSS reader; conditional GET)"
GONE = frozenset({401, 403, 404, 410})


@dataclass
class FeedState:
    url: str
    etag: str | None = None
    last_modified: str | None = None
    seen: Recent = field(default_factory=lambda: Recent(2000))
    next_at: float = 0.0
    gone: bool = False

    def dump(self) -> dict[str, Any]:
        return {"etag": self.etag, "last_modified": self.last_modified, "seen": self.seen.items()}


def _text(el: ET.Element | None) -> str:
    return "".join(el.itertext()).strip() if el is not None else ""


def _child(el: ET.Element, *names: str) -> ET.Element | None:
    for name in names:
        found = el.find(name)
        if found is not None:
            return found
    return None


def _rfc822(value: str, where: str) -> datetime:
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError) as exc:
        raise Bad("wrong_type", f"{where}: not an RFC 822 date") from exc
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when


def _iso(value: str, where: str) -> datetime:
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise Bad("wrong_type", f"{where}: not an ISO-8601 time") from exc
    if when.tzinfo is None:
        raise Bad("invalid_value", f"{where}: a time zone is required")
    return when


def _stamp(when: datetime) -> str:
    try:
        return when.astimezone(UTC).isoformat().replace("+00:00", "Z")
    except (OverflowError, ValueError) as exc:
        raise Bad("invalid_value", "date out of range in UTC") from exc


class RssSource(Source[RssEntry]):
    kind = "rss"

    def __init__(self, entry: RssEntry, *, clock: Any = time.monotonic) -> None:
        super().__init__(entry)
        self._clock = clock
        self._feeds: dict[str, FeedState] | None = None
        self._client: httpx.AsyncClient | None = None

    async def connect(self, checkpoint: Mapping[str, Any] | None) -> None:
        if self._feeds is None:
            saved = (checkpoint or {}).get("feeds")
            saved = saved if isinstance(saved, dict) else {}
            self._feeds = {}
            for url in self.entry.endpoints:
                state = FeedState(url, seen=Recent(self.entry.remember))
                old = saved.get(url)
                if isinstance(old, dict):
                    etag, modified = old.get("etag"), old.get("last_modified")
                    state.etag = etag if isinstance(etag, str) else None
                    state.last_modified = modified if isinstance(modified, str) else None
                    seen = old.get("seen")
                    if isinstance(seen, list):
                        state.seen = Recent(
                            self.entry.remember, [s for s in seen if isinstance(s, str)]
                        )
                self._feeds[url] = state
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(30.0, connect=10.0),
            follow_redirects=True,
            headers={"User-Agent": USER_AGENT},
        )

    def checkpoint(self) -> dict[str, Any]:
        return {"feeds": {url: f.dump() for url, f in (self._feeds or {}).items()}}

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def read(self) -> AsyncIterator[Event]:
        assert self._feeds is not None, "connect() first"
        while True:
            live = [f for f in self._feeds.values() if not f.gone]
            if not live:
                raise SourceRefused(f"{self.entry.name}: every feed refused or is gone")
            now = self._clock()
            due = [f for f in live if f.next_at <= now]
            if not due:
                await asyncio.sleep(min(f.next_at for f in live) - now)
                continue
            for feed in due:
                async for event in self._poll(feed):
                    yield event

    async def _poll(self, feed: FeedState) -> AsyncIterator[Event]:
        assert self._client is not None
        headers = {}
        if feed.etag:
            headers["If-None-Match"] = feed.etag
        if feed.last_modified:
            headers["If-Modified-Since"] = feed.last_modified
        feed.next_at = self._clock() + self.entry.interval_s
        try:
            async with self._client.stream("GET", feed.url, headers=headers) as response:
                status = response.status_code
                if status == 304:
                    return
                if status in (429, 503) or status >= 500:
                    wait = parse_retry_after(response.headers.get("Retry-After"))
                    if wait is not None:
                        feed.next_at = self._clock() + max(wait, self.entry.interval_s)
                    raise SourceDisconnected(
                        f"{self.entry.name}: {urlsplit(feed.url).netloc} answered {status}",
                        retry_after=wait,
                    )
                if status in GONE:
                    feed.gone = True
                    return
                if status != 200:
                    raise SourceDisconnected(f"{self.entry.name}: HTTP {status}")
                body = bytearray()
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) > MAX_FEED_BYTES:
                        yield Malformed(
                            "oversized", f"feed over {MAX_FEED_BYTES} bytes", bytes(body[:4096])
                        )
                        return
                etag = response.headers.get("ETag")
                modified = response.headers.get("Last-Modified")
        except httpx.HTTPError as exc:
            raise SourceDisconnected(f"{self.entry.name}: {type(exc).__name__}") from exc
        parsed = _parse(bytes(body))
        if isinstance(parsed, Malformed):
            yield parsed
        else:
            root, ttl_s = parsed
            if ttl_s:
                feed.next_at = max(feed.next_at, self._clock() + ttl_s)
            host = urlsplit(feed.url).netloc
            for entry_id, event in _entries(root, host, self.entry.platform):
                if entry_id in feed.seen:
                    continue
                # Marked before it is handed on: the runner handles an event before asking for the
                # next, and a run stopped right after this one must not send it again.
                feed.seen.add(entry_id)
                yield event
        # The validators move only once every entry of this answer was handed on.
        feed.etag, feed.last_modified = etag, modified


class _Declared(TocsinError):
    """A document type declaration was met (raised from expat's handler to stop the parse)."""


def _declares_dtd(body: bytes) -> bool:
    """Whether the document declares a DTD, as expat reads it (in whatever encoding it declares:
    a byte search missed ``<!DOCTYPE`` in a UTF-16 feed, whose entities were then expanded)."""
    parser = expat.ParserCreate()

    def declared(*_args: object) -> None:
        raise _Declared

    parser.StartDoctypeDeclHandler = declared
    try:
        parser.Parse(body, True)
    except _Declared:
        return True
    except expat.ExpatError:
        return False  # not well-formed: ElementTree says where
    return False


def _parse(body: bytes) -> tuple[ET.Element, float] | Malformed:
    if _declares_dtd(body):
        return Malformed(
            "invalid_value", "feed declares a DTD (refused: entity expansion)", body[:4096]
        )
    try:
        root = ET.fromstring(body)  # noqa: S314  # no DTD (checked above): no entities to expand
    except ET.ParseError as exc:
        return Malformed("invalid_value", f"not well-formed XML ({exc})", body[:4096])
    ttl = 0.0
    if root.tag == "rss":
        ttl_text = _text(root.find("channel/ttl"))
        if ttl_text.isdigit():
            ttl = min(float(ttl_text) * 60, 86_400.0)
    elif root.tag != f"{ATOM}feed":
        return Malformed(
            "invalid_value", f"not RSS 2.0 or Atom (root <{root.tag[:60]}>)", body[:4096]
        )
    return root, ttl


def _entries(root: ET.Element, host: str, platform: str) -> Iterator[tuple[str, Event]]:
    if root.tag == "rss":
        channel = root.find("channel")
        items = channel.findall("item") if channel is not None else []
        lang = _text(root.find("channel/language")) or None
        for item in items:
            raw = ET.tostring(item)[:65536]
            entry_id = _text(_child(item, "guid", "link")) or _digest(raw)
            try:
                yield entry_id, Candidate(_rss_item(item, entry_id, host, platform, lang), raw)
            except Bad as exc:
                yield entry_id, Malformed(exc.reason, exc.detail, raw)
            except Exception as exc:  # an entry shape the mapping did not foresee
                yield (
                    entry_id,
                    Malformed("invalid_value", f"unmappable ({type(exc).__name__})", raw),
                )
    else:
        lang = root.get("{http://www.w3.org/XML/1998/namespace}lang")
        for item in root.findall(f"{ATOM}entry"):
            raw = ET.tostring(item)[:65536]
            entry_id = _text(item.find(f"{ATOM}id")) or _digest(raw)
            try:
                yield entry_id, Candidate(_atom_entry(item, entry_id, host, platform, lang), raw)
            except Bad as exc:
                yield entry_id, Malformed(exc.reason, exc.detail, raw)
            except Exception as exc:
                yield (
                    entry_id,
                    Malformed("invalid_value", f"unmappable ({type(exc).__name__})", raw),
                )


def _digest(raw: bytes) -> str:
    """An id for an entry that has none (no guid, id or link): its bytes' hash."""
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def _mention(
    entry_id: str,
    *,
    title: str,
    body: str,
    link: str,
    when: datetime | None,
    host: str,
    platform: str,
    lang: str | None,
) -> dict[str, Any]:
    text = " — ".join(part for part in (title, html_text(body)) if part)
    return {
        "id": bounded_id("rss", entry_id),
        "platform": platform,
        "url": link or None,
        "created_at": _stamp(when or datetime.now(UTC)),
        "text": text,
        "lang": lang[:16] if lang else None,
        # The publisher, not a person: feeds name bylines, which stay out of the record.
        "author": {"id": f"rss:{host}"[:200], "kind": "unknown"},
        "kind": "post",
    }


def _rss_item(
    item: ET.Element, entry_id: str, host: str, platform: str, lang: str | None
) -> dict[str, Any]:
    date = _text(_child(item, "pubDate", f"{DC}date"))
    when = None
    if date:
        when = (
            _rfc822(date, "pubDate") if item.find("pubDate") is not None else _iso(date, "dc:date")
        )
    return _mention(
        entry_id,
        title=html_text(_text(item.find("title"))),
        body=_text(item.find("description")),
        link=_text(item.find("link")),
        when=when,
        host=host,
        platform=platform,
        lang=lang,
    )


def _atom_entry(
    item: ET.Element, entry_id: str, host: str, platform: str, lang: str | None
) -> dict[str, Any]:
    date = _text(_child(item, f"{ATOM}published", f"{ATOM}updated"))
    link = ""
    for el in item.findall(f"{ATOM}link"):
        if el.get("rel") in (None, "alternate") and el.get("href"):
            link = el.get("href") or ""
            break
    return _mention(
        entry_id,
        title=html_text(_text(item.find(f"{ATOM}title"))),
        body=_text(_child(item, f"{ATOM}summary", f"{ATOM}content")),
        link=link,
        when=_iso(date, "updated") if date else None,
        host=host,
        platform=platform,
        lang=lang,
    )
