"""Local servers speaking the live sources' protocols, on 127.0.0.1, for the sources' tests.

Each runs an aiohttp application on its own event loop in a background thread, so a test can drive
the real client code (``tocsin sources run`` in-process, or a runner) from its own loop or none.
What a server was asked is recorded (``requests``) for the assertions: conditional-GET headers,
Jetstream cursors, Mastodon ``since_id``\\ s.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

Handler = Callable[[web.Request], Any]


@dataclass
class Recorded:
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    at: float = field(default_factory=time.monotonic)


@dataclass
class LocalServer:
    """An aiohttp app on 127.0.0.1 in a thread; ``url`` is its base (``http://127.0.0.1:port``)."""

    port: int = 0
    requests: list[Recorded] = field(default_factory=list)
    loop: asyncio.AbstractEventLoop | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def record(self, request: web.Request) -> None:
        query: dict[str, list[str]] = {}
        for key, value in request.query.items():
            query.setdefault(key, []).append(value)
        self.requests.append(Recorded(request.path, query, dict(request.headers)))

    def paths(self, path: str) -> list[Recorded]:
        return [r for r in self.requests if r.path == path]


@contextmanager
def serve(routes: Sequence[tuple[str, str, Handler]]) -> Iterator[LocalServer]:
    """Serve ``(method, path, handler)`` routes until the block ends; handlers get the request."""
    server = LocalServer()
    ready = threading.Event()
    stop: list[asyncio.Event] = []
    failure: list[BaseException] = []

    @web.middleware
    async def record(request: web.Request, handler: Handler) -> Any:
        server.record(request)
        return await handler(request)

    async def main() -> None:
        app = web.Application(middlewares=[record])
        for method, path, handler in routes:
            app.router.add_route(method, path, handler)
        runner = web.AppRunner(app, shutdown_timeout=0.5)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        sockets = site._server.sockets  # type: ignore[union-attr]
        server.port = int(sockets[0].getsockname()[1])
        server.loop = asyncio.get_running_loop()
        stop.append(asyncio.Event())
        ready.set()
        await stop[0].wait()
        await runner.cleanup()

    def thread_main() -> None:
        try:
            asyncio.run(main())
        except BaseException as exc:
            failure.append(exc)
            ready.set()

    thread = threading.Thread(target=thread_main, daemon=True)
    thread.start()
    assert ready.wait(10), "local server did not start"
    if failure:
        raise failure[0]
    try:
        yield server
    finally:
        assert server.loop is not None
        server.loop.call_soon_threadsafe(stop[0].set)
        thread.join(10)


def sse(event: str, data: Any) -> bytes:
    """One server-sent event; ``data`` is JSON-encoded unless it is already bytes."""
    body = data if isinstance(data, bytes) else json.dumps(data).encode()
    return b"event: " + event.encode() + b"\ndata: " + body + b"\n\n"
