"""classify_mentions: untrusted bytes on ``mentions.raw`` -> ``mentions.classified``, keyed by brand.

``mentions.raw`` is keyed by mention id, so a single brand's crisis is spread over every partition
and so over every worker of the group; only counting needs the brand key, and it gets it here.

Batches come from ``take_events(n, within=t)`` (without ``within`` a quiet stream would stall a
half-full batch forever; the events carry each record's raw position). Each batch is admitted by
ingest (:class:`pipeline.ingest.admission.Admission`: dead letters out with their reason, noise
and re-sent ids filtered, the rest stamped with their raw position and pseudonymised), then
classified by :class:`models.batching.BatchClassifier` (reposts from a bounded cache, the rest on
the model threads), whose records are sent as they come. A batch's offsets are acknowledged only
when the next batch is asked for, after every one of its records was handed to the producer.
"""

from __future__ import annotations

from typing import Any

from faust.types import StreamT

from models.batching import BatchClassifier
from models.classifier import Prediction
from models.textcache import LRUCache
from pipeline import services
from pipeline.app import app
from pipeline.ingest.admission import Admission
from pipeline.ingest.dedup import rebalanced
from pipeline.streams import take_events
from pipeline.tables import mention_ids
from pipeline.topics import classified, dead_letters, raw_mentions

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


@app.on_partitions_revoked.connect
async def forget_id_order(sender: Any, /, *args: Any, **kwargs: Any) -> None:
    """After a rebalance another worker may have changed a partition's remembered ids."""
    rebalanced()


@app.agent(raw_mentions, name=AGENT)
async def classify_mentions(stream: StreamT[bytes]) -> None:
    metrics = services.metrics()
    cfg = services.settings()
    admission = Admission.configured(mention_ids)
    model = batch_classifier()
    take = cfg.batch_size * cfg.batches_in_flight
    async for events in take_events(stream, take, cfg.batch_within_s):
        metrics.messages_in.labels(AGENT).inc(len(events))
        admitted = admission.admit(events)
        for letter in admitted.dead_letters:
            await dead_letters.send(value=letter)
            metrics.dead_letters.labels(letter.reason).inc()
        if not admitted.mentions:
            continue
        async for record in model.classify(admitted.mentions, group=cfg.batch_size):
            brand = record.mention.brand
            await classified.send(key=brand, value=record)
            metrics.mentions_classified.labels(brand, record.topics[0]).inc()
        metrics.messages_out.labels(AGENT).inc(len(admitted.mentions))
