"""The worker's HTTP edge, in front of every view: what is served, and how it answers.

Installed once on Faust's aiohttp application (``TocsinApp.on_webserver_init``):

* **Only Tocsin's own views are served.** Faust mounts views of its own (``/table/<name>/<key>``
  returns any table's values, ``/router/`` the host and partition layout, ``/`` an index) with no
  authentication. The settings switch them off (``APP_WEB_TABLES_ENABLED``... in
  ``pipeline.app``), and, because an operator's environment overrides those, a request whose route
  does not belong to a view in ``pipeline``/``agents`` is answered 404 here whatever is mounted.
* **HEAD** is answered as GET without a body (aiohttp strips it), where GET exists; elsewhere it
  is 405 and, like every 405, ``Allow`` no longer lists HEAD for a view without GET.
* **Headers on every response**: ``Server: tocsin`` (no Python or aiohttp version),
  ``X-Content-Type-Options: nosniff``, and ``Cache-Control: no-store`` on JSON and text answers.
* **A body arrives within** ``TOCSIN_INGEST_READ_TIMEOUT_S`` or the request is answered 408
  ``read_timeout``: the guard reads it before the view runs (aiohttp keeps it for the view's
  own read), so a client that sends headers and then trickles or withholds the body, or a
  ``deflate`` body that never ends, no longer holds a connection and a task open for ever (the
  Slack, PagerDuty, API and sign-in doors had no limit). Views that stream their body
  (``streams_body = True``: the ingest doors) read it themselves under the same limit.
* **A body that cannot be read** (``Content-Encoding: gzip`` or ``deflate`` over bytes that are
  not, a body cut short) is answered 400 ``bad_body`` here: aiohttp raises it from whichever read
  the view makes, and every view that reads a body answered a 500.
* **A failing view** answers a 500 JSON body without detail and logs one line (its exception
  type), never a traceback with a request in it.
* **Repeated 401s are slowed per client** (:class:`pipeline.refusals.RefusalLedger`).
* **Credentials that are not UTF-8** (``Authorization`` or a Tocsin cookie with bytes such as 0xff,
  which aiohttp passes on as lone surrogates) are answered 400 here: every view compares them as
  UTF-8 bytes, and the encoding error answered a 500 on the API, ingest, approval and console pages.
* **Malformed HTTP** (a control character in a header, a bad request line): aiohttp logs the
  whole offending line with a traceback at ERROR and echoes it in the 400 body. Here the log
  record becomes one line (client address and error type, no header value), rate-limited to
  :data:`LOG_BURST` lines per :data:`LOG_WINDOW_S`, and the body is a plain "Bad Request".
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web, web_protocol
from aiohttp.web_exceptions import HTTPException

from pipeline import services
from pipeline.refusals import RefusalLedger

SERVER = "tocsin"
OWN_MODULES = ("pipeline.", "agents.")
LOG_WINDOW_S = 10.0
LOG_BURST = 5
BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
BAD_BODY = {
    "error": {
        "code": "bad_body",
        "message": "the body could not be read: a Content-Encoding the bytes do not match, "
        "or a body cut short",
    }
}

log = logging.getLogger(__name__)
_guarded: weakref.WeakSet[web.Application] = weakref.WeakSet()
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def refusal_ledger() -> RefusalLedger:
    """The per-client ledger shared with the approvals audit (``services.extra``)."""

    def make() -> RefusalLedger:
        cfg = services.settings()
        return RefusalLedger(audit_each=cfg.refusals_audited_each, slow_after=cfg.auth_slow_after)

    return services.made_once("refusal_ledger", RefusalLedger, make)


def client_of(request: web.BaseRequest) -> str:
    return str(request.remote or "-")


class RateLimitedLines(logging.Filter):
    """Turns each record into one line without traceback and lets a few through per window."""

    def __init__(self, window_s: float = LOG_WINDOW_S, burst: int = LOG_BURST) -> None:
        super().__init__()
        self.window_s = window_s
        self.burst = burst
        self.window_start = 0.0
        self.passed = 0
        self.suppressed = 0

    def filter(self, record: logging.LogRecord) -> bool:
        now = time.monotonic()
        if now - self.window_start >= self.window_s:
            self.window_start, self.passed = now, 0
        if self.passed >= self.burst:
            self.suppressed += 1
            return False
        self.passed += 1
        exc = record.exc_info[1] if record.exc_info else None
        remote = next((str(a) for a in (record.args or ()) if isinstance(a, str)), "-")
        what = type(exc).__name__ if exc is not None else "error"
        record.msg = "malformed or failed HTTP request from %s: %s%s"
        record.args = (
            remote,
            what,
            f" ({self.suppressed} similar lines suppressed)" if self.suppressed else "",
        )
        self.suppressed = 0
        record.exc_info = None
        record.exc_text = None
        record.stack_info = None
        return True


def _quiet_handle_error(original: Callable[..., web.StreamResponse]) -> Callable[..., Any]:
    def handle_error(
        self: web_protocol.RequestHandler,
        request: web.BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        # aiohttp's message for a 400 quotes the offending bytes of the request (a header value
        # with a token in it); the client already knows what it sent.
        generic = "Bad Request" if status == 400 else message
        response = original(self, request, status, exc, generic)
        response.headers["Server"] = SERVER
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Cache-Control"] = "no-store"
        return response

    handle_error.__wrapped__ = original  # type: ignore[attr-defined]
    return handle_error


def _own_route(request: web.Request, views: dict[str, Any]) -> bool:
    """Whether the request matched a route of one of Tocsin's own views."""
    resource = request.match_info.route.resource
    if resource is None:
        return True  # no route matched: aiohttp answers 404/405 itself
    view = views.get(resource.canonical)
    return view is not None and type(view).__module__.startswith(OWN_MODULES)


