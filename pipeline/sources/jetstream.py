"""``bluesky_jetstream``: Bluesky posts from a Jetstream websocket (JSON commit events).

The socket is opened with ``wantedCollections=app.bsky.feed.post`` (and ``app.bsky.feed.repost``
when ``reposts: true``) and, after a restart, ``cursor`` = the saved ``time_us`` minus ``rewind_s``
(Jetstream replays from any cursor in its window; the rewind covers events the last process had
read but whose checkpoint it had not saved, and mention ids drop the repeats). Several ``urls``
are tried in turn when one fails (the public instances are independent).

Mapping (``commit`` events with ``operation: create``; everything else is counted as skipped):

- post: id ``bluesky:<did>/post/<rkey>``, text, ``createdAt``, first of ``langs``; ``reply`` ->
  kind ``reply``; an embedded record (``app.bsky.embed.record[WithMedia]``) -> ``quote``;
- repost of a post this process saw: kind ``repost``, the original's text, ``repost_of`` its id
  (a repost of an unseen post has no text to match and is skipped);
- author: a pseudonymous id from the DID; the handle (from ``identity`` events) only with
  ``keep_handles: true``. Jetstream carries no follower counts.

With ``compress: true`` the socket asks for ``compress=true``: every frame then arrives as a binary
message, one zstd frame compressed with Jetstream's dictionary (``zstd_dictionary``), decompressed
here to at most :data:`~pipeline.sources.base.MAX_EVENT_BYTES`; a frame that does not decompress
is dead-lettered. Without it a binary frame is dead-lettered too (it was not asked for).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import AsyncIterator, Mapping
from typing import Any
from urllib.parse import urlencode, urlsplit

import aiohttp
import zstandard

from pipeline.delivery.http import parse_retry_after
from pipeline.sources.base import (
    MAX_EVENT_BYTES,
    Bad,
    Candidate,
    Event,
    Malformed,
    Skipped,
    Source,
    SourceDisconnected,
    SourceRefused,
    author_id,
    bounded_id,
    need,
    opt,
    parse_object,
)
from pipeline.sources.config import JetstreamEntry

POST = "app.bsky.feed.post"
REPOST = "app.bsky.feed.repost"
QUOTE_EMBEDS = frozenset({"app.bsky.embed.record", "app.bsky.embed.recordWithMedia"})
#: Posts remembered (id -> text) so their reposts can be matched; handles remembered per DID.
REMEMBER_POSTS = 20_000
REMEMBER_HANDLES = 50_000


class _Lru(OrderedDict[str, str]):
    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size

    def put(self, key: str, value: str) -> None:
        self[key] = value
        self.move_to_end(key)
        while len(self) > self.size:
            self.popitem(last=False)


def post_id(did: str, collection: str, rkey: str) -> str:
    short = "repost" if collection == REPOST else "post"
    return bounded_id("bluesky", f"{did}/{short}/{rkey}")


def _subject_id(uri: str) -> str:
    """``at://<did>/app.bsky.feed.post/<rkey>`` -> the post's mention id."""
    if not uri.startswith("at://"):
        raise Bad("invalid_value", "commit.record.subject.uri: not an at:// URI")
    parts = uri[len("at://") :].split("/")
    if len(parts) != 3 or parts[1] != POST:
        raise Bad("invalid_value", "commit.record.subject.uri: not a post URI")
    return post_id(parts[0], POST, parts[2])


