"""classify_mentions: ``mentions`` -> ``mentions.classified``, in batches, off the event loop.

Batches come from ``stream.take(n, within=t)`` (without ``within`` a quiet stream would stall a
half-full batch forever). Texts already seen (reposts) are answered from a bounded cache; the
rest go to the model in small chunks on the model threads (``TOCSIN_MODEL_WORKERS`` of them, each
chunk one single-threaded ONNX call, two side by side by default: see models/serving.py), so the
event loop keeps heartbeating to the broker while the CPU works and sends a chunk's records while
the model runs the next ones.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Sequence

from faust.types import StreamT

from models.classifier import MentionClassifier, Prediction
from models.textcache import LRUCache, text_key
from pipeline import services
from pipeline.app import app
from pipeline.records import ClassifiedMention, Mention
from pipeline.topics import classified, mentions

AGENT = "classify_mentions"

_cache: LRUCache[Prediction] = LRUCache(maxsize=50_000)


async def loaded_classifier() -> MentionClassifier:
    """The classifier, loaded on a model thread if it is not yet: never on the event loop.

    A restarted worker finds its input waiting and reaches its first batch before the start-up
    load is done; loading here on the loop would freeze it for seconds on a busy machine (the
    consumer thread's keep-alive fails, the group evicts the worker and rebalances). The model
    threads share one model, loaded under a lock (``services.classifier``), so this waits for
    the start-up load instead of repeating it.
    """
    if services.classifier_loaded():
        return services.classifier()
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(services.executor(), services.classifier)


#: Fresh texts per model call inside one ``take`` batch (see :func:`predictions`). Matches the
#: encoder's own run length (models/encoder.py), so splitting here costs the model nothing.
MODEL_CHUNK = 8


def _timed_classify(model: MentionClassifier, texts: list[str]) -> tuple[list[Prediction], float]:
    """Runs on a model thread; times the model alone, not the wait in the threads' queue."""
    started = time.perf_counter()
    out = model.classify(texts)
    return out, time.perf_counter() - started


async def predictions(
    texts: Sequence[str], chunk: int = MODEL_CHUNK, group: int | None = None
) -> AsyncIterator[Prediction]:
    """Predictions for ``texts`` in order, each yielded as soon as it is known.

    Cached texts (reposts) are answered at once. The fresh ones go to the model threads in chunks
    of ``chunk``, all submitted up front: the threads work through them back to back while the
    event loop builds and sends the records of the chunks already done, so the model is not idle
    during the per-mention work (one call per batch would leave it idle for that time). Everything
    happens inside one ``take`` batch, so offsets are still acknowledged only after every record
    of the batch is sent. Chunks run side by side on several model threads; records still go out
    in arrival order.

    ``group`` (default: all of ``texts``) splits the texts, in arrival order, into groups that
    are length-sorted and chunked each on its own, and queued group after group. Length order
    inside one group means its first record may wait for its last chunk, so the event loop
    sends a group's records only once the whole group is through the model: with one group per
    call the model threads sat idle while the loop sent the batch's records (13 % of a broker
    run's time, ``tocsin model bench --broker``). With several, the loop sends one group's
    records while the model runs the next groups; only the last group's sending is not covered.
    """
    metrics = services.metrics()
    keys = [text_key(t) for t in texts]
    known: dict[str, Prediction] = {}
    todo: dict[str, str] = {}
    size = group or max(len(texts), 1)
    groups: list[list[str]] = [[] for _ in range(0, len(texts), size)]
    for i, (key, text) in enumerate(zip(keys, texts, strict=True)):
        hit = _cache.get(key)
        if hit is not None:
            known[key] = hit
        elif key not in todo:
            todo[key] = text
            groups[i // size].append(key)
    metrics.dedup_hits.inc(len(texts) - len(todo))
    pending: list[tuple[list[str], asyncio.Future[tuple[list[Prediction], float]]]] = []
    if todo:
        model = await loaded_classifier()
        loop = asyncio.get_running_loop()
        # Length order, as the encoder sorts a whole call: chunks of similar lengths pad less
        # (arrival-order chunks of 8 padded 14 % more tokens than the raw model's sorted runs of
        # 32). Records still go out in arrival order; the loop below awaits whichever chunk holds
        # the next one.
        for members in groups:
            fresh = sorted(members, key=lambda k: len(todo[k]))
            for start in range(0, len(fresh), chunk):
                part = fresh[start : start + chunk]
                texts_part = [todo[k] for k in part]
                future = loop.run_in_executor(
                    services.executor(), _timed_classify, model, texts_part
                )
                pending.append((part, future))
    done = 0
    for key in keys:
        while key not in known:  # the chunk holding this text is the next one not yet awaited
            part, future = pending[done]
            done += 1
            result, seconds = await future
            metrics.model_latency.observe(seconds)
            metrics.batch_size.observe(len(part))
            for k, prediction in zip(part, result, strict=True):
                _cache.put(k, prediction)
                known[k] = prediction
        yield known[key]


async def predict(texts: Sequence[str]) -> list[Prediction]:
    """All predictions for ``texts`` in order (see :func:`predictions`)."""
    return [p async for p in predictions(texts)]


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
    take = cfg.batch_size * cfg.batches_in_flight
    async for batch in stream.take(take, within=cfg.batch_within_s):
        metrics.messages_in.labels(AGENT).inc(len(batch))
        version = (await loaded_classifier()).version
        mentions_in_order = iter(batch)
        async for prediction in predictions([m.text for m in batch], group=cfg.batch_size):
            mention = next(mentions_in_order)
            record = classified_record(mention, prediction, version)
            await classified.send(key=mention.brand, value=record)
            metrics.mentions_classified.labels(mention.brand, record.topics[0]).inc()
        metrics.messages_out.labels(AGENT).inc(len(batch))
