"""The worker's ingest pages: ``POST /api/mentions`` (:mod:`pipeline.ingest.http`) and the vendor
pushes ``POST /api/ingest/{vendor}`` (:mod:`pipeline.ingest.vendors.push`), wired to Faust and Kafka.

Kept apart from the request logic so that logic is tested without a worker; this module only
adapts Faust's (aiohttp) request to it and produces to the real topics. The gates (tokens,
per-client buckets, vendor secrets and accepted signatures) are built on first use and kept in
``services.extra``, so ``services.reset()`` in tests starts afresh and nothing is created at
import time. A refused vendor push (401) is counted by the web guard's per-client ledger like
every 401 (slowed when repeated) and logged in one line while the ledger allows.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable
from typing import Any

from aiohttp.web_protocol import RequestPayloadError
from faust.web import Request, Response, View

from pipeline import services
from pipeline.app import app
from pipeline.errors import InvalidMention
from pipeline.ingest.dead_letters import dead_letter
from pipeline.ingest.http import PATH, IngestGate, IngestRefused, handle
from pipeline.ingest.vendors import push
from pipeline.topics import dead_letters, raw_mentions
from pipeline.web_guard import BAD_BODY, refusal_ledger

CHUNK_BYTES = 64 * 1024
SOURCE = f"http:{PATH}"

log = logging.getLogger(__name__)


def gate() -> IngestGate:
    return services.made_once(
        "ingest_gate", IngestGate, lambda: IngestGate.from_settings(services.settings())
    )


def vendor_gate() -> push.VendorGate:
    return services.made_once(
        "vendor_gate", push.VendorGate, lambda: push.VendorGate.from_settings(services.settings())
    )


class KafkaSink:
    """Produces accepted lines to ``mentions.raw`` and rejected ones to ``mentions.dlq``.

    Each method returns the producer's delivery future, so the caller can wait for the broker's
    acknowledgement of the whole batch at once rather than line by line. ``source`` names the
    front door on dead letters (``http:/api/mentions``, ``http:/api/ingest/meltwater``).
    """

    def __init__(self, source: str = SOURCE) -> None:
        self.source = source

    async def accept(self, key: bytes, payload: bytes) -> Awaitable[Any]:
        return await raw_mentions.send(key=key, value=payload)

    async def reject(
        self, payload: bytes, error: InvalidMention, *, client: str, line: int
    ) -> Awaitable[Any]:
        # For HTTP there is no source partition: -1 says so, and the offset is the line number.
        where = InvalidMention(error.reason, f"client {client}, line {line}: {error.detail}")
        letter = dead_letter(payload, where, topic=self.source, partition=-1, offset=line)
        return await dead_letters.send(value=letter)


async def _chunks(request: Request) -> AsyncIterator[bytes]:
    """The body in chunks; bytes aiohttp cannot decode (a ``Content-Encoding: gzip`` over bytes
    that are not gzip) or a body cut short are a 400 ``bad_body``, the web guard's answer."""
    stream = request.content  # type: ignore[attr-defined]  # aiohttp's StreamReader under Faust
    while True:
        try:
            chunk: bytes = await stream.read(CHUNK_BYTES)
        except RequestPayloadError:
            raise IngestRefused(
                400, BAD_BODY["error"]["code"], BAD_BODY["error"]["message"]
            ) from None
        if not chunk:
            return
        yield chunk


@app.page(PATH)
class MentionsIngestView(View):
    """One JSON mention or an NDJSON batch in; per-line results out (see pipeline.ingest.http)."""

    streams_body = True  # read in chunks under the gate's size and time limits, not by the guard

    async def post(self, request: Request) -> Response:
        reply = await handle(
            gate=gate(),
            headers=request.headers,
            chunks=_chunks(request),
            sink=KafkaSink(),
            matcher=services.matcher(),
            metrics=services.metrics(),
        )
        return self.json(reply.body, status=reply.status, headers=reply.headers)


@app.page(push.PATH)
class VendorIngestView(View):
    """A vendor's JSON in, mapped to mentions; per-item results out (pipeline.ingest.vendors)."""

    streams_body = True

    async def post(self, request: Request, vendor: str) -> Response:
        reply = await push.handle_vendor(
            vendor=vendor,
            gate=gate(),
            vendors=vendor_gate(),
            headers=request.headers,
            chunks=_chunks(request),
            sink=KafkaSink(f"http:/api/ingest/{vendor}"),
            matcher=services.matcher(),
            metrics=services.metrics(),
        )
        if reply.status == 401:
            code = str(reply.body["error"]["code"])
            remote = str(getattr(request, "remote", None) or "-")
            if refusal_ledger().refused(remote, code):
                log.warning("vendor push to %s refused from %s: %s", vendor, remote, code)
        return self.json(reply.body, status=reply.status, headers=reply.headers)
