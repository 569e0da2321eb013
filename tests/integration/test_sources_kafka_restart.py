"""``tocsin sources run`` on the real broker, SIGKILLed mid-stream and restarted, per source kind.

One harness, one scenario per kind. A local server on 127.0.0.1 speaks the kind's protocol over a
fixed list of events (matching posts, unmatched posts, malformed ones) that the test publishes at a
pace, as the outside world would. The first ``sources run`` process is killed with SIGKILL while it
reads; more events are published while no process runs; a second process resumes from the
checkpoint it reads back from the compacted ``sources.checkpoints`` topic and reads the rest.

What must hold for every kind:

- every well-formed matching event is on ``mentions.raw`` at least once, keyed by its id, and
  nothing else of that source is;
- an id is repeated only if the last checkpoint the killed process saved did not cover it (the
  scenario says which ids a checkpoint covers), so the ingest id memory de-duplicates the rest;
- the second process resumed from that checkpoint (its first request carries the cursor, the
  ``since_id``, the ETag, the ``backfill_minutes``...), not from scratch;
- every malformed event is on ``mentions.dlq`` with its reason.

Per kind (each server also checks what the real service checks: tokens, Basic auth, the query):

- ``bluesky_jetstream``: a websocket replaying from any ``cursor``;
- ``mastodon``: an SSE stream (live only, heartbeats, cut once mid-way) and the REST timeline
  (``since_id``, newest first, 40 a page, ``max_id`` paging) that fills the gaps;
- ``rss``: a feed of the newest 100 items with ETag / Last-Modified (304 when unchanged);
- ``reddit``: the client-credentials token and a search listing (newest 100) with
  ``X-Ratelimit-*`` headers, one answer with ``X-Ratelimit-Remaining: 0``;
- ``x_filtered_stream``: the rules endpoints, a stream with keep-alive lines, cut once mid-way,
  and ``backfill_minutes`` replaying the minutes asked for.

The broker is started once for the module; each scenario has its own source name, id prefix and
dead-letter source, so they do not see each other's records.
"""

from __future__ import annotations

import asyncio
import base64
import email.utils
import json
import os
import signal
import subprocess
import sys
import time
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar
from xml.sax.saxutils import escape

import pytest
from aiohttp import web
from kafka import KafkaConsumer

from pipeline.ops.procs import Broker, free_port
from pipeline.ops.topics import ensure_topics
from pipeline.topology import SOURCE_CHECKPOINTS
from tests.sources_servers import Handler, LocalServer, serve, sse

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]


def matching(i: int) -> bool:
    return i % 3 != 0


def malformed(i: int) -> bool:
    return i % 25 == 7


def text(i: int) -> str:
    return f"Glytera post number {i}" if matching(i) else f"weather report {i}"


def now_iso() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


class Scenario(ABC):
    """One source kind: its server, its config entry, and what a checkpoint covers."""

    name: str
    kind: str
    total: int = 300
    #: The first process is killed once the server handed out this many events.
    kill_at: int = 150
    #: Events published while no process runs (the second must still get them).
    gap: int = 40
    #: Seconds between two published events.
    pace: float = 0.005
    reasons: frozenset[str]
    #: Environment of the ``sources run`` processes (the tokens the config names).
    env: ClassVar[dict[str, str]] = {}

    def __init__(self) -> None:
        self.published = 0
        self.published_at: list[float] = []
        #: Highest event index handed out in any answer, plus one.
        self.handed = 0
        self.server: LocalServer | None = None

    # What the test does ------------------------------------------------------------------------

    def publish_to(self, n: int) -> None:
        """Make events ``< n`` exist (called from the test's thread; handlers read the count)."""
        while self.published < min(n, self.total):
            self.published_at.append(time.time())
            self.published += 1

    @abstractmethod
    def expected_id(self, i: int) -> str:
        """The mention id of event ``i``."""

    def expected(self) -> set[str]:
        return {self.expected_id(i) for i in range(self.total) if matching(i) and not malformed(i)}

    def malformed_count(self) -> int:
        return sum(1 for i in range(self.total) if malformed(i))

    @abstractmethod
    def routes(self) -> list[tuple[str, str, Handler]]: ...

    @abstractmethod
    def config(self, server: LocalServer) -> str:
        """The entry of the sources file (YAML, indented as a list item)."""

    @abstractmethod
    def connected(self) -> bool:
        """The current process has opened its stream or made its first poll."""

    @abstractmethod
    def covered(self, checkpoint: dict[str, Any]) -> set[str]:
        """The mention ids a saved checkpoint covers: a resumed process must not send them."""

    @abstractmethod
    def assert_resumed(self, checkpoint: dict[str, Any], restarted_at: float) -> None:
        """The second process's first requests carry what the checkpoint held."""

    def new_phase(self) -> None:
        """Called before a process starts: ``connected`` looks at its requests only."""
        self.phase += 1
        self.phase_at = time.monotonic()

    phase = 0
    phase_at = 0.0


