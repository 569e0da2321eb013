"""Batched, cached classification of mentions: what the ``classify_mentions`` agent calls.

Texts already seen (reposts) are answered from a bounded cache; the rest go to the model in small
chunks on the model threads (``TOCSIN_MODEL_WORKERS`` of them, each chunk one single-threaded ONNX
call: see :mod:`models.serving`), so the event loop keeps heartbeating to the broker while the CPU
works and sends a chunk's records while the model runs the next ones. The model, the threads and
the metrics are injected: this module knows nothing of the worker's service registry.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Protocol

from prometheus_client import Counter, Histogram

from models.classifier import MentionClassifier, Prediction
from models.textcache import LRUCache, text_key
from pipeline.records import ClassifiedMention, Mention

#: Fresh texts per model call inside one ``take`` batch (see :meth:`BatchClassifier.predictions`).
#: Matches the encoder's own run length (models/encoder.py), so splitting here costs the model nothing.
MODEL_CHUNK = 8


class BatchMetrics(Protocol):
    """The series this module feeds (``pipeline.metrics.TocsinMetrics`` has them)."""

    @property
    def dedup_hits(self) -> Counter: ...
    @property
    def model_latency(self) -> Histogram: ...
    @property
    def batch_size(self) -> Histogram: ...


def _timed_classify(model: MentionClassifier, texts: list[str]) -> tuple[list[Prediction], float]:
    """Runs on a model thread; times the model alone, not the wait in the threads' queue."""
    started = time.perf_counter()
    out = model.classify(texts)
    return out, time.perf_counter() - started


def classified_record(mention: Mention, prediction: Prediction, version: str) -> ClassifiedMention:
    return ClassifiedMention(
        mention=mention,
        topics=list(prediction.topics),
        scores={k: round(float(v), 4) for k, v in prediction.scores.items()},
        stance=prediction.stance,
        lang=mention.lang or prediction.lang,
        model_version=version,
        case_cues=None if prediction.case_cues is None else prediction.case_cues._asdict(),
    )


@dataclass
class BatchClassifier:
    """The model behind a cache, run on model threads.

    ``load`` loads (or returns) the one shared model and may block for seconds, so it is only
    ever called on a model thread; ``is_loaded`` says whether it is loaded already.
    """

    cache: LRUCache[Prediction]
    load: Callable[[], MentionClassifier]
    is_loaded: Callable[[], bool]
    executor: Callable[[], Executor]
    metrics: BatchMetrics

    async def model(self) -> MentionClassifier:
        """The classifier, loaded on a model thread if it is not yet: never on the event loop.

        A restarted worker finds its input waiting and reaches its first batch before the start-up
        load is done; loading here on the loop would freeze it for seconds on a busy machine (the
        consumer thread's keep-alive fails, the group evicts the worker and rebalances). ``load``
        is expected to share one model under a lock, so this waits for the start-up load instead
        of repeating it.
        """
        if self.is_loaded():
            return self.load()
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor(), self.load)

    async def classify(
        self, mentions: Sequence[Mention], group: int | None = None
    ) -> AsyncIterator[ClassifiedMention]:
        """The classified record of each mention, in order, each as soon as it is known."""
        version = (await self.model()).version
        async for mention, prediction in self.predicted(mentions, group=group):
            yield classified_record(mention, prediction, version)

    async def predicted(
        self, mentions: Sequence[Mention], group: int | None = None
    ) -> AsyncIterator[tuple[Mention, Prediction]]:
        """Each mention with its prediction, in order, each as soon as it is known: for a caller
        that encodes the record itself (``pipeline.ingest.output``) rather than build it."""
        in_order = iter(mentions)
        async for prediction in self.predictions([m.text for m in mentions], group=group):
            yield next(in_order), prediction

    async def predictions(
        self, texts: Sequence[str], chunk: int = MODEL_CHUNK, group: int | None = None
    ) -> AsyncIterator[Prediction]:
        """Predictions for ``texts`` in order, each yielded as soon as it is known.

        Cached texts (reposts) are answered at once. The fresh ones go to the model threads in
        chunks of ``chunk``, all submitted up front: the threads work through them back to back
        while the event loop builds and sends the records of the chunks already done, so the model
        is not idle during the per-mention work. Everything happens inside one ``take`` batch, so
        offsets are still acknowledged only after every record of the batch is sent. Chunks run
        side by side on several model threads; records still go out in arrival order.

        ``group`` (default: all of ``texts``) splits the texts, in arrival order, into groups that
        are length-sorted and chunked each on its own, and queued group after group. Length order
        inside one group means its first record may wait for its last chunk, so the event loop
        sends a group's records only once the whole group is through the model. With several
        groups, the loop sends one group's records while the model runs the next groups; only the
        last group's sending is not covered.
        """
        keys = [text_key(t) for t in texts]
        known: dict[str, Prediction] = {}
        todo: dict[str, str] = {}
        size = group or max(len(texts), 1)
        groups: list[list[str]] = [[] for _ in range(0, len(texts), size)]
        for i, (key, text) in enumerate(zip(keys, texts, strict=True)):
            hit = self.cache.get(key)
            if hit is not None:
                known[key] = hit
            elif key not in todo:
                todo[key] = text
                groups[i // size].append(key)
        self.metrics.dedup_hits.inc(len(texts) - len(todo))
        pending = await self._submit(todo, groups, chunk) if todo else []
        done = 0
        for key in keys:
            while key not in known:  # the chunk holding this text is the next one not yet awaited
                part, future = pending[done]
                done += 1
                result, seconds = await future
                self.metrics.model_latency.observe(seconds)
                self.metrics.batch_size.observe(len(part))
                for k, prediction in zip(part, result, strict=True):
                    self.cache.put(k, prediction)
                    known[k] = prediction
            yield known[key]

    async def _submit(
        self, todo: dict[str, str], groups: list[list[str]], chunk: int
    ) -> list[tuple[list[str], asyncio.Future[tuple[list[Prediction], float]]]]:
        """Queue every fresh text on the model threads, group by group, in length-sorted chunks.

        Length order, as the encoder sorts a whole call: chunks of similar lengths pad less.
        Records still go out in arrival order; the caller awaits whichever chunk holds the next.
        """
        model = await self.model()
        loop = asyncio.get_running_loop()
        pending = []
        for members in groups:
            fresh = sorted(members, key=lambda k: len(todo[k]))
            for start in range(0, len(fresh), chunk):
                part = fresh[start : start + chunk]
                texts_part = [todo[k] for k in part]
                future = loop.run_in_executor(self.executor(), _timed_classify, model, texts_part)
                pending.append((part, future))
        return pending

    async def predict(self, texts: Sequence[str]) -> list[Prediction]:
        """All predictions for ``texts`` in order (see :meth:`predictions`)."""
        return [p async for p in self.predictions(texts)]
