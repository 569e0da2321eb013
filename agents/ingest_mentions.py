"""ingest_mentions: untrusted bytes on ``mentions.raw`` -> valid ``Mention`` on ``mentions``.

Bad input never stops the agent and is never dropped: it goes whole to ``mentions.dlq`` with a
reason code, its source partition and offset, and is counted by reason. Valid mentions that name no
tracked brand are filtered (counted, not dead-lettered): they are noise, not errors.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from faust.types import StreamT

from pipeline import services
from pipeline.app import app
from pipeline.errors import InvalidMention
from pipeline.ingest.dead_letters import dead_letter
from pipeline.ingest.decoding import decode_raw, to_mention
from pipeline.records import Mention
from pipeline.topics import dead_letters, mentions, raw_mentions

AGENT = "ingest_mentions"


def decode(payload: bytes) -> Mention | None:
    """Decode one payload; ``None`` when valid but about no tracked brand."""
    cfg = services.settings()
    raw = decode_raw(
        payload,
        max_bytes=cfg.max_payload_bytes,
        max_text_chars=cfg.max_text_chars,
        not_after=datetime.now(UTC) + timedelta(seconds=cfg.max_future_s),
    )
    return to_mention(raw, services.matcher())


@app.agent(raw_mentions, name=AGENT)
async def ingest_mentions(stream: StreamT[bytes]) -> None:
    metrics = services.metrics()
    async for event in stream.events():
        metrics.messages_in.labels(AGENT).inc()
        payload = event.value
        if not isinstance(payload, bytes | bytearray):
            payload = str(payload).encode("utf-8")
        try:
            mention = decode(bytes(payload))
        except InvalidMention as exc:
            message = event.message
            await dead_letters.send(
                value=dead_letter(
                    bytes(payload),
                    exc,
                    topic=message.topic,
                    partition=message.partition,
                    offset=message.offset,
                )
            )
            metrics.dead_letters.labels(exc.reason).inc()
            continue
        if mention is None:
            metrics.filtered.labels("no_brand").inc()
            continue
        mention.raw_partition = event.message.partition
        mention.raw_offset = event.message.offset
        await mentions.send(key=mention.brand, value=mention)
        metrics.messages_out.labels(AGENT).inc()
