"""ingest_mentions: untrusted bytes on ``mentions.raw`` -> valid ``Mention`` on ``mentions``.

Bad input never stops the agent and is never dropped: it goes whole to ``mentions.dlq`` with a
reason code, its source partition and offset, and is counted by reason. Valid mentions that name no
tracked brand are filtered (counted, not dead-lettered): they are noise, not errors. So is a copy
of a mention whose id was accepted already at an earlier offset (``duplicate``,
:mod:`pipeline.ingest.dedup`). The decoding is :func:`pipeline.ingest.intake.intake`, the same rule
HTTP ingest applies; authors leave it
pseudonymised (:mod:`pipeline.ingest.pseudonyms`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from faust.types import StreamT

from pipeline import services
from pipeline.app import app
from pipeline.ingest import pseudonyms
from pipeline.ingest.decoding import Limits
from pipeline.ingest.dedup import IdMemory, Verdict, arrival, rebalanced
from pipeline.ingest.intake import intake
from pipeline.records import DeadLetter
from pipeline.tables import mention_ids
from pipeline.topics import dead_letters, mentions, raw_mentions

AGENT = "ingest_mentions"


def arrived(timestamp: float | None) -> datetime | None:
    """The raw record's broker timestamp (seconds) as the time the mention reached Tocsin."""
    return datetime.fromtimestamp(timestamp, UTC) if timestamp and timestamp > 0 else None


@app.on_partitions_revoked.connect
async def forget_id_order(sender: Any, /, *args: Any, **kwargs: Any) -> None:
    """After a rebalance another worker may have changed a partition's remembered ids."""
    rebalanced()


@app.agent(raw_mentions, name=AGENT)
async def ingest_mentions(stream: StreamT[bytes]) -> None:
    metrics = services.metrics()
    cfg = services.settings().ingest
    memory = IdMemory(
        mention_ids,
        cfg.dedup_horizon_s,
        cfg.dedup_max_ids,
        on_forget=lambda reason: metrics.dedup_forgotten.labels(reason).inc(),
    )
    async for event in stream.events():
        metrics.messages_in.labels(AGENT).inc()
        message = event.message
        result = intake(
            event.value,
            topic=message.topic,
            partition=message.partition,
            offset=message.offset,
            limits=Limits.from_settings(services.settings()),
            matcher=services.matcher(),
            pseudonyms=pseudonyms.configured(),
            received_at=arrived(message.timestamp),
        )
        if isinstance(result, DeadLetter):
            await dead_letters.send(value=result)
            metrics.dead_letters.labels(result.reason).inc()
        elif result is None:
            metrics.filtered.labels("no_brand").inc()
        elif (
            memory.check(result.id, message.partition, message.offset, arrival(message.timestamp))
            is Verdict.DUPLICATE
        ):
            metrics.filtered.labels("duplicate").inc()
        else:
            await mentions.send(key=result.brand, value=result)
            metrics.messages_out.labels(AGENT).inc()
