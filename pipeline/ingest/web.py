"""The worker's ``POST /api/mentions`` page: :mod:`pipeline.ingest.http` wired to Faust and Kafka.

Kept apart from the request logic so that logic is tested without a worker; this module only
adapts Faust's (aiohttp) request to it and produces to the real topics. The gate (tokens and
per-client buckets) is built on first use and kept in ``services.extra``, so ``services.reset()``
in tests starts from full buckets and nothing is created at import time.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable
from typing import Any

from faust.web import Request, Response, View

from pipeline import services
from pipeline.app import app
from pipeline.errors import InvalidMention
from pipeline.ingest.dead_letters import dead_letter
from pipeline.ingest.http import PATH, IngestGate, handle
from pipeline.topics import dead_letters, raw_mentions

CHUNK_BYTES = 64 * 1024
SOURCE = f"http:{PATH}"


def gate() -> IngestGate:
    found = services.extra().get("ingest_gate")
    if not isinstance(found, IngestGate):
        found = IngestGate.from_settings(services.settings())
        services.extra()["ingest_gate"] = found
    return found


class KafkaSink:
    """Produces accepted lines to ``mentions.raw`` and rejected ones to ``mentions.dlq``.

    Each method returns the producer's delivery future, so the caller can wait for the broker's
    acknowledgement of the whole batch at once rather than line by line.
    """

    async def accept(self, key: bytes, payload: bytes) -> Awaitable[Any]:
        return await raw_mentions.send(key=key, value=payload)

    async def reject(
        self, payload: bytes, error: InvalidMention, *, client: str, line: int
    ) -> Awaitable[Any]:
        # For HTTP there is no source partition: -1 says so, and the offset is the line number.
        where = InvalidMention(error.reason, f"client {client}, line {line}: {error.detail}")
        letter = dead_letter(payload, where, topic=SOURCE, partition=-1, offset=line)
        return await dead_letters.send(value=letter)


async def _chunks(request: Request) -> AsyncIterator[bytes]:
    stream = request.content  # type: ignore[attr-defined]  # aiohttp's StreamReader under Faust
    while True:
        chunk: bytes = await stream.read(CHUNK_BYTES)
        if not chunk:
            return
        yield chunk


@app.page(PATH)
class MentionsIngestView(View):
    """One JSON mention or an NDJSON batch in; per-line results out (see pipeline.ingest.http)."""

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
