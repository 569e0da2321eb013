"""``POST /api/mentions``: HTTP ingest for sources that push (connectors, partners, scripts).

The endpoint is a second front door to ``mentions.raw`` and sees the same hostile input as the
topic, so it reuses :mod:`pipeline.ingest.decoding` and adds what only HTTP needs, in the order a request
meets it (cheapest refusal first, nothing read that need not be)::

    bearer token (401) -> media type (415) -> Content-Length (400/413) -> bucket not empty (429)
    -> body read with a running size check and a timeout (413/408) -> line count (400/413)
    -> bucket holds one token per line (429 + Retry-After) -> decode each line -> produce

Contract:

* ``Content-Type: application/json`` carries one mention; ``application/x-ndjson`` (or
  ``application/jsonl``) carries one mention per line, blank lines ignored.
* Each client has its own token (``TOCSIN_INGEST_TOKENS="client:token,..."``), compared in
  constant time against every configured token, and its own token bucket counted in *mentions*
  (a batch of 500 costs 500), so one noisy client cannot starve the others.
* A request refused as a whole (auth, size, rate, media type) is answered with
  ``{"error": {"code", "message"}}`` and nothing from it is kept: the caller still holds the data.
* A request that was read gets one result per line, decided by the decoder and limits the ingest
  agent applies (:func:`pipeline.ingest.decoding.decode`), so a line answered "accepted" is never
  dead-lettered later. Valid lines go to ``mentions.raw`` unchanged (the ingest agent re-validates
  them like any other source), keyed by mention id like every front door (:mod:`pipeline.ingest.keys`).
  Invalid lines are answered with their reason code *and* written to ``mentions.dlq`` with the
  client and line number: partial batches are accepted, so the dead-letter topic is the one place
  that holds every rejected line, whatever the client does with the answer.
  Status: 202 all accepted, 207 some accepted, 422 none accepted.
* 202/207 are sent only after the broker acknowledged every record; if it does not within the
  timeout, 503 with ``Retry-After`` (some records may have been written: resending is at-least-once,
  like every other source of ``mentions.raw``).

Vendor pushes (``POST /api/ingest/{vendor}``, :mod:`pipeline.ingest.vendors`) authenticate their
own way and map the vendor's JSON to lines, then run :func:`deliver`, the second half of this
path, unchanged.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from pipeline.brands import BrandMatcher
from pipeline.errors import InvalidMention, TocsinError
from pipeline.ingest.decoding import Limits, brands_of, decode
from pipeline.ingest.keys import raw_key
from pipeline.metrics import TocsinMetrics
from pipeline.settings import Settings, parse_client_tokens
from pipeline.token_bucket import TokenBucket

PATH = "/api/mentions"
SINGLE_TYPES = frozenset({"application/json"})
BATCH_TYPES = frozenset({"application/x-ndjson", "application/jsonl", "application/ndjson"})
Clock = Callable[[], float]

log = logging.getLogger(__name__)


def _utcnow() -> datetime:
    return datetime.now(UTC)


class IngestRefused(TocsinError):
    """The request as a whole is refused; ``code`` is its stable reason, ``status`` the HTTP status."""

    def __init__(
        self, status: int, code: str, message: str, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})


@dataclass
class IngestGate:
    """Who may send (tokens), how much (limits) and how fast (one bucket per client)."""

    tokens: dict[str, bytes]
    max_body_bytes: int
    max_lines: int
    rate_per_s: float
    burst: int
    read_timeout_s: float
    #: What a line must meet: the ingest agent's own limits (else 202 "accepted", then a dead letter).
    limits: Limits
    clock: Clock = time.monotonic
    wall_clock: Callable[[], datetime] = field(default_factory=lambda: _utcnow)
    buckets: dict[str, TokenBucket] = field(default_factory=dict)

    @classmethod
    def from_settings(cls, cfg: Settings, clock: Clock = time.monotonic) -> IngestGate:
        clients = (
            parse_client_tokens(cfg.ingest_tokens.get_secret_value()) if cfg.ingest_tokens else {}
        )
        return cls(
            tokens={name: tok.get_secret_value().encode() for name, tok in clients.items()},
            max_body_bytes=cfg.ingest_max_body_bytes,
            max_lines=cfg.ingest_max_lines,
            rate_per_s=cfg.ingest_rate_per_s,
            burst=cfg.ingest_burst,
            read_timeout_s=cfg.ingest_read_timeout_s,
            limits=Limits.from_settings(cfg),
            clock=clock,
        )

    def identify(self, authorization: str) -> str:
        """The client a bearer header belongs to; every token is compared, in constant time."""
        if not self.tokens:
            raise IngestRefused(
                503, "ingest_disabled", "HTTP ingest is off: set TOCSIN_INGEST_TOKENS"
            )
        scheme, _, given = authorization.partition(" ")
        given_bytes = given.strip().encode()
        found: str | None = None
        for client, token in self.tokens.items():
            # No early exit: the time taken does not reveal which client, if any, matched.
            if hmac.compare_digest(given_bytes, token) and scheme.lower() == "bearer":
                found = client
        if found is None:
            raise IngestRefused(
                401,
                "unauthorized",
                "missing or invalid bearer token",
                {"WWW-Authenticate": 'Bearer realm="tocsin-ingest"'},
            )
        return found

    def bucket(self, client: str) -> TokenBucket:
        if client not in self.buckets:
            now = self.clock()
            self.buckets[client] = TokenBucket(self.burst, self.rate_per_s, self.burst, now)
        return self.buckets[client]

    def refuse_if_empty(self, client: str) -> None:
        """Before reading a body: a client with not even one token left is refused cheaply."""
        self._limit(self.bucket(client).wait_for(1, self.clock()))

    def charge(self, client: str, mentions: int) -> None:
        """Take one token per mention, or refuse the whole request with the time to wait."""
        self._limit(self.bucket(client).take(mentions, self.clock()))

    @staticmethod
    def _limit(wait: float) -> None:
        if wait > 0:
            seconds = max(1, math.ceil(wait))
            raise IngestRefused(
                429,
                "rate_limited",
                f"client rate limit exceeded; retry in {seconds} s",
                {"Retry-After": str(seconds)},
            )


@dataclass(frozen=True)
class LineResult:
    """What became of one line: accepted (with the key it was produced under) or rejected."""

    line: int
    accepted: bool
    id: str | None = None
    brand: str | None = None
    reason: str | None = None
    detail: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "line": self.line,
            "status": "accepted" if self.accepted else "rejected",
        }
        for name in ("id", "brand", "reason", "detail"):
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        return out


class Sink(Protocol):
    """Where read lines go; the worker's sink produces to Kafka, unit tests keep them in lists."""

    async def accept(self, key: bytes, payload: bytes) -> Awaitable[Any]: ...

    async def reject(
        self, payload: bytes, error: InvalidMention, *, client: str, line: int
    ) -> Awaitable[Any]: ...


