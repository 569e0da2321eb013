"""Real HTTP servers on 127.0.0.1 that stand in for the outside alerting APIs in tests.

Each fake listens on a free loopback port (a ``ThreadingHTTPServer`` in a daemon thread, so it
does not share the test's event loop and a slow answer never blocks the client under test),
checks what it receives against the API's documented request shape and auth, keeps the state the
real service keeps (PagerDuty incidents by ``dedup_key``, Opsgenie alerts by alias, Alertmanager
alerts by label set, Slack messages by ``ts``) and records every request. A script of
:class:`Fault` s answers the first calls with a 429 + ``Retry-After``, a 5xx, or a late answer
that makes the client time out -- optionally *after* processing the request, which is the case a
dedup key exists for: the service acted, the caller never heard.

Validation problems are answered the way the real API answers them *and* kept in ``problems``, so
a test can assert that a receiver never sent anything the real service would refuse.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qs, unquote, urlsplit

from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import Block

Response = tuple[int, dict[str, str], bytes]


@dataclass(frozen=True)
class Fault:
    """A scripted answer for one call instead of (or after) the normal handling."""

    status: int = 500
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    delay: float = 0.0
    process: bool = False  # handle the request for real first, then answer with this fault

    @classmethod
    def rate_limited(cls, retry_after: str = "1", body: bytes = b"") -> Fault:
        return cls(429, {"Retry-After": retry_after}, body)

    @classmethod
    def error(cls, status: int = 500) -> Fault:
        return cls(status, {}, b'{"message": "scripted failure"}')

    @classmethod
    def slow(cls, delay: float) -> Fault:
        """Handle the request normally but answer only after ``delay`` seconds."""
        return cls(0, {}, b"", delay=delay, process=True)

    @classmethod
    def timeout(cls, delay: float, *, process: bool = False) -> Fault:
        """Answer only after ``delay`` seconds (longer than the client's timeout)."""
        return cls(504, {}, b"", delay=delay, process=process)


@dataclass
class Seen:
    """One request as the server received it (header names lower-cased)."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    at: float
    status: int = 0

    def json(self) -> Any:
        return json.loads(self.body)


class Invalid(Exception):
    """The request breaks the API's documented rules; ``response`` is what the API would answer."""

    def __init__(self, problem: str, response: Response) -> None:
        super().__init__(problem)
        self.problem = problem
        self.response = response


def json_response(status: int, obj: Any, headers: dict[str, str] | None = None) -> Response:
    return status, {"Content-Type": "application/json", **(headers or {})}, json.dumps(obj).encode()


def is_rfc3339(value: Any) -> bool:
    if not isinstance(value, str) or "T" not in value:
        return False
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return parsed.tzinfo is not None


class FakeAPI:
    """Base class: server lifecycle, fault script and request log. Subclasses implement ``handle``."""

    def __init__(self) -> None:
        self.requests: list[Seen] = []
        self.problems: list[str] = []
        self._faults: list[Fault] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -----------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        assert self._server is not None, "start() the fake first"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> Self:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                fake._serve(self)

            do_GET = do_POST

            def log_message(self, format: str, *args: Any) -> None:
                return None  # keep test output (and caplog) free of access lines

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request: Any, client_address: Any) -> None:
                return None  # a client that timed out and hung up is expected here

        self._server = Server(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- scripting -----------------------------------------------------------------------------
    def script(self, *faults: Fault) -> None:
        """Answer the next ``len(faults)`` calls with these faults, in order."""
        with self._lock:
            self._faults.extend(faults)

    # -- serving -------------------------------------------------------------------------------
    def _serve(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        parts = urlsplit(handler.path)
        seen = Seen(
            method=handler.command,
            path=unquote(parts.path),
            query=parse_qs(parts.query),
            headers={k.lower(): v for k, v in handler.headers.items()},
            body=body,
            at=time.monotonic(),
        )
        with self._lock:
            self.requests.append(seen)
            fault = self._faults.pop(0) if self._faults else None
        if fault is None or fault.process:
            result = self._handle_safely(seen)
        if fault is not None:
            if fault.delay:
                self._stopping.wait(fault.delay)
            if fault.status:  # status 0: a slow fault that keeps the real answer
                result = (fault.status, fault.headers, fault.body)
        seen.status = result[0]
        status, headers, payload = result
        try:
            handler.send_response(status)
            for key, value in headers.items():
                handler.send_header(key, value)
            handler.send_header("Content-Length", str(len(payload)))
            handler.end_headers()
            handler.wfile.write(payload)
        except OSError:
            return  # the client gave up (timeout): exactly what a timeout fault simulates

    def _handle_safely(self, seen: Seen) -> Response:
        try:
            with self._lock:
                return self.handle(seen)
        except Invalid as exc:
            with self._lock:
                self.problems.append(exc.problem)
            return exc.response

    def handle(self, seen: Seen) -> Response:
        raise NotImplementedError

    @staticmethod
    def parse_json(seen: Seen, bad: Response) -> Any:
        if not seen.headers.get("content-type", "").startswith("application/json"):
            raise Invalid("content-type is not application/json", bad)
        try:
            return seen.json()
        except ValueError as exc:
            raise Invalid(f"body is not JSON: {exc}", bad) from exc


def _require(condition: bool, problem: str, response: Response) -> None:
    if not condition:
        raise Invalid(problem, response)


# ---------------------------------------------------------------------------------------------
class PagerDutyFake(FakeAPI):
    """Events API v2 ``POST /v2/enqueue``; one incident per open ``dedup_key``."""

    SEVERITIES = frozenset({"critical", "error", "warning", "info"})
    ACTIONS = frozenset({"trigger", "acknowledge", "resolve"})
    TOP_KEYS = frozenset(
        {
            "routing_key",
            "event_action",
            "dedup_key",
            "payload",
            "links",
            "images",
            "client",
            "client_url",
        }
    )
    PAYLOAD_KEYS = frozenset(
        {
            "summary",
            "source",
            "severity",
            "timestamp",
            "component",
            "group",
            "class",
            "custom_details",
        }
    )

    def __init__(self, routing_key: str) -> None:
        super().__init__()
        self.routing_key = routing_key
        self.incidents: list[dict[str, Any]] = []
        self._open: dict[str, dict[str, Any]] = {}

    def handle(self, seen: Seen) -> Response:
        if seen.method != "POST" or seen.path != "/v2/enqueue":
            return json_response(404, {"status": "not found"})

        def bad(why: str) -> Response:
            return json_response(
                400,
                {"status": "invalid event", "message": "Event object is invalid", "errors": [why]},
            )

        event = self.parse_json(seen, bad("body is not JSON"))
        _require(isinstance(event, dict), "event is not an object", bad("not an object"))
        unknown = set(event) - self.TOP_KEYS
        _require(not unknown, f"unknown fields {sorted(unknown)}", bad("unknown fields"))
        key = event.get("routing_key")
        _require(
            isinstance(key, str) and len(key) == 32,
            "routing_key malformed",
            bad("'routing_key' is invalid"),
        )
        _require(key == self.routing_key, "routing_key unknown", bad("'routing_key' is invalid"))
        action = event.get("event_action")
        _require(action in self.ACTIONS, f"event_action {action!r}", bad("'event_action' invalid"))
        dedup = event.get("dedup_key")
        if action != "trigger" or dedup is not None:
            _require(
                isinstance(dedup, str) and 0 < len(dedup) <= 255,
                "dedup_key malformed",
                bad("'dedup_key' is invalid"),
            )
        if action == "trigger":
            payload = event.get("payload")
            _require(isinstance(payload, dict), "payload missing", bad("'payload' is missing"))
            unknown = set(payload) - self.PAYLOAD_KEYS
            _require(not unknown, f"unknown payload fields {sorted(unknown)}", bad("payload"))
            summary = payload.get("summary")
            _require(
                isinstance(summary, str) and 0 < len(summary) <= 1024,
                "summary missing or over 1024 chars",
                bad("'payload.summary' is invalid"),
            )
            source = payload.get("source")
            _require(
                isinstance(source, str) and bool(source),
                "source missing",
                bad("'payload.source' is missing"),
            )
            _require(
                payload.get("severity") in self.SEVERITIES,
                "severity not in enum",
                bad("'payload.severity' is invalid"),
            )
            if "timestamp" in payload:
                _require(
                    is_rfc3339(payload["timestamp"]),
                    "timestamp not ISO 8601",
                    bad("'payload.timestamp' is invalid"),
                )
            if "custom_details" in payload:
                _require(
                    isinstance(payload["custom_details"], dict),
                    "custom_details not object",
                    bad("'payload.custom_details' is invalid"),
                )
            for link in event.get("links", []):
                _require(
                    isinstance(link, dict) and isinstance(link.get("href"), str),
                    "link without href",
                    bad("'links' is invalid"),
                )
            dedup = dedup or uuid.uuid4().hex
            incident = self._open.get(dedup)
            if incident is None:
                incident = {
                    "dedup_key": dedup,
                    "status": "triggered",
                    "events": 0,
                    "summary": summary,
                }
                self.incidents.append(incident)
                self._open[dedup] = incident
            incident["events"] += 1
        else:
            incident = self._open.get(dedup)
            if incident is not None:  # PagerDuty accepts and drops events for no open incident
                incident["events"] += 1
                incident["status"] = "acknowledged" if action == "acknowledge" else "resolved"
                if action == "resolve":
                    del self._open[dedup]
        return json_response(
            202, {"status": "success", "message": "Event processed", "dedup_key": dedup}
        )


# ---------------------------------------------------------------------------------------------
class OpsgenieFake(FakeAPI):
    """Alert API: create (de-duplicated on alias while open), acknowledge and close by alias."""

    PRIORITIES = frozenset({"P1", "P2", "P3", "P4", "P5"})
    CREATE_KEYS = frozenset(
        {
            "message",
            "alias",
            "description",
            "responders",
            "visibleTo",
            "actions",
            "tags",
            "details",
            "entity",
            "source",
            "priority",
            "user",
            "note",
        }
    )
    ACTION_PATH = re.compile(r"^/v2/alerts/(?P<ident>[^/]+)/(?P<action>acknowledge|close)$")

    def __init__(self, api_key: str) -> None:
        super().__init__()
        self.api_key = api_key
        self.alerts: list[dict[str, Any]] = []
        self._open: dict[str, dict[str, Any]] = {}

    @staticmethod
    def _reply(status: int, message: str) -> Response:
        return json_response(
            status, {"message": message, "took": 0.001, "requestId": str(uuid.uuid4())}
        )

    def handle(self, seen: Seen) -> Response:
        unprocessable = self._reply(422, "Request body is not processable")
        if seen.headers.get("authorization") != f"GenieKey {self.api_key}":
            raise Invalid("missing or wrong GenieKey", self._reply(401, "Could not authenticate"))
        if seen.method == "POST" and seen.path == "/v2/alerts":
            body = self.parse_json(seen, unprocessable)
            _require(isinstance(body, dict), "body not an object", unprocessable)
            unknown = set(body) - self.CREATE_KEYS
            _require(not unknown, f"unknown fields {sorted(unknown)}", unprocessable)
            message = body.get("message")
            _require(
                isinstance(message, str) and 0 < len(message) <= 130,
                "message missing or over 130 chars",
                unprocessable,
            )
            alias = body.get("alias")
            _require(
                isinstance(alias, str) and 0 < len(alias) <= 512, "alias malformed", unprocessable
            )
            _require(
                len(body.get("description", "")) <= 15000, "description too long", unprocessable
            )
            tags = body.get("tags", [])
            _require(
                isinstance(tags, list)
                and len(tags) <= 20
                and all(isinstance(t, str) and len(t) <= 50 for t in tags),
                "tags malformed",
                unprocessable,
            )
            details = body.get("details", {})
            _require(
                isinstance(details, dict) and all(isinstance(v, str) for v in details.values()),
                "details must map strings to strings",
                unprocessable,
            )
            _require(
                body.get("priority", "P3") in self.PRIORITIES, "priority not P1-P5", unprocessable
            )
            for name, limit in (("entity", 512), ("source", 100), ("user", 100)):
                if name in body:
                    _require(
                        isinstance(body[name], str) and len(body[name]) <= limit,
                        f"{name} malformed",
                        unprocessable,
                    )
            alert = self._open.get(alias)
            if alert is None:
                alert = {
                    "alias": alias,
                    "message": message,
                    "status": "open",
                    "acknowledged": False,
                    "count": 0,
                    "priority": body.get("priority"),
                }
                self.alerts.append(alert)
                self._open[alias] = alert
            alert["count"] += 1
            return self._reply(202, "Request will be processed")
        match = self.ACTION_PATH.match(seen.path)
        if seen.method == "POST" and match:
            _require(
                seen.query.get("identifierType") == ["alias"],
                "identifierType=alias missing (the id would be looked up instead)",
                self._reply(404, "Alert does not exist"),
            )
            if seen.body:
                body = self.parse_json(seen, unprocessable)
                _require(isinstance(body, dict), "body not an object", unprocessable)
                for name, limit in (("user", 100), ("source", 100), ("note", 25000)):
                    if name in body:
                        _require(
                            isinstance(body[name], str) and len(body[name]) <= limit,
                            f"{name} malformed",
                            unprocessable,
                        )
            alert = self._open.get(match["ident"])
            if alert is not None:  # processed asynchronously: unknown aliases fail later, not here
                if match["action"] == "acknowledge":
                    alert["acknowledged"] = True
                else:
                    alert["status"] = "closed"
                    del self._open[match["ident"]]
            return self._reply(202, "Request will be processed")
        return self._reply(404, "not found")


# ---------------------------------------------------------------------------------------------
class TeamsFake(FakeAPI):
    """A Workflows webhook: ``sig`` in the query string, a message with one Adaptive Card."""

    PATH = "/workflows/0a1b2c/triggers/manual/paths/invoke"

    def __init__(self, sig: str) -> None:
        super().__init__()
        self.sig = sig
        self.cards: list[dict[str, Any]] = []

    @property
    def workflow_url(self) -> str:
        return (
            f"{self.base_url}{self.PATH}?api-version=1&sp=%2Ftriggers%2Fmanual%2Frun&sig={self.sig}"
        )

    def handle(self, seen: Seen) -> Response:
        bad = json_response(400, {"error": {"code": "InvalidRequestContent"}})
        if seen.method != "POST" or seen.path != self.PATH:
            return json_response(404, {"error": {"code": "NotFound"}})
        if seen.query.get("sig") != [self.sig]:
            raise Invalid(
                "sig missing or wrong",
                json_response(401, {"error": {"code": "DirectApiAuthorizationRequired"}}),
            )
        body = self.parse_json(seen, bad)
        _require(isinstance(body, dict) and body.get("type") == "message", "type != message", bad)
        attachments = body.get("attachments")
        _require(isinstance(attachments, list) and len(attachments) >= 1, "no attachments", bad)
        for attachment in attachments:
            _require(
                attachment.get("contentType") == "application/vnd.microsoft.card.adaptive",
                "attachment is not an adaptive card",
                bad,
            )
            card = attachment.get("content")
            _require(
                isinstance(card, dict) and card.get("type") == "AdaptiveCard",
                "content.type != AdaptiveCard",
                bad,
            )
            _require(
                isinstance(card.get("version"), str)
                and re.fullmatch(r"1\.[0-6]", card["version"]) is not None,
                "card version not 1.0-1.6",
                bad,
            )
            elements = card.get("body")
            _require(isinstance(elements, list) and len(elements) > 0, "card body empty", bad)
            for element in elements:
                kind = element.get("type") if isinstance(element, dict) else None
                _require(
                    kind in {"TextBlock", "FactSet", "ColumnSet", "Container", "Image"},
                    f"unknown element {kind!r}",
                    bad,
                )
                if kind == "TextBlock":
                    _require(isinstance(element.get("text"), str), "TextBlock without text", bad)
                if kind == "FactSet":
                    _require(
                        all(
                            isinstance(f.get("title"), str) and isinstance(f.get("value"), str)
                            for f in element.get("facts", [])
                        ),
                        "fact not title/value",
                        bad,
                    )
            for action in card.get("actions", []):
                if action.get("type") == "Action.OpenUrl":
                    _require(isinstance(action.get("url"), str), "OpenUrl without url", bad)
            self.cards.append(card)
        return 202, {}, b""


# ---------------------------------------------------------------------------------------------
class AlertmanagerFake(FakeAPI):
    """Alertmanager API v2 ``POST /api/v2/alerts``; alerts identified by their label set."""

    LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
    KEYS = frozenset({"labels", "annotations", "startsAt", "endsAt", "generatorURL"})

    def __init__(self) -> None:
        super().__init__()
        self.alerts: dict[tuple[tuple[str, str], ...], dict[str, Any]] = {}

    def handle(self, seen: Seen) -> Response:
        def bad(why: str) -> Response:
            return json_response(400, why)

        if seen.method != "POST" or seen.path != "/api/v2/alerts":
            return 404, {}, b"404 page not found"
        body = self.parse_json(seen, bad("parsing alerts body failed"))
        _require(
            isinstance(body, list) and len(body) > 0,
            "body not a non-empty list",
            bad("alerts must be a list"),
        )
        for item in body:
            _require(isinstance(item, dict), "alert not an object", bad("alert not an object"))
            unknown = set(item) - self.KEYS
            _require(not unknown, f"unknown fields {sorted(unknown)}", bad("unknown field"))
            labels = item.get("labels")
            _require(
                isinstance(labels, dict) and len(labels) > 0,
                "labels missing",
                bad("labels in body is required"),
            )
            for name, value in labels.items():
                _require(
                    bool(self.LABEL_NAME.match(name)),
                    f"invalid label name {name!r}",
                    bad(f"invalid label name {name!r}"),
                )
                _require(
                    isinstance(value, str) and value != "",
                    f"label {name} not a string",
                    bad(f"invalid label value for {name}"),
                )
            annotations = item.get("annotations", {})
            _require(
                isinstance(annotations, dict)
                and all(isinstance(v, str) for v in annotations.values()),
                "annotations must map strings to strings",
                bad("invalid annotations"),
            )
            for name in ("startsAt", "endsAt"):
                if name in item:
                    _require(
                        is_rfc3339(item[name]),
                        f"{name} not RFC 3339",
                        bad(f"{name} in body must be of type date-time"),
                    )
            if "generatorURL" in item:
                _require(
                    urlsplit(item["generatorURL"]).scheme in ("http", "https"),
                    "generatorURL not a URI",
                    bad("generatorURL must be of type uri"),
                )
        for item in body:
            fingerprint = tuple(sorted(item["labels"].items()))
            current = self.alerts.setdefault(fingerprint, {"updates": 0})
            current["updates"] += 1
            current.update(
                annotations=item.get("annotations", {}),
                startsAt=item.get("startsAt"),
                endsAt=item.get("endsAt"),
            )
        return 200, {}, b""

    @staticmethod
    def is_resolved(alert: dict[str, Any], now: datetime) -> bool:
        ends = alert.get("endsAt")
        return ends is not None and datetime.fromisoformat(ends.replace("Z", "+00:00")) <= now


# ---------------------------------------------------------------------------------------------
class WebhookFake(FakeAPI):
    """A consumer of the signed generic webhook, de-duplicating on the idempotency key.

    The HMAC check is written out here on purpose instead of calling the receiver module's
    ``verify_signature``, so a mistake shared by signer and verifier cannot pass unnoticed.
    """

    PATH = "/hooks/tocsin"

    def __init__(self, secret: bytes, *, tolerance_s: float = 300.0) -> None:
        super().__init__()
        self.secret = secret
        self.tolerance_s = tolerance_s
        self.accepted: dict[str, dict[str, Any]] = {}
        self.duplicates = 0

    def handle(self, seen: Seen) -> Response:
        if seen.method != "POST" or seen.path != self.PATH:
            return 404, {}, b"not found"
        unauthorised: Response = (401, {}, b"bad signature")
        stamp = seen.headers.get("x-tocsin-timestamp", "")
        _require(stamp.isdigit(), "timestamp header missing", unauthorised)
        _require(
            abs(time.time() - int(stamp)) <= self.tolerance_s,
            "timestamp outside window",
            unauthorised,
        )
        expected = (
            "v1="
            + hmac.new(self.secret, stamp.encode() + b"." + seen.body, hashlib.sha256).hexdigest()
        )
        _require(
            hmac.compare_digest(expected, seen.headers.get("x-tocsin-signature", "")),
            "signature mismatch",
            unauthorised,
        )
        body = self.parse_json(seen, (400, {}, b"bad json"))
        key = seen.headers.get("x-tocsin-idempotency-key")
        _require(
            bool(key) and key == body.get("idempotency_key"),
            "idempotency key header missing or differs from body",
            (400, {}, b"bad key"),
        )
        assert key is not None
        if key in self.accepted:
            self.duplicates += 1
        else:
            self.accepted[key] = body["alert"]
        return 200, {}, b"ok"


# ---------------------------------------------------------------------------------------------
def _slack_sdk_problem(block: dict[str, Any]) -> str | None:
    """What slack-sdk's Block Kit models say about one block (None if they accept it).

    ``Block.parse`` returns None for a block type Slack does not know; ``to_dict`` runs every
    model's validators recursively (text lengths, required fields, element limits). Fields the
    models do not know are dropped by the round trip, and Slack refuses unknown fields too.
    """
    try:
        parsed = Block.parse(block)
    except (TypeError, ValueError, SlackObjectFormationError) as exc:
        # the models' constructors take required fields as keyword-only arguments
        return f"slack-sdk: {type(exc).__name__}: {exc}"
    if parsed is None:
        return f"unknown block type {block.get('type')!r:.40}"
    try:
        again = parsed.to_dict()
    except SlackObjectFormationError as exc:
        return f"slack-sdk: {exc}"
    unknown = sorted(set(block) - set(again))
    if unknown:
        return f"unknown block fields {unknown}"
    return None


def slack_blocks_problem(blocks: Any) -> str | None:
    """The first Block Kit rule ``blocks`` breaks, or None.

    The per-block rules are slack-sdk's own models (``slack_sdk.models.blocks``); the few rules
    those models leave out (message-level count, empty context, repeated ``action_id``) are
    checked here as Slack documents them.
    """
    if not isinstance(blocks, list) or not 0 < len(blocks) <= 50:
        return "blocks must be a list of 1-50"
    action_ids: list[Any] = []
    for block in blocks:
        if not isinstance(block, dict):
            return f"block is not an object: {block!r:.60}"
        problem = _slack_sdk_problem(block)
        if problem:
            return problem
        elements = block.get("elements")
        if block["type"] == "context" and not (isinstance(elements, list) and len(elements) > 0):
            return "context needs 1-10 elements"
        if block["type"] == "actions":
            if not (isinstance(elements, list) and len(elements) > 0):
                return "actions needs 1-25 elements"
            action_ids += [e.get("action_id") for e in elements if isinstance(e, dict)]
    named = [a for a in action_ids if a is not None]
    if len(named) != len(set(named)):
        return "action_id repeated in one message"
    return None


class SlackApiFake(FakeAPI):
    """Web API ``chat.postMessage`` / ``chat.update``: HTTP 200 with ``ok`` true or false."""

    def __init__(self, token: str, channels: tuple[str, ...] = ("C0TOCSIN01",)) -> None:
        super().__init__()
        self.token = token
        self.channels = channels
        self.messages: dict[str, dict[str, Any]] = {}
        self._ts = itertools.count(1)

    def handle(self, seen: Seen) -> Response:
        def fail(error: str) -> Response:
            return json_response(200, {"ok": False, "error": error})

        method = seen.path.removeprefix("/api/")
        if seen.method != "POST" or method not in ("chat.postMessage", "chat.update"):
            return fail("unknown_method")
        auth = seen.headers.get("authorization")
        _require(auth is not None, "no Authorization header", fail("not_authed"))
        _require(auth == f"Bearer {self.token}", "wrong token", fail("invalid_auth"))
        body = self.parse_json(seen, fail("invalid_json"))
        _require(isinstance(body, dict), "body not an object", fail("invalid_json"))
        channel = body.get("channel")
        _require(channel in self.channels, f"channel {channel!r}", fail("channel_not_found"))
        text, blocks = body.get("text"), body.get("blocks")
        _require(bool(text) or bool(blocks), "neither text nor blocks", fail("no_text"))
        _require(
            text is None or (isinstance(text, str) and len(text) <= 40000),
            "text too long",
            fail("msg_too_long"),
        )
        if blocks is not None:
            problem = slack_blocks_problem(blocks)
            _require(problem is None, f"blocks: {problem}", fail("invalid_blocks"))
        if method == "chat.postMessage":
            ts = f"1763800000.{next(self._ts):06d}"
            self.messages[ts] = {"channel": channel, "text": text, "blocks": blocks, "updates": 0}
        else:
            ts = body.get("ts")
            message = self.messages.get(ts) if isinstance(ts, str) else None
            _require(
                message is not None and message["channel"] == channel,
                "update of an unknown ts",
                fail("message_not_found"),
            )
            assert message is not None
            message.update(text=text, blocks=blocks, updates=message["updates"] + 1)
        return json_response(200, {"ok": True, "channel": channel, "ts": ts})


class SlackWebhookFake(FakeAPI):
    """An incoming webhook: the token is the URL path; answers ``ok`` or an error string."""

    def __init__(self, token_path: str) -> None:
        super().__init__()
        self.path = f"/services/T0TOCSIN/B0TOCSIN/{token_path}"
        self.messages: list[dict[str, Any]] = []

    @property
    def webhook_url(self) -> str:
        return f"{self.base_url}{self.path}"

    def handle(self, seen: Seen) -> Response:
        if seen.method != "POST" or seen.path != self.path:
            raise Invalid("unknown webhook path", (404, {}, b"no_service"))
        body = self.parse_json(seen, (400, {}, b"invalid_payload"))
        _require(
            isinstance(body, dict) and (bool(body.get("text")) or bool(body.get("blocks"))),
            "neither text nor blocks",
            (400, {}, b"no_text"),
        )
        if "blocks" in body:
            problem = slack_blocks_problem(body["blocks"])
            _require(problem is None, f"blocks: {problem}", (400, {}, b"invalid_blocks"))
        self.messages.append(body)
        return 200, {"Content-Type": "text/html"}, b"ok"