def _streams_body(request: web.Request, views: dict[str, Any]) -> bool:
    """Whether the matched view reads its body itself, as a stream with its own limits."""
    resource = request.match_info.route.resource
    view = views.get(resource.canonical) if resource is not None else None
    return bool(getattr(view, "streams_body", False))


OWN_COOKIES = "tocsin_"  # the session and login cookies (pipeline/approvals)


def _utf8(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _undecodable_credentials(request: web.Request) -> bool:
    """Whether ``Authorization`` or one of Tocsin's cookies holds bytes that are not UTF-8 (read
    as lone surrogates). Another site's cookie on the same host is none of our business."""
    if not all(_utf8(v) for v in request.headers.getall("Authorization", ())):
        return True
    if not any(OWN_COOKIES in v for v in request.headers.getall("Cookie", ())):
        return False
    return not all(_utf8(v) for k, v in request.cookies.items() if k.startswith(OWN_COOKIES))


def _allowed(methods: Any) -> set[str]:
    """The methods to list in ``Allow``: HEAD only where GET is served too."""
    out = {str(m).upper() for m in methods}
    if "GET" not in out:
        out.discard("HEAD")
    return out


def make_middleware(views: dict[str, Any]) -> Any:
    @web.middleware
    async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.match_info.http_exception is None and not _own_route(request, views):
            return web.json_response({"error": "not found"}, status=404)
        if _undecodable_credentials(request):
            return web.json_response(
                {"error": {"code": "bad_header", "message": "credentials must be UTF-8"}},
                status=400,
            )
        served = request.clone(method="GET") if request.method == "HEAD" else request
        try:
            if request.method in BODY_METHODS and not _streams_body(request, views):
                timeout = services.settings().ingest_read_timeout_s
                try:
                    await asyncio.wait_for(request.read(), timeout)
                except TimeoutError:
                    return web.json_response(
                        {
                            "error": {
                                "code": "read_timeout",
                                "message": f"body not received within {timeout:g} s",
                            }
                        },
                        status=408,
                        headers={"Connection": "close"},
                    )
            response = await handler(served)
        except web.HTTPMethodNotAllowed as exc:
            # aiohttp lists HEAD for every Faust view; only one that has GET really answers it
            raise web.HTTPMethodNotAllowed(
                request.method, _allowed(exc.allowed_methods), text=exc.text
            ) from None
        except HTTPException:
            raise
        except asyncio.CancelledError:
            raise
        except web_protocol.RequestPayloadError:
            return web.json_response(BAD_BODY, status=400)
        except Exception as exc:
            log.error(
                "%s %s failed: %s",
                request.method,
                request.match_info.route.resource and request.match_info.route.resource.canonical,
                type(exc).__name__,
            )
            return web.json_response(
                {"error": {"code": "internal_error", "message": "internal error"}}, status=500
            )
        if response.status == 405:
            resource = request.match_info.route.resource
            methods = {route.method for route in resource} if resource is not None else set()
            response.headers["Allow"] = ",".join(sorted(_allowed(methods)))
        if response.status == 401:
            delay = refusal_ledger().failed_auth(client_of(request))
            if delay > 0:
                await asyncio.sleep(delay)
        return response

    return guard


async def add_headers(request: web.Request, response: web.StreamResponse) -> None:
    """``on_response_prepare``: the headers every answer carries."""
    response.headers["Server"] = SERVER
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    kind = (response.content_type or "").lower()
    if kind == "application/json" or kind.startswith("text/plain"):
        response.headers.setdefault("Cache-Control", "no-store")


def install(aiohttp_app: web.Application, views: dict[str, Any]) -> None:
    """Put the guard in front of every view of ``aiohttp_app`` (before the server starts).

    Idempotent: Faust calls ``on_webserver_init`` more than once on a worker, and a guard
    installed three times counted each 401 three times and slept three times.
    """
    if aiohttp_app in _guarded:
        return
    _guarded.add(aiohttp_app)
    aiohttp_app.middlewares.insert(0, make_middleware(views))
    aiohttp_app.on_response_prepare.append(add_headers)
    current = web_protocol.RequestHandler.handle_error
    if not hasattr(current, "__wrapped__"):
        web_protocol.RequestHandler.handle_error = _quiet_handle_error(current)  # type: ignore[method-assign]
    server_log = logging.getLogger("aiohttp.server")
    if not any(isinstance(f, RateLimitedLines) for f in server_log.filters):
        server_log.addFilter(RateLimitedLines())