@dataclass(frozen=True)
class Reply:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


def media_type(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


def declared_length(headers: Mapping[str, str], limit: int) -> int | None:
    """The Content-Length, refused before reading when malformed or over ``limit``."""
    raw = headers.get("Content-Length")
    if raw is None:
        return None  # chunked: the running count in read_body still applies
    if not raw.strip().isdigit():
        raise IngestRefused(400, "bad_content_length", "Content-Length is not a number")
    length = int(raw)
    if length > limit:
        raise IngestRefused(
            413, "body_too_large", f"body is {length} bytes, limit {limit}", {"Connection": "close"}
        )
    return length


async def read_body(chunks: AsyncIterator[bytes], limit: int) -> bytes:
    """Read at most ``limit`` bytes, whatever the headers claimed (a client may lie or chunk)."""
    parts: list[bytes] = []
    size = 0
    async for chunk in chunks:
        size += len(chunk)
        if size > limit:
            raise IngestRefused(
                413, "body_too_large", f"body exceeds {limit} bytes", {"Connection": "close"}
            )
        parts.append(chunk)
    return b"".join(parts)


def split_lines(body: bytes, kind: str) -> list[tuple[int, bytes]]:
    """(1-based line number, bytes) for each mention in the body; blank NDJSON lines are skipped."""
    if kind in SINGLE_TYPES:
        return [(1, body)] if body.strip() else []
    out = []
    for n, line in enumerate(body.split(b"\n"), start=1):
        line = line.rstrip(b"\r")
        if line.strip():
            out.append((n, line))
    return out


def route_key(payload: bytes, gate: IngestGate, matcher: BrandMatcher) -> tuple[bytes, LineResult]:
    """Validate one line; the key is the mention id (:func:`pipeline.ingest.keys.raw_key`)."""
    raw = decode(payload, gate.limits, gate.wall_clock())
    brands = brands_of(raw, matcher)
    brand = brands[0] if brands else None
    return raw_key(raw.id), LineResult(line=0, accepted=True, id=raw.id, brand=brand)


async def answer(run: Callable[[], Awaitable[Reply]], metrics: TocsinMetrics) -> Reply:
    """Run one ingest request (``POST /api/mentions`` or a vendor push) and count its outcome.

    A refusal becomes its ``{"error": ...}`` answer; anything else that escapes is a bug, counted
    like every other outcome, logged in one line without the body and answered without detail.
    """
    try:
        reply = await run()
    except IngestRefused as exc:
        metrics.ingest_requests.labels(exc.code).inc()
        return Reply(exc.status, {"error": {"code": exc.code, "message": exc.message}}, exc.headers)
    except Exception as exc:
        metrics.ingest_requests.labels("internal_error").inc()
        log.error("ingest request failed: %s", type(exc).__name__)
        return Reply(500, {"error": {"code": "internal_error", "message": "internal error"}})
    outcome = {200: "duplicate", 202: "accepted", 207: "partial", 422: "rejected"}[reply.status]
    metrics.ingest_requests.labels(outcome).inc()
    return reply


async def handle(
    *,
    gate: IngestGate,
    headers: Mapping[str, str],
    chunks: AsyncIterator[bytes],
    sink: Sink,
    matcher: BrandMatcher,
    metrics: TocsinMetrics,
    ack_timeout_s: float = 30.0,
) -> Reply:
    """Answer one ``POST /api/mentions``; every outcome is counted by ``tocsin_ingest_*``."""

    async def run() -> Reply:
        client = gate.identify(headers.get("Authorization", ""))
        kind = accepted_media_type(headers)
        declared_length(headers, gate.max_body_bytes)
        gate.refuse_if_empty(client)
        body = await read_within(gate, chunks)
        lines = [Line(n, payload) for n, payload in split_lines(body, kind)]
        return await deliver(gate, client, lines, sink, matcher, metrics, ack_timeout_s)

    return await answer(run, metrics)


def accepted_media_type(headers: Mapping[str, str]) -> str:
    """The request's media type: one JSON document, or NDJSON; anything else is refused (415)."""
    kind = media_type(headers.get("Content-Type", ""))
    if kind not in SINGLE_TYPES | BATCH_TYPES:
        raise IngestRefused(
            415,
            "unsupported_media_type",
            "send application/json (one document) or application/x-ndjson (one per line)",
        )
    return kind


async def read_within(gate: IngestGate, chunks: AsyncIterator[bytes]) -> bytes:
    """The body, read with the gate's size limit and timeout (413 / 408)."""
    try:
        return await asyncio.wait_for(read_body(chunks, gate.max_body_bytes), gate.read_timeout_s)
    except TimeoutError as exc:
        raise IngestRefused(
            408, "read_timeout", f"body not received within {gate.read_timeout_s:g} s"
        ) from exc


@dataclass(frozen=True)
class Line:
    """One mention as read: its number in the request and its bytes in the ``mentions.raw`` contract.

    ``refused`` is set when the front door already knows it cannot be a mention (a vendor item
    that does not map); it is dead-lettered with that reason without being decoded.
    """

    n: int
    payload: bytes
    refused: InvalidMention | None = None


async def deliver(
    gate: IngestGate,
    client: str,
    lines: list[Line],
    sink: Sink,
    matcher: BrandMatcher,
    metrics: TocsinMetrics,
    ack_timeout_s: float,
) -> Reply:
    """Decode each line, produce the valid ones and dead-letter the rest: the one path of every push.

    Refused as a whole when empty (400), over the batch limit (413) or over the client's bucket
    (429); else answered 202 / 207 / 422 once the broker acknowledged every record.
    """
    if not lines:
        raise IngestRefused(400, "empty_body", "no mention in the body")
    if len(lines) > gate.max_lines:
        raise IngestRefused(
            413, "too_many_lines", f"{len(lines)} mentions in one batch, limit {gate.max_lines}"
        )
    gate.charge(client, len(lines))

    # Decode everything first (pure, cannot fail except with InvalidMention), then produce.
    results: list[LineResult] = []
    outgoing: list[tuple[bytes, bytes | InvalidMention]] = []
    for line in lines:
        n, payload = line.n, line.payload
        try:
            if line.refused is not None:
                raise line.refused
            key, ok = route_key(payload, gate, matcher)
        except InvalidMention as exc:
            results.append(LineResult(n, False, reason=exc.reason, detail=exc.detail[:300]))
            outgoing.append((payload, exc))
            continue
        results.append(LineResult(n, True, id=ok.id, brand=ok.brand))
        outgoing.append((payload, key))
    try:
        pending: list[Awaitable[Any]] = []
        for result, (payload, target) in zip(results, outgoing, strict=True):
            if isinstance(target, InvalidMention):
                pending.append(await sink.reject(payload, target, client=client, line=result.line))
            else:
                pending.append(await sink.accept(target, payload))
        await asyncio.wait_for(asyncio.gather(*pending), ack_timeout_s)
    except Exception as exc:
        # Any producer failure means "not known to be stored": the client must resend.
        raise IngestRefused(
            503,
            "unavailable",
            f"the broker did not acknowledge the batch ({type(exc).__name__}); resend it",
            {"Retry-After": "5"},
        ) from exc
    for result in results:
        if result.reason is not None:
            metrics.dead_letters.labels(result.reason).inc()
    accepted = sum(r.accepted for r in results)
    rejected = len(results) - accepted
    metrics.ingest_mentions.labels("accepted").inc(accepted)
    metrics.ingest_mentions.labels("rejected").inc(rejected)
    status = 202 if rejected == 0 else 422 if accepted == 0 else 207
    return Reply(
        status,
        {
            "client": client,
            "accepted": accepted,
            "rejected": rejected,
            "results": [r.to_json() for r in results],
        },
    )
