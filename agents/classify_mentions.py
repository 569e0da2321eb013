"""classify_mentions: untrusted bytes on ``mentions.raw`` -> ``mentions.classified``, keyed by brand.

``mentions.raw`` is keyed by mention id, so a single brand's crisis is spread over every partition
and so over every worker of the group; only counting needs the brand key, and it gets it here.

Batches come from ``take_events(n, within=t)`` (without ``within`` a quiet stream would stall a
half-full batch forever; the events carry each record's raw position). Each batch is admitted by
ingest (:class:`pipeline.ingest.admission.Admission`: dead letters out with their reason, noise
and re-sent ids filtered, the rest stamped with their raw position and pseudonymised), then
classified by :class:`models.batching.BatchClassifier` (reposts from a bounded cache, the rest on
the model threads); each record is encoded to bytes directly and handed to the producer as it
comes (:mod:`pipeline.ingest.output`), and the classified counter is incremented once per batch.
A batch's offsets are acknowledged only when the next batch is asked for, after every one of its
records was handed to the producer.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from faust.types import StreamT

from models.batching import BatchClassifier
from models.classifier import Prediction
from models.textcache import LRUCache
from pipeline import services
from pipeline.app import app
from pipeline.ingest.admission import Admission
from pipeline.ingest.dedup import rebalanced
from pipeline.ingest.output import ClassifiedEncoder, EncodedTopic
from pipeline.streams import take_events
from pipeline.tables import mention_ids
from pipeline.topics import classified as classified_topic
from pipeline.topics import dead_letters, raw_mentions

AGENT = "classify_mentions"

#: Predictions of texts seen lately, kept across batches (reposts repeat a text within minutes);
#: bounded by ``TOCSIN_REPOST_CACHE_ENTRIES`` and ``TOCSIN_REPOST_CACHE_MB`` when the agent starts.
_cache: LRUCache[Prediction] = LRUCache()
#: ``mentions.classified``, written with records encoded by ``encoder`` (pipeline/ingest/output.py)
classified = EncodedTopic(classified_topic)
encoder = ClassifiedEncoder()


def batch_classifier() -> BatchClassifier:
    """The worker's model, model threads and metrics behind this agent's cache, the cache and the
    encoder's tails bounded as the settings say."""
    cfg = services.settings()
    _cache.bound(cfg.repost_cache_entries, int(cfg.repost_cache_mb * 2**20))
    encoder.maxsize = cfg.repost_cache_entries
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
        version = (await model.model()).version
        sent: Counter[tuple[str, str]] = Counter()
        async for mention, prediction in model.predicted(admitted.mentions, group=cfg.batch_size):
            await classified.send(
                key=mention.brand, value=encoder.value(mention, prediction, version)
            )
            sent[mention.brand, prediction.topics[0]] += 1
        for (brand, topic), n in sent.items():
            metrics.mentions_classified.labels(brand, topic).inc(n)
        metrics.messages_out.labels(AGENT).inc(len(admitted.mentions))
