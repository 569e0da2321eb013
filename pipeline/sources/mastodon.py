"""``mastodon``: statuses from Mastodon's streaming API (server-sent events), gaps filled by REST.

One SSE connection per instance x stream (``public``, ``public:local``, ``hashtag:<tag>``), with the
token of ``token_env`` as a bearer header when set. ``update`` events carry a status; ``delete``,
``status.update`` and heartbeats (``:thump`` comments) are counted, not sent.

After every (re)connect to a stream whose newest status id is known (from this run or the
checkpoint), the statuses missed while away are read from the matching REST timeline with
``since_id`` (newest first, 40 a page, older pages with ``max_id``, at most ``gap_pages``) and
handed on oldest first, before the stream's own events. The stream is opened first, so nothing
between the two is lost; what both carry is dropped by mention id.

Mapping: id ``mastodon:<status uri>`` (the uri is global: one status seen on two instances is one
mention), text = content as plain text (content warning first), ``in_reply_to_id`` -> ``reply``,
a boost (``reblog``) -> ``repost`` of the original's id with its text, author a pseudonymous id from
the account URL (``@acct`` only with ``keep_handles: true``), followers, likes/boosts/replies.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

from pipeline.delivery.http import parse_retry_after
from pipeline.safejson import BadJson, loads
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
    html_text,
    need,
    opt,
    parse_object,
)
from pipeline.sources.config import MastodonEntry

PAGE = 40
REFUSED = frozenset({401, 403, 404, 410})


@dataclass(frozen=True)
class Stream:
    instance: str
    name: str

    @property
    def key(self) -> str:
        return f"{self.instance}|{self.name}"

    @property
    def streaming_path(self) -> str:
        if self.name == "public":
            return "/api/v1/streaming/public"
        if self.name == "public:local":
            return "/api/v1/streaming/public/local"
        return f"/api/v1/streaming/hashtag?tag={quote(self.name.split(':', 1)[1])}"

    @property
    def timeline_path(self) -> str:
        if self.name == "public":
            return "/api/v1/timelines/public"
        if self.name == "public:local":
            return "/api/v1/timelines/public?local=true"
        return f"/api/v1/timelines/tag/{quote(self.name.split(':', 1)[1])}"


@dataclass(frozen=True)
class _Item:
    stream: str
    status_id: int | None
    event: Event


class _Lost:
    def __init__(self, error: Exception) -> None:
        self.error = error


def _status_id(value: Any) -> int | None:
    if isinstance(value, str) and value.isdigit() and len(value) < 40:
        return int(value)
    return None


class MastodonSource(Source[MastodonEntry]):
    kind = "mastodon"

    def __init__(self, entry: MastodonEntry) -> None:
        super().__init__(entry)
        self.streams = [
            Stream(url.rstrip("/"), name) for url in entry.endpoints for name in entry.streams
        ]
        self.since: dict[str, int] = {}
        self._client: httpx.AsyncClient | None = None
        self._queue: asyncio.Queue[_Item | _Lost] | None = None
        self._tasks: list[asyncio.Task[None]] = []

    async def connect(self, checkpoint: Mapping[str, Any] | None) -> None:
        saved = (checkpoint or {}).get("since_id")
        if isinstance(saved, dict):
            for key, value in saved.items():
                found = _status_id(value)
                if found is not None and key not in self.since:
                    self.since[key] = found
        headers = {"User-Agent": "tocsin-sources/0.1"}
        if self.entry.token is not None:
            headers["Authorization"] = f"Bearer {self.entry.token.get_secret_value()}"
        # Read timeout: Mastodon sends a heartbeat comment every 10-15 s on a live stream.
        self._client = httpx.AsyncClient(
            headers=headers, timeout=httpx.Timeout(60.0, connect=10.0), follow_redirects=False
        )
        self._queue = asyncio.Queue(maxsize=1000)
        self._tasks = [asyncio.ensure_future(self._pump(s)) for s in self.streams]

    def checkpoint(self) -> dict[str, Any]:
        return {"since_id": {key: str(value) for key, value in sorted(self.since.items())}}

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(BaseException):
                await task
        self._tasks = []
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def read(self) -> AsyncIterator[Event]:
        assert self._queue is not None, "connect() first"
        while True:
            item = await self._queue.get()
            if isinstance(item, _Lost):
                raise item.error
            # Moved before the event is handed on: the runner handles it before asking for the
            # next, so the checkpoint never lags one event behind what was sent.
            if item.status_id is not None:
                self.since[item.stream] = max(self.since.get(item.stream, 0), item.status_id)
            yield item.event

    async def _pump(self, stream: Stream) -> None:
        assert self._client is not None and self._queue is not None
        host = urlsplit(stream.instance).netloc
        try:
            request = self._client.build_request("GET", stream.instance + stream.streaming_path)
            response = await self._client.send(request, stream=True)
            try:
                self._refuse_or_retry(response, host, "stream")
                await self._fill_gap(stream, host)
                async for event, status_id in self._sse(response):
                    await self._queue.put(_Item(stream.key, status_id, event))
            finally:
                await response.aclose()
            raise SourceDisconnected(f"{self.entry.name}: {host} closed the stream")
        except asyncio.CancelledError:
            raise
        except (SourceDisconnected, SourceRefused) as exc:
            await self._queue.put(_Lost(exc))
        except httpx.HTTPError as exc:
            lost = SourceDisconnected(f"{self.entry.name}: {host}: {type(exc).__name__}")
            await self._queue.put(_Lost(lost))
        except Exception as exc:  # never let a pump die silently: the source reconnects
            lost = SourceDisconnected(f"{self.entry.name}: {host}: unexpected {type(exc).__name__}")
            await self._queue.put(_Lost(lost))

    def _refuse_or_retry(self, response: httpx.Response, host: str, what: str) -> None:
        status = response.status_code
        if status == 200:
            return
        if status in REFUSED:
            raise SourceRefused(f"{self.entry.name}: {host} {what} answered {status}")
        retry = parse_retry_after(response.headers.get("Retry-After"))
        raise SourceDisconnected(
            f"{self.entry.name}: {host} {what} answered {status}", retry_after=retry
        )

    async def _fill_gap(self, stream: Stream, host: str) -> None:
        """Statuses newer than the stream's last known id, from REST, oldest first."""
        assert self._client is not None and self._queue is not None
        since = self.since.get(stream.key)
        if since is None or self.entry.gap_pages == 0:
            return
        found: list[tuple[int, Event]] = []
        max_id: int | None = None
        for _ in range(self.entry.gap_pages):
            sep = "&" if "?" in stream.timeline_path else "?"
            url = f"{stream.instance}{stream.timeline_path}{sep}since_id={since}&limit={PAGE}"
            if max_id is not None:
                url += f"&max_id={max_id}"
            response = await self._client.get(url)
            self._refuse_or_retry(response, host, "timeline")
            try:
                page = loads(response.content)
            except BadJson:
                page = None
            if not isinstance(page, list):
                found.append(
                    (
                        since,
                        Malformed(
                            "not_an_object",
                            "timeline: expected a JSON array",
                            response.content[:4096],
                        ),
                    )
                )
                break
            ids: list[int] = []
            for status in page:
                raw = _dumps(status)
                status_id = _status_id(status.get("id")) if isinstance(status, dict) else None
                event = (
                    self.status_event(status, raw)
                    if isinstance(status, dict)
                    else Malformed("not_an_object", "timeline entry is not an object", raw)
                )
                found.append((status_id or since, event))
                if status_id is not None:
                    ids.append(status_id)
            if len(page) < PAGE or not ids:
                break
            max_id = min(ids)
        found.sort(key=lambda pair: pair[0])
        for status_id, event in found:
            await self._queue.put(_Item(stream.key, status_id, event))

    async def _sse(self, response: httpx.Response) -> AsyncIterator[tuple[Event, int | None]]:
        name = "message"
        data: list[str] = []
        size = 0
        async for line in response.aiter_lines():
            if line == "":
                if data:
                    payload = "\n".join(data).encode("utf-8", "surrogatepass")
                    yield self.sse_event(name, payload)
                name, data, size = "message", [], 0
                continue
            if line.startswith(":"):
                continue  # heartbeat comment
            field_name, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if field_name == "event":
                name = value
            elif field_name == "data":
                size += len(value)
                if size > MAX_EVENT_BYTES:
                    yield (
                        Malformed(
                            "oversized",
                            f"event over {MAX_EVENT_BYTES} bytes",
                            value[:4096].encode(),
                        ),
                        None,
                    )
                    name, data, size = "message", [], 0
                    continue
                data.append(value)

    def sse_event(self, name: str, payload: bytes) -> tuple[Event, int | None]:
        """One SSE event to an event and the status id it moves ``since_id`` to."""
        if name in ("delete", "status.update", "notification", "conversation", "announcement"):
            return Skipped(name.replace(".", "_")), None
        if name != "update":
            return Skipped("other_event"), None
        obj = parse_object(payload)
        if isinstance(obj, Malformed):
            return obj, None
        return self.status_event(obj, payload), _status_id(obj.get("id"))

    def status_event(self, status: dict[str, Any], payload: bytes) -> Event:
        try:
            return Candidate(self._map(status), payload)
        except Bad as exc:
            return Malformed(exc.reason, exc.detail, payload)
        except Exception as exc:  # a shape the mapping did not foresee: a dead letter, not a crash
            return Malformed("invalid_value", f"unmappable ({type(exc).__name__})", payload)

    def _map(self, status: dict[str, Any]) -> dict[str, Any]:
        need(status, "id", str, "")
        uri = need(status, "uri", str, "")
        created = need(status, "created_at", str, "")
        account = need(status, "account", dict, "")
        reblog = opt(status, "reblog", dict, "")
        shown = reblog if reblog is not None else status
        content = need(shown, "content", str, "reblog." if reblog is not None else "")
        warning = opt(shown, "spoiler_text", str, "") or ""
        text = " ".join(part for part in (warning, html_text(content)) if part)
        acct_url = need(account, "url", str, "account.")
        author: dict[str, Any] = {
            "id": author_id("mastodon", acct_url),
            "followers": max(0, opt(account, "followers_count", int, "account.") or 0),
            "kind": "unknown",
        }
        if self.entry.keep_handles:
            acct = opt(account, "acct", str, "account.")
            author["handle"] = f"@{acct}"[:200] if acct else None
        mention: dict[str, Any] = {
            "id": bounded_id("mastodon", uri),
            "platform": "mastodon",
            "url": opt(status, "url", str, ""),
            "created_at": created,
            "text": text,
            "lang": opt(shown, "language", str, ""),
            "author": author,
            "engagement": {
                "likes": max(0, opt(status, "favourites_count", int, "") or 0),
                "shares": max(0, opt(status, "reblogs_count", int, "") or 0),
                "replies": max(0, opt(status, "replies_count", int, "") or 0),
            },
            "kind": "post",
        }
        if reblog is not None:
            mention["kind"] = "repost"
            mention["repost_of"] = bounded_id("mastodon", need(reblog, "uri", str, "reblog."))
        elif opt(status, "in_reply_to_id", str, "") is not None:
            mention["kind"] = "reply"
        return mention


def _dumps(value: Any) -> bytes:
    import json

    return json.dumps(value, ensure_ascii=True).encode("ascii")
