"""classify_mentions: ``mentions`` -> ``mentions.classified``, in batches, off the event loop.

Batches come from ``stream.take(n, within=t)`` (without ``within`` a quiet stream would stall a
half-full batch forever). Each batch goes through :class:`models.batching.BatchClassifier`
(reposts from a bounded cache, the rest on the model threads), whose records are sent as they
come, so offsets are acknowledged only after every record of the batch is sent.
"""

from __future__ import annotations

from faust.types import StreamT

from models.batching import BatchClassifier
from models.classifier import Prediction
from models.textcache import LRUCache
from pipeline import services
from pipeline.app import app
from pipeline.records import Mention
from pipeline.topics import classified, mentions

AGENT = "classify_mentions"

#: Predictions of texts seen lately, kept across batches (reposts repeat a text within minutes).
_cache: LRUCache[Prediction] = LRUCache(maxsize=50_000)


def batch_classifier() -> BatchClassifier:
    """The worker's model, model threads and metrics behind this agent's cache."""
    return BatchClassifier(
        cache=_cache,
        load=services.classifier,
        is_loaded=services.classifier_loaded,
        executor=services.executor,
        metrics=services.metrics(),
    )


@app.agent(mentions, name=AGENT)
async def classify_mentions(stream: StreamT[Mention]) -> None:
    metrics = services.metrics()
    cfg = services.settings()
    model = batch_classifier()
    take = cfg.batch_size * cfg.batches_in_flight
    async for batch in stream.take(take, within=cfg.batch_within_s):
        metrics.messages_in.labels(AGENT).inc(len(batch))
        async for record in model.classify(batch, group=cfg.batch_size):
            brand = record.mention.brand
            await classified.send(key=brand, value=record)
            metrics.mentions_classified.labels(brand, record.topics[0]).inc()
        metrics.messages_out.labels(AGENT).inc(len(batch))