# bluesky_jetstream ----------------------------------------------------------------------------

BASE_US = 1_760_000_000_000_000
STEP_US = 1000
REWIND_S = 0.02


class Jetstream(Scenario):
    """A replaying server: every event exists from the start; the cursor says where to begin."""

    name = "bsky"
    kind = "bluesky_jetstream"
    total = 400
    kill_at = 250
    gap = 0
    reasons = frozenset({"invalid_json"})

    def __init__(self) -> None:
        super().__init__()
        self.cursors: list[tuple[float, str | None]] = []

    def publish_to(self, n: int) -> None:
        self.published = self.total  # a replay server: nothing to publish

    def frame(self, i: int) -> str:
        if malformed(i):
            return '{"did": "did:plc:x", "time_us": ' + str(BASE_US + i * STEP_US) + ', "kind": '
        return json.dumps(
            {
                "did": "did:plc:alice",
                "time_us": BASE_US + i * STEP_US,
                "kind": "commit",
                "commit": {
                    "operation": "create",
                    "collection": "app.bsky.feed.post",
                    "rkey": f"rk{i}",
                    "record": {"createdAt": now_iso(), "text": text(i)},
                },
            }
        )

    def expected_id(self, i: int) -> str:
        return f"bluesky:did:plc:alice/post/rk{i}"

    async def subscribe(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        cursor = request.query.get("cursor")
        self.cursors.append((time.monotonic(), cursor))
        first = 0 if cursor is None else max(0, (int(cursor) - BASE_US) // STEP_US)
        try:
            for i in range(first, self.total):
                await ws.send_str(self.frame(i))
                self.handed = max(self.handed, i + 1)
                await asyncio.sleep(0.004)
            async for _message in ws:
                pass
        except ConnectionResetError:
            pass
        return ws

    def routes(self) -> list[tuple[str, str, Handler]]:
        return [("GET", "/subscribe", self.subscribe)]

    def config(self, server: LocalServer) -> str:
        return (
            f"  - name: {self.name}\n    kind: {self.kind}\n    url: {server.ws_url}/subscribe\n"
            f"    rewind_s: {REWIND_S}\n    backoff_s: 0.1\n"
        )

    def connected(self) -> bool:
        return any(at >= self.phase_at for at, _ in self.cursors)

    def covered(self, checkpoint: dict[str, Any]) -> set[str]:
        # Resumed at the cursor minus the rewind: what lies before that is never replayed.
        start = int(checkpoint["cursor"]) - int(REWIND_S * 1_000_000)
        return {self.expected_id(i) for i in range(self.total) if BASE_US + i * STEP_US < start}

    def assert_resumed(self, checkpoint: dict[str, Any], restarted_at: float) -> None:
        first = next(c for at, c in self.cursors if at >= restarted_at)
        assert first == str(int(checkpoint["cursor"]) - int(REWIND_S * 1_000_000)), first


# mastodon -------------------------------------------------------------------------------------

MASTODON_TOKEN = "mastodon-token-0123456789"


class Mastodon(Scenario):
    """A live SSE stream (only what is published while connected) and the REST timeline."""

    name = "fedi"
    kind = "mastodon"
    gap = 50
    reasons = frozenset({"missing_field"})
    env: ClassVar[dict[str, str]] = {"TOCSIN_TEST_MASTODON_TOKEN": MASTODON_TOKEN}
    #: The first stream connection is cut after this many events (a reconnect in the process).
    cut_after = 60

    def __init__(self) -> None:
        super().__init__()
        self.created_at = now_iso()
        self.streams: list[float] = []
        self.timelines: list[tuple[float, dict[str, str]]] = []

    def status_id(self, i: int) -> str:
        return str(100_000 + i)

    def status(self, i: int) -> dict[str, Any]:
        uri = f"https://m.example/users/alice/statuses/{i}"
        status: dict[str, Any] = {
            "id": self.status_id(i),
            "uri": uri,
            "url": uri,
            "created_at": self.created_at,  # fixed: the same status is the same bytes twice
            "content": f"<p>{text(i)}</p>",
            "language": "en",
            "favourites_count": 1,
            "account": {"url": "https://m.example/@alice", "acct": "alice", "followers_count": 9},
        }
        if malformed(i):
            del status["account"]  # well-formed JSON, not a status Tocsin can map
        return status

    def expected_id(self, i: int) -> str:
        return f"mastodon:https://m.example/users/alice/statuses/{i}"

    def authorised(self, request: web.Request) -> bool:
        return request.headers.get("Authorization") == f"Bearer {MASTODON_TOKEN}"

    async def stream(self, request: web.Request) -> web.StreamResponse:
        if not self.authorised(request):
            return web.Response(status=401)
        self.streams.append(time.monotonic())
        first_connection = len(self.streams) == 1
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        position = self.published  # a live stream: only what is published from now on
        sent = 0
        idle = 0.0
        try:
            while True:
                if position < self.published:
                    await response.write(sse("update", self.status(position)))
                    self.handed = max(self.handed, position + 1)
                    position += 1
                    sent += 1
                    if first_connection and sent == self.cut_after:
                        assert request.transport is not None
                        request.transport.close()  # cut without an end: the client reconnects
                        return response
                    continue
                await asyncio.sleep(0.005)
                idle += 0.005
                if idle >= 0.5:
                    await response.write(b":thump\n\n")
                    idle = 0.0
        except ConnectionResetError:
            return response

    async def timeline(self, request: web.Request) -> web.Response:
        if not self.authorised(request):
            return web.Response(status=401)
        self.timelines.append((time.monotonic(), dict(request.query)))
        since = int(request.query.get("since_id", "0"))
        max_id = int(request.query.get("max_id", str(10**12)))
        limit = min(int(request.query.get("limit", "20")), 40)
        # Newest first, above since_id and below max_id, as Mastodon pages it.
        found = [
            i for i in range(self.published - 1, -1, -1) if since < int(self.status_id(i)) < max_id
        ][:limit]
        if found:
            self.handed = max(self.handed, max(found) + 1)
        return web.json_response([self.status(i) for i in found])

    def routes(self) -> list[tuple[str, str, Handler]]:
        return [
            ("GET", "/api/v1/streaming/public", self.stream),
            ("GET", "/api/v1/timelines/public", self.timeline),
        ]

    def config(self, server: LocalServer) -> str:
        return (
            f"  - name: {self.name}\n    kind: {self.kind}\n    urls: [{server.url}]\n"
            "    token_env: TOCSIN_TEST_MASTODON_TOKEN\n    backoff_s: 0.1\n"
        )

    def connected(self) -> bool:
        return any(at >= self.phase_at for at in self.streams)

    def covered(self, checkpoint: dict[str, Any]) -> set[str]:
        (since,) = checkpoint["since_id"].values()
        return {
            self.expected_id(i) for i in range(self.total) if int(self.status_id(i)) <= int(since)
        }

    def assert_resumed(self, checkpoint: dict[str, Any], restarted_at: float) -> None:
        (since,) = checkpoint["since_id"].values()
        pages = [q for at, q in self.timelines if at >= restarted_at]
        assert pages and pages[0]["since_id"] == since, pages[:1]
        # The gap (what the killed process missed plus what was published while none ran) took
        # more than one page of 40: the later pages went on below the previous page's oldest.
        assert any("max_id" in q for q in pages), pages
        # The first process also reconnected after the cut and filled that gap from its own
        # position (a since_id from this run, not from a checkpoint).
        assert len(self.streams) >= 3 and any(at < restarted_at for at, _ in self.timelines)


# rss -----------------------------------------------------------------------------------------


class Rss(Scenario):
    """A feed of the newest ``window`` items, ETag / Last-Modified, 304 when unchanged."""

    name = "news"
    kind = "rss"
    total = 240
    kill_at = 100
    gap = 30
    pace = 0.02
    reasons = frozenset({"wrong_type"})
    window = 100

    def __init__(self) -> None:
        super().__init__()
        self.polls: list[tuple[float, dict[str, str], int]] = []

    def expected_id(self, i: int) -> str:
        return f"rss:urn:news:item:{i}"

    def item(self, i: int) -> str:
        date = "yesterday-ish" if malformed(i) else email.utils.formatdate(usegmt=True)
        return (
            f"<item><guid isPermaLink='false'>urn:news:item:{i}</guid>"
            f"<title>{escape(text(i))}</title><link>https://news.example/{i}</link>"
            f"<description>&lt;p&gt;story {i}&lt;/p&gt;</description><pubDate>{date}</pubDate></item>"
        )

    async def feed(self, request: web.Request) -> web.Response:
        count = self.published
        etag = f'"v{count}"'
        modified = email.utils.formatdate(1_760_000_000 + count, usegmt=True)
        if request.headers.get("If-None-Match") == etag:
            self.polls.append((time.monotonic(), dict(request.headers), 304))
            return web.Response(status=304, headers={"ETag": etag})
        self.polls.append((time.monotonic(), dict(request.headers), 200))
        items = "".join(
            self.item(i) for i in range(count - 1, max(-1, count - 1 - self.window), -1)
        )
        body = (
            "<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel>"
            f"<title>News</title><language>en</language>{items}</channel></rss>"
        )
        self.handed = max(self.handed, count)
        return web.Response(
            body=body.encode(),
            content_type="application/rss+xml",
            headers={"ETag": etag, "Last-Modified": modified},
        )

    def routes(self) -> list[tuple[str, str, Handler]]:
        return [("GET", "/feed.xml", self.feed)]

    def config(self, server: LocalServer) -> str:
        return (
            f"  - name: {self.name}\n    kind: {self.kind}\n    url: {server.url}/feed.xml\n"
            "    interval_s: 1\n    backoff_s: 0.1\n"
        )

    def connected(self) -> bool:
        return any(at >= self.phase_at for at, _, _ in self.polls)

    def covered(self, checkpoint: dict[str, Any]) -> set[str]:
        (feed,) = checkpoint["feeds"].values()
        return {f"rss:{entry}" for entry in feed["seen"]}

    def assert_resumed(self, checkpoint: dict[str, Any], restarted_at: float) -> None:
        (feed,) = checkpoint["feeds"].values()
        first = next(headers for at, headers, _ in self.polls if at >= restarted_at)
        assert feed["etag"] and first.get("If-None-Match") == feed["etag"], first
        assert first.get("If-Modified-Since") == feed["last_modified"], first
        # Once everything was read, the feed did not change: the polls cost a 304 each.
        assert [status for at, _, status in self.polls if at >= restarted_at][-1] == 304


# reddit ---------------------------------------------------------------------------------------

REDDIT_ID, REDDIT_SECRET = "client-id-0123", "client-secret-0123456789"


class Reddit(Scenario):
    """The client-credentials token and a search listing of the newest 100, rate-limit headers."""

    name = "reddit"
    kind = "reddit"
    total = 240
    kill_at = 100
    gap = 30
    pace = 0.02
    reasons = frozenset({"invalid_value"})
    env: ClassVar[dict[str, str]] = {
        "TOCSIN_TEST_REDDIT_ID": REDDIT_ID,
        "TOCSIN_TEST_REDDIT_SECRET": REDDIT_SECRET,
    }
    #: The second search of the second process answers ``X-Ratelimit-Remaining: 0`` and this
    #: reset (seconds): the next one must wait that long.
    reset_s = 2.0

    def __init__(self) -> None:
        super().__init__()
        self.tokens: list[str] = []
        self.searches: list[tuple[float, str]] = []

    def expected_id(self, i: int) -> str:
        return f"reddit:t3_p{i}"

    def child(self, i: int) -> dict[str, Any]:
        if malformed(i):  # a comment: search should list posts only
            return {"kind": "t1", "data": {"name": f"t1_p{i}", "body": text(i)}}
        return {
            "kind": "t3",
            "data": {
                "name": f"t3_p{i}",
                "title": text(i),
                "selftext": "",
                "created_utc": time.time() - 5,
                "author": "someone",
                "permalink": f"/r/pharma/comments/p{i}/x/",
                "score": 3,
                "num_comments": 1,
            },
        }

    async def access_token(self, request: web.Request) -> web.Response:
        basic = base64.b64encode(f"{REDDIT_ID}:{REDDIT_SECRET}".encode()).decode()
        form = await request.post()
        if request.headers.get("Authorization") != f"Basic {basic}":
            return web.Response(status=401)
        if form.get("grant_type") != "client_credentials":
            return web.json_response({"error": "unsupported_grant_type"}, status=400)
        token = f"token-{len(self.tokens)}"
        self.tokens.append(token)
        return web.json_response(
            {"access_token": token, "token_type": "bearer", "expires_in": 86400}
        )

    async def search(self, request: web.Request) -> web.Response:
        if request.headers.get("Authorization") not in {f"Bearer {t}" for t in self.tokens}:
            return web.Response(status=401)
        assert request.query["sort"] == "new" and "Glytera" in request.query["q"], request.query
        self.searches.append((time.monotonic(), request.headers["Authorization"]))
        in_phase = [at for at, _ in self.searches if at >= self.phase_at]
        count = self.published
        limit = min(int(request.query.get("limit", "25")), 100)
        children = [self.child(i) for i in range(count - 1, max(-1, count - 1 - limit), -1)]
        self.handed = max(self.handed, count)
        empty = self.phase == 2 and len(in_phase) == 2
        headers = {
            "X-Ratelimit-Used": str(len(self.searches)),
            "X-Ratelimit-Remaining": "0" if empty else str(600 - len(self.searches)),
            "X-Ratelimit-Reset": str(self.reset_s) if empty else "300",
        }
        return web.json_response(
            {"kind": "Listing", "data": {"children": children}}, headers=headers
        )

    def routes(self) -> list[tuple[str, str, Handler]]:
        return [
            ("POST", "/api/v1/access_token", self.access_token),
            ("GET", "/search", self.search),
        ]

    def config(self, server: LocalServer) -> str:
        return (
            f"  - name: {self.name}\n    kind: {self.kind}\n    url: {server.url}\n"
            f"    auth_url: {server.url}/api/v1/access_token\n"
            "    client_id_env: TOCSIN_TEST_REDDIT_ID\n"
            "    client_secret_env: TOCSIN_TEST_REDDIT_SECRET\n"
            "    user_agent: 'test:tocsin:0.1 (by /u/tocsin)'\n"
            "    interval_s: 1\n    backoff_s: 0.1\n"
        )

    def connected(self) -> bool:
        return any(at >= self.phase_at for at, _ in self.searches)

    def covered(self, checkpoint: dict[str, Any]) -> set[str]:
        return {f"reddit:{name}" for name in checkpoint["seen"] if name.startswith("t3_")}

    def assert_resumed(self, checkpoint: dict[str, Any], restarted_at: float) -> None:
        # The second process asked for a token of its own (none is kept), then searched with it.
        after = [token for at, token in self.searches if at >= restarted_at]
        assert after and after[0] == f"Bearer {self.tokens[-1]}" and len(self.tokens) == 2
        # X-Ratelimit-Remaining: 0 held the next search back for X-Ratelimit-Reset seconds.
        times = [at for at, _ in self.searches if at >= restarted_at]
        assert len(times) >= 3 and times[2] - times[1] >= self.reset_s - 0.1, times


# x_filtered_stream ----------------------------------------------------------------------------

X_TOKEN = "x-bearer-0123456789abcdef"


class XStream(Scenario):
    """The rules endpoints and a stream with keep-alives, cut once; ``backfill_minutes`` replays."""

    name = "x"
    kind = "x_filtered_stream"
    reasons = frozenset({"invalid_json"})
    env: ClassVar[dict[str, str]] = {"TOCSIN_TEST_X_TOKEN": X_TOKEN}
    cut_after = 60

    def __init__(self) -> None:
        super().__init__()
        self.rules: list[dict[str, str]] = [{"id": "f1", "value": "cats", "tag": "someone-else"}]
        self.streams: list[tuple[float, dict[str, str]]] = []

    def expected_id(self, i: int) -> str:
        return f"x:{1_000_000 + i}"

    def line(self, i: int) -> bytes:
        if malformed(i):
            return b'{"data": {"id": "' + str(1_000_000 + i).encode() + b'", "text": \r\n'
        post = {
            "data": {
                "id": str(1_000_000 + i),
                "text": text(i),
                "created_at": now_iso(),
                "author_id": "42",
                "lang": "en",
            },
            "includes": {"users": [{"id": "42", "username": "alice", "verified": False}]},
        }
        return json.dumps(post).encode() + b"\r\n"

    def authorised(self, request: web.Request) -> bool:
        return request.headers.get("Authorization") == f"Bearer {X_TOKEN}"

    async def get_rules(self, request: web.Request) -> web.Response:
        if not self.authorised(request):
            return web.Response(status=401)
        return web.json_response({"data": self.rules})

    async def post_rules(self, request: web.Request) -> web.Response:
        if not self.authorised(request):
            return web.Response(status=401)
        body = await request.json()
        if "delete" in body:
            self.rules[:] = [r for r in self.rules if r["id"] not in body["delete"]["ids"]]
        for rule in body.get("add", []):
            self.rules.append({"id": f"r{len(self.rules)}", **rule})
        return web.json_response({"meta": {"sent": now_iso()}})

    async def stream(self, request: web.Request) -> web.StreamResponse:
        if not self.authorised(request):
            return web.Response(status=401)
        self.streams.append((time.monotonic(), dict(request.query)))
        first_connection = len(self.streams) == 1
        response = web.StreamResponse()
        await response.prepare(request)
        position = self.published
        minutes = request.query.get("backfill_minutes")
        if minutes is not None:  # the posts published in the last minutes asked for, again
            since = time.time() - 60 * int(minutes)
            position = next(
                (i for i, at in enumerate(self.published_at) if at >= since), self.published
            )
        sent = 0
        idle = 0.0
        try:
            while True:
                if position < self.published:
                    await response.write(self.line(position))
                    self.handed = max(self.handed, position + 1)
                    position += 1
                    sent += 1
                    if first_connection and sent == self.cut_after:
                        assert request.transport is not None
                        request.transport.close()
                        return response
                    continue
                await asyncio.sleep(0.005)
                idle += 0.005
                if idle >= 0.3:
                    await response.write(b"\r\n")  # keep-alive
                    idle = 0.0
        except ConnectionResetError:
            return response

    def routes(self) -> list[tuple[str, str, Handler]]:
        return [
            ("GET", "/2/tweets/search/stream/rules", self.get_rules),
            ("POST", "/2/tweets/search/stream/rules", self.post_rules),
            ("GET", "/2/tweets/search/stream", self.stream),
        ]

    def config(self, server: LocalServer) -> str:
        return (
            f"  - name: {self.name}\n    kind: {self.kind}\n    url: {server.url}/2\n"
            "    token_env: TOCSIN_TEST_X_TOKEN\n    backoff_s: 0.1\n"
        )

    def connected(self) -> bool:
        return any(at >= self.phase_at for at, _ in self.streams)

    def covered(self, checkpoint: dict[str, Any]) -> set[str]:
        return set(checkpoint["seen"])

    def assert_resumed(self, checkpoint: dict[str, Any], restarted_at: float) -> None:
        first = next(q for at, q in self.streams if at >= restarted_at)
        assert first.get("backfill_minutes") == "1", first  # from last_event_at in the checkpoint
        assert self.streams[1][1].get("backfill_minutes") == "1"  # the in-process reconnect too
        # Rules in sync: the foreign rule kept, ours added once, never re-added on reconnects.
        ours = [r for r in self.rules if r["tag"].startswith("tocsin:")]
        assert {"id": "f1", "value": "cats", "tag": "someone-else"} in self.rules
        assert ours and len(ours) == len({r["tag"] for r in ours}), self.rules


SCENARIOS = [Jetstream, Mastodon, Rss, Reddit, XStream]


# The harness ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def shared_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    """One broker for the module: each scenario's records carry its own source name and ids."""
    b = Broker(port=free_port(), data_dir=tmp_path_factory.mktemp("kafka"))
    b.start()
    try:
        ensure_topics(b.bootstrap)
        yield b
    finally:
        b.stop()


def start(config: Path, bootstrap: str, log: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "pipeline.cli",
                "sources",
                "run",
                "--config",
                str(config),
                "--bootstrap",
                bootstrap,
            ],
            cwd=REPO,
            env={
                **os.environ,
                "PYTHONPATH": os.pathsep.join(
                    filter(None, [str(REPO), os.environ.get("PYTHONPATH")])
                ),
                **env,
            },
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def read_topic(bootstrap: str, topic: str) -> list[tuple[bytes | None, bytes]]:
    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        consumer_timeout_ms=1500,
    )
    try:
        return [(m.key, m.value) for m in consumer]
    finally:
        consumer.close()


def mentions_of(bootstrap: str, prefix: str) -> list[tuple[str, str]]:
    """``(key, id)`` of the records on ``mentions.raw`` whose id starts with ``prefix``."""
    out = []
    for key, value in read_topic(bootstrap, "mentions.raw"):
        mention_id = json.loads(value)["id"]
        if mention_id.startswith(prefix):
            out.append(((key or b"").decode(), mention_id))
    return out


def last_checkpoint(bootstrap: str, name: str) -> dict[str, Any]:
    saved = [v for k, v in read_topic(bootstrap, SOURCE_CHECKPOINTS.name) if k == name.encode()]
    assert saved, f"no checkpoint of {name} on {SOURCE_CHECKPOINTS.name}"
    state = json.loads(saved[-1])
    assert isinstance(state, dict)
    return state


def wait_for(
    condition: Callable[[], bool],
    what: str,
    proc: subprocess.Popen[bytes],
    log: Path,
    timeout: float,
) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert proc.poll() is None, (
            f"sources run exited while waiting for {what}:\n{log.read_text()}"
        )
        assert time.monotonic() < deadline, f"timed out waiting for {what}:\n{log.read_text()}"
        time.sleep(0.02)


def publish_until(
    scenario: Scenario, stop: Callable[[], bool], proc: subprocess.Popen[bytes], log: Path
) -> None:
    """Publish at the scenario's pace until ``stop()`` or every event is out."""
    deadline = time.monotonic() + 60
    while not stop() and scenario.published < scenario.total:
        assert proc.poll() is None, log.read_text()
        assert time.monotonic() < deadline, log.read_text()
        scenario.publish_to(scenario.published + 1)
        time.sleep(scenario.pace)


@pytest.mark.parametrize("make", SCENARIOS, ids=lambda s: s.kind)
def test_each_matching_mention_reaches_mentions_raw_across_a_sigkill(
    make: type[Scenario], shared_broker: Broker, tmp_path: Path
) -> None:
    scenario = make()
    bootstrap = shared_broker.bootstrap
    prefix = scenario.expected_id(0).split(":")[0] + ":"
    log = tmp_path / "sources.log"
    with serve(scenario.routes()) as server:
        scenario.server = server
        config = tmp_path / "sources.yaml"
        config.write_text("sources:\n" + scenario.config(server))

        scenario.new_phase()
        first = start(config, bootstrap, log, scenario.env)
        try:
            wait_for(scenario.connected, "the first connection", first, log, 60)
            publish_until(scenario, lambda: scenario.handed >= scenario.kill_at, first, log)
            wait_for(lambda: scenario.handed >= scenario.kill_at, "the kill point", first, log, 30)
        finally:
            first.send_signal(signal.SIGKILL)
            first.wait(10)
        killed_after = scenario.handed
        # The world goes on while no process runs.
        scenario.publish_to(scenario.published + scenario.gap)
        checkpoint = last_checkpoint(bootstrap, scenario.name)
        covered = scenario.covered(checkpoint)
        assert covered, checkpoint  # the killed process had saved a position in Kafka

        scenario.new_phase()
        restarted_at = scenario.phase_at
        second = start(config, bootstrap, log, scenario.env)
        try:
            wait_for(scenario.connected, "the second connection", second, log, 60)
            publish_until(scenario, lambda: False, second, log)
            expected = scenario.expected()
            wait_for(
                lambda: expected <= {i for _, i in mentions_of(bootstrap, prefix)},
                "every expected mention on mentions.raw",
                second,
                log,
                90,
            )
            time.sleep(2.5)  # two poll intervals: the last polls find nothing new
        finally:
            second.send_signal(signal.SIGTERM)
            assert second.wait(20) == 0, log.read_text()
        scenario.assert_resumed(checkpoint, restarted_at)

    records = mentions_of(bootstrap, prefix)
    ids = Counter(i for _, i in records)
    assert set(ids) == expected, sorted(set(ids) ^ expected)[:5]
    assert all(key == mention_id for key, mention_id in records), records[:3]
    repeated = {i for i, n in ids.items() if n > 1}
    # Only what the last checkpoint did not cover is sent again, and nothing of that twice more.
    assert not repeated & covered, sorted(repeated & covered)[:5]
    assert max(ids.values()) <= 2, ids.most_common(3)
    print(
        f"{scenario.kind}: killed after {killed_after} events handed out; checkpoint covered "
        f"{len(covered & expected)} of {len(expected)} mentions; {len(repeated)} repeated"
    )

    letters = [
        json.loads(value)
        for _, value in read_topic(bootstrap, "mentions.dlq")
        if json.loads(value).get("source_topic") == f"source:{scenario.name}"
    ]
    assert {letter["reason"] for letter in letters} == set(scenario.reasons), letters[:2]
    assert len({letter["payload"] for letter in letters}) == scenario.malformed_count()