class JetstreamSource(Source[JetstreamEntry]):
    kind = "bluesky_jetstream"

    def __init__(self, entry: JetstreamEntry) -> None:
        super().__init__(entry)
        self.cursor: int | None = None
        self._which = 0
        self._session: aiohttp.ClientSession | None = None
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._posts = _Lru(REMEMBER_POSTS)
        self._handles = _Lru(REMEMBER_HANDLES)
        self._zstd: zstandard.ZstdDecompressor | None = None
        if entry.compress and entry.zstd_dict is not None:
            dictionary = zstandard.ZstdCompressionDict(entry.zstd_dict)
            self._zstd = zstandard.ZstdDecompressor(dict_data=dictionary)

    def url(self) -> str:
        base = self.entry.endpoints[self._which % len(self.entry.endpoints)]
        query: list[tuple[str, str]] = [("wantedCollections", POST)]
        if self.entry.reposts:
            query.append(("wantedCollections", REPOST))
        if self._zstd is not None:
            query.append(("compress", "true"))
        if self.cursor is not None:
            rewound = max(0, self.cursor - int(self.entry.rewind_s * 1_000_000))
            query.append(("cursor", str(rewound)))
        return f"{base}{'&' if '?' in base else '?'}{urlencode(query)}"

    async def connect(self, checkpoint: Mapping[str, Any] | None) -> None:
        saved = (checkpoint or {}).get("cursor")
        if self.cursor is None and isinstance(saved, int) and not isinstance(saved, bool):
            self.cursor = saved
        self._session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=None, connect=15, sock_connect=15, sock_read=90)
        )
        url = self.url()
        host = urlsplit(url).netloc
        try:
            self._ws = await self._session.ws_connect(
                url,
                heartbeat=30,
                max_msg_size=MAX_EVENT_BYTES,
                autoping=True,
                # A server that never answers our close frame must not hold a restart for 10 s.
                timeout=aiohttp.ClientWSTimeout(ws_close=2.0),
            )
        except aiohttp.WSServerHandshakeError as exc:
            self._which += 1
            if exc.status in (401, 403, 404):
                raise SourceRefused(f"{self.entry.name}: {host} answered {exc.status}") from exc
            headers = exc.headers if exc.headers is not None else {}
            retry = parse_retry_after(headers.get("Retry-After"))
            raise SourceDisconnected(
                f"{self.entry.name}: {host} answered {exc.status}", retry_after=retry
            ) from exc
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            self._which += 1
            raise SourceDisconnected(f"{self.entry.name}: {host}: {type(exc).__name__}") from exc

    def checkpoint(self) -> dict[str, Any]:
        return {} if self.cursor is None else {"cursor": self.cursor}

    async def close(self) -> None:
        if self._ws is not None:
            await self._ws.close()
            self._ws = None
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def read(self) -> AsyncIterator[Event]:
        assert self._ws is not None, "connect() first"
        try:
            async for message in self._ws:
                if message.type == aiohttp.WSMsgType.TEXT:
                    yield self.event(message.data.encode("utf-8", "surrogatepass"))
                elif message.type == aiohttp.WSMsgType.BINARY:
                    yield self.binary(message.data)
                elif message.type == aiohttp.WSMsgType.ERROR:
                    raise SourceDisconnected(f"{self.entry.name}: websocket error")
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            raise SourceDisconnected(f"{self.entry.name}: {type(exc).__name__}") from exc
        self._which += 1
        raise SourceDisconnected(f"{self.entry.name}: websocket closed")

    def binary(self, data: bytes) -> Event:
        """A binary frame: a zstd frame of the dictionary when compression is on."""
        if self._zstd is None:
            return Malformed("invalid_value", "binary frame (compression is off)", data[:4096])
        try:
            # Read through a stream reader so a frame that inflates beyond one event's limit
            # (whatever its header claims) never takes more than that in memory.
            payload = b""
            with self._zstd.stream_reader(data) as reader:
                while len(payload) <= MAX_EVENT_BYTES:
                    chunk = reader.read(MAX_EVENT_BYTES + 1 - len(payload))
                    if not chunk:
                        break
                    payload += chunk
        except zstandard.ZstdError as exc:
            return Malformed(
                "invalid_value", f"not a zstd frame of the dictionary ({exc})", data[:4096]
            )
        if len(payload) > MAX_EVENT_BYTES:
            return Malformed(
                "oversized", f"frame inflates beyond {MAX_EVENT_BYTES} bytes", data[:4096]
            )
        return self.event(payload)

    def event(self, payload: bytes) -> Event:
        """One Jetstream frame to an event; the cursor moves past every well-formed one."""
        obj = parse_object(payload)
        if isinstance(obj, Malformed):
            return obj
        try:
            return self._map(obj, payload)
        except Bad as exc:
            return Malformed(exc.reason, exc.detail, payload)
        except Exception as exc:  # a shape the mapping did not foresee: a dead letter, not a crash
            return Malformed("invalid_value", f"unmappable ({type(exc).__name__})", payload)

    def _map(self, obj: dict[str, Any], payload: bytes) -> Event:
        did = need(obj, "did", str, "")
        time_us = need(obj, "time_us", int, "")
        kind = need(obj, "kind", str, "")
        if not did.startswith("did:") or len(did) > 2048:
            raise Bad("invalid_value", "did: not a DID")
        if time_us < 0:
            raise Bad("invalid_value", "time_us: negative")
        self.cursor = max(self.cursor or 0, time_us)
        if kind == "identity":
            identity = need(obj, "identity", dict, "")
            handle = opt(identity, "handle", str, "identity.")
            if handle:
                self._handles.put(did, handle[:200])
            return Skipped("identity")
        if kind != "commit":
            return Skipped("account" if kind == "account" else "other_kind")
        commit = need(obj, "commit", dict, "")
        operation = need(commit, "operation", str, "commit.")
        collection = need(commit, "collection", str, "commit.")
        if operation != "create":
            return Skipped(
                f"commit_{operation}" if operation in ("update", "delete") else "commit_other"
            )
        if collection not in (POST, REPOST):
            return Skipped("other_collection")
        rkey = need(commit, "rkey", str, "commit.")
        record = need(commit, "record", dict, "commit.")
        created = need(record, "createdAt", str, "commit.record.")
        author: dict[str, Any] = {"id": author_id("bluesky", did), "kind": "unknown"}
        if self.entry.keep_handles and did in self._handles:
            author["handle"] = self._handles[did]
        mention_id = post_id(did, collection, rkey)
        url = f"https://bsky.app/profile/{did}/post/{rkey}"
        if collection == REPOST:
            subject = need(record, "subject", dict, "commit.record.")
            original = _subject_id(need(subject, "uri", str, "commit.record.subject."))
            text = self._posts.get(original)
            if text is None:
                return Skipped("repost_unseen")
            return Candidate(
                {
                    "id": mention_id,
                    "platform": "bluesky",
                    "url": None,
                    "created_at": created,
                    "text": text,
                    "author": author,
                    "kind": "repost",
                    "repost_of": original,
                },
                payload,
            )
        text = need(record, "text", str, "commit.record.")
        langs = opt(record, "langs", list, "commit.record.")
        lang = langs[0] if langs and isinstance(langs[0], str) else None
        kind_of = "post"
        if opt(record, "reply", dict, "commit.record.") is not None:
            kind_of = "reply"
        embed = opt(record, "embed", dict, "commit.record.")
        if embed is not None and embed.get("$type") in QUOTE_EMBEDS:
            kind_of = "quote"
        if self.entry.reposts and text.strip():
            self._posts.put(mention_id, text)
        return Candidate(
            {
                "id": mention_id,
                "platform": "bluesky",
                "url": url,
                "created_at": created,
                "text": text,
                "lang": lang,
                "author": author,
                "kind": kind_of,
            },
            payload,
        )
