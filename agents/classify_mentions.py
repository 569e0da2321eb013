"""classify_mentions: ``mentions`` -> ``mentions.classified``, in batches, off the event loop.

Batches come from ``stream.take(n, within=t)`` (without ``within`` a quiet stream would stall a
half-full batch forever). Texts already seen (reposts) are answered from a bounded cache; the
rest go to the model in one call on a dedicated thread, so the event loop keeps heartbeating to
the broker while the CPU works.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

from faust.types import StreamT

from models.classifier import MentionClassifier, Prediction
from pipeline import services
from pipeline.app import app
from pipeline.records import ClassifiedMention, Mention
from pipeline.textcache import LRUCache, text_key
from pipeline.topics import classified, mentions

AGENT = "classify_mentions"

_cache: LRUCache[Prediction] = LRUCache(maxsize=50_000)


async def loaded_classifier() -> MentionClassifier:
    """The classifier, loaded on the model thread if it is not yet: never on the event loop.

    A restarted worker finds its input waiting and reaches its first batch before the start-up
    load is done; loading here on the loop would freeze it for seconds on a busy machine (the
    consumer thread's keep-alive fails, the group evicts the worker and rebalances). The model
    thread is a queue of one, so this waits behind the start-up load instead of repeating it.
    """
    if services.classifier_loaded():
        return services.classifier()
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(services.executor(), services.classifier)


async def predict(texts: Sequence[str]) -> list[Prediction]:
    """Predictions for ``texts`` in order: cached ones reused, the rest in one model call."""
    metrics = services.metrics()
    keys = [text_key(t) for t in texts]
    todo: dict[str, str] = {}
    for key, text in zip(keys, texts, strict=True):
        if _cache.get(key) is None and key not in todo:
            todo[key] = text
    metrics.dedup_hits.inc(len(texts) - len(todo))
    if todo:
        model = await loaded_classifier()
        loop = asyncio.get_running_loop()
        started = time.perf_counter()
        fresh = await loop.run_in_executor(services.executor(), model.classify, list(todo.values()))
        metrics.model_latency.observe(time.perf_counter() - started)
        metrics.batch_size.observe(len(todo))
        for key, prediction in zip(todo, fresh, strict=True):
            _cache.put(key, prediction)
    out = []
    for key in keys:
        hit = _cache.get(key)
        if hit is None:  # evicted between put and get: only possible with a tiny cache
            raise RuntimeError("classification cache is smaller than one batch")
        out.append(hit)
    return out


def classified_record(mention: Mention, prediction: Prediction, version: str) -> ClassifiedMention:
    return ClassifiedMention(
        mention=mention,
        topics=list(prediction.topics),
        scores={k: round(float(v), 4) for k, v in prediction.scores.items()},
        stance=prediction.stance,
        lang=mention.lang or prediction.lang,
        model_version=version,
    )


@app.agent(mentions, name=AGENT)
async def classify_mentions(stream: StreamT[Mention]) -> None:
    metrics = services.metrics()
    cfg = services.settings()
    async for batch in stream.take(cfg.batch_size, within=cfg.batch_within_s):
        metrics.messages_in.labels(AGENT).inc(len(batch))
        predictions = await predict([m.text for m in batch])
        version = (await loaded_classifier()).version
        for mention, prediction in zip(batch, predictions, strict=True):
            record = classified_record(mention, prediction, version)
            await classified.send(key=mention.brand, value=record)
            metrics.mentions_classified.labels(mention.brand, record.topics[0]).inc()
        metrics.messages_out.labels(AGENT).inc(len(batch))
