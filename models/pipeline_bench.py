"""Raw model vs the ``classify_mentions`` agent path, measured in one run on the same texts.

Why in-process and not on a broker: the question this answers is "how much does the agent's own
code cost on top of the model" -- Faust ``take`` batching, validating the raw JSON, brand matching,
de-duplication by id, pseudonymising, the repost cache, the hop to the model thread, building and
serialising ``ClassifiedMention``. Those are exercised here with the *real* agent coroutine
(``agent.test_context()``, the same machinery as the unit tests), fed with the raw bytes a source
writes to ``mentions.raw``; only the Kafka sockets are missing (the output topics are replaced by
a sink that serialises each record exactly as ``send`` would). Broker I/O and the other agents of
a worker are measured by ``tocsin model bench --broker`` instead.

Three passes on the same machine, repeated in rounds with their order rotated, so load from other
processes hits all of them (see :func:`bench_pipeline`):

- **raw**: ``classifier.classify`` on the distinct texts in batches of ``batch_size``;
- **plain**: one mention per distinct text, through the agent;
- **reposts**: the same distinct texts plus reposts (``RT @handle: <earlier text>``) making up
  ``repost_share`` of the stream, through the agent. Effective mentions/s counts every mention,
  since a repost classified from the cache is as classified as any other.
"""

from __future__ import annotations

import asyncio
import json
import random
import statistics
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from models.classifier import MentionClassifier


@dataclass
class _Sink:
    """Stands in for ``mentions.classified`` (encoded bytes) and ``mentions.dlq`` (records,
    serialised like ``send``): counts records and bytes."""

    expected: int = 0
    count: int = 0
    nbytes: int = 0
    done: asyncio.Event = field(default_factory=asyncio.Event)

    async def send(self, *, key: Any = None, value: Any = None, **_: Any) -> None:
        self.nbytes += len(value if isinstance(value, bytes) else value.dumps())
        self.count += 1
        if self.count >= self.expected:
            self.done.set()


def raw_mention(mention_id: str, text: str, created_at: datetime, kind: str, author: str) -> bytes:
    """One mention as a source writes it to ``mentions.raw`` (the input contract)."""
    return json.dumps(
        {
            "id": mention_id,
            "platform": "x",
            "text": text,
            "created_at": created_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "author": {"id": author, "followers": 100},
            "kind": kind,
        },
        ensure_ascii=False,
    ).encode()


def make_stream(
    texts: Sequence[str], repost_share: float, seed: int = 0
) -> list[tuple[str, bytes]]:
    """``(kind, raw JSON bytes)`` for each mention: every text once, plus reposts.

    A repost copies an earlier original's text behind ``RT @handle:`` and comes after it, as on
    a real platform. ``repost_share`` is the fraction of reposts in the whole stream. Every text
    must name a tracked brand (:func:`branded`): the agent filters the others as noise.
    """
    if not 0.0 <= repost_share < 1.0:
        raise ValueError("repost_share must be in [0, 1)")
    rng = random.Random(seed)
    n_reposts = round(len(texts) * repost_share / (1.0 - repost_share))
    kinds = ["post"] * len(texts) + ["repost"] * n_reposts
    # shuffle, then move any repost that comes before the first original after it
    rng.shuffle(kinds)
    first_post = kinds.index("post") if texts else 0
    kinds = ["post"] + [k for i, k in enumerate(kinds) if i != first_post]
    t0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
    out: list[tuple[str, bytes]] = []
    seen: list[str] = []
    originals = iter(texts)
    for i, kind in enumerate(kinds):
        if kind == "post":
            text = next(originals)
            seen.append(text)
        else:
            text = f"RT @user{rng.randrange(10_000)}: {rng.choice(seen)}"
        payload = raw_mention(f"bench:{i}", text, t0 + timedelta(seconds=i), kind, f"a{i % 997}")
        out.append((kind, payload))
    return out


def branded(texts: Sequence[str]) -> list[str]:
    """The distinct ``texts`` that name a tracked brand (the worker's brand file), in order."""
    from pipeline.brands import load_brands
    from pipeline.settings import make_settings

    matcher = load_brands(make_settings().brands_file)
    return [t for t in dict.fromkeys(texts) if matcher.match(t)]


def _cpu() -> float:
    """CPU seconds of this process, every thread, at nanosecond resolution (``os.times`` counts
    in 10 ms ticks: a short pass could read 0 and its ratio divide by zero)."""
    return time.process_time()


def _ratio(a: float, b: float) -> float | None:
    """``a / b`` to 3 places, or None when ``b`` is too small to have been measured."""
    return round(a / b, 3) if b > 0 else None


def raw_rate(
    classifier: MentionClassifier, texts: Sequence[str], batch_size: int
) -> dict[str, float]:
    """Texts/s (and CPU ms per text) of ``classify`` on ``texts`` in batches, run as the worker
    runs the model (``TOCSIN_MODEL_WORKERS`` calls side by side, models/serving.py)."""
    from models.serving import drive

    starts = iter(range(0, len(texts), batch_size))

    def next_batch() -> list[str] | None:
        i = next(starts, None)
        return None if i is None else list(texts[i : i + batch_size])

    started, cpu0 = time.perf_counter(), _cpu()
    drive(classifier, next_batch)
    seconds = time.perf_counter() - started
    return {
        "texts_per_s": round(len(texts) / seconds, 1),
        "cpu_ms_per_text": round((_cpu() - cpu0) * 1000 / len(texts), 2),
    }


@contextmanager
def _agent_harness(classifier: MentionClassifier, batch_size: int, within: float) -> Iterator[Any]:
    """The real agent with a fresh cache, fresh metrics and a serialising sink; restored after."""
    from prometheus_client import CollectorRegistry

    from agents import classify_mentions

    mod: Any = classify_mentions  # its topic and cache are swapped for the run, then restored
    from models.textcache import LRUCache
    from pipeline import services
    from pipeline.app import app
    from pipeline.ingest.dedup import rebalanced
    from pipeline.metrics import TocsinMetrics
    from pipeline.settings import make_settings
    from pipeline.tables import mention_ids

    saved = (mod.classified, mod.dead_letters, mod._cache)
    sink = _Sink()
    mod.classified = mod.dead_letters = sink
    mod._cache = LRUCache(maxsize=50_000)
    # every pass re-uses the stream's ids: a fresh id memory, or a pass would filter the last one's
    mention_ids.data.clear()
    rebalanced()
    services.override(
        classifier=classifier,
        metrics=TocsinMetrics(CollectorRegistry(), receivers=("console",)),
        settings=make_settings(batch_size=batch_size, batch_within_s=within),
    )
    app.finalize()
    app.flow_control.resume()
    try:
        yield mod, sink
    finally:
        mod.classified, mod.dead_letters, mod._cache = saved
        mention_ids.data.clear()
        rebalanced()
        services.reset()


async def _run_agent(mod: Any, sink: _Sink, payloads: Sequence[bytes]) -> float:
    """Feed raw mentions to the agent as fast as it takes them; seconds until all are out."""
    async with mod.classify_mentions.test_context() as agent:
        sink.expected = len(payloads)
        started = time.perf_counter()
        for payload in payloads:
            await agent.put(payload, wait=False)
        await sink.done.wait()
        return time.perf_counter() - started


def pipeline_rate(
    classifier: MentionClassifier,
    stream: Sequence[tuple[str, bytes]],
    *,
    batch_size: int,
    within: float,
) -> dict[str, float]:
    """Mentions/s of the agent path over ``stream``, plus the model calls it made."""
    with _agent_harness(classifier, batch_size, within) as (mod, sink):
        from pipeline import services

        cpu0 = _cpu()
        seconds = asyncio.run(_run_agent(mod, sink, [p for _, p in stream]))
        cpu = _cpu() - cpu0
        registry = services.metrics().registry
        calls = registry.get_sample_value("tocsin_model_batch_size_count") or 0.0
        texts = registry.get_sample_value("tocsin_model_batch_size_sum") or 0.0
        hits = registry.get_sample_value("tocsin_model_dedup_hits_total") or 0.0
        model_s = registry.get_sample_value("tocsin_model_batch_latency_seconds_sum") or 0.0
    return {
        "mentions": len(stream),
        "seconds": round(seconds, 2),
        "mentions_per_s": round(len(stream) / seconds, 1),
        "cpu_ms_per_mention": round(cpu * 1000 / len(stream), 2),
        "model_calls": calls,
        "texts_per_call": round(texts / max(calls, 1.0), 1),
        "cache_hits": hits,
        "model_busy_share": round(model_s / seconds, 3),
    }


def bench_pipeline(
    classifier: MentionClassifier,
    texts: Sequence[str],
    *,
    batch_size: int = 32,
    within: float = 0.05,
    repost_share: float = 0.4,
    rounds: int = 3,
) -> dict[str, Any]:
    """Raw, plain-stream and repost-stream rates on ``texts`` with their ratios (see module doc).

    ``within`` is short because these streams end: the agent takes ``batch_size`` x
    ``TOCSIN_BATCHES_IN_FLIGHT`` mentions at a time, and a stream whose length is not a multiple
    of that leaves a last partial batch that waits ``within`` for mentions that never come (0.5 s,
    the worker's default, is about a third of a 192-text pass). A live stream only waits when it is
    quieter than a batch per ``within``, when waiting costs no throughput.

    The three passes run ``rounds`` times, their order rotated each round, and each round's
    ratios use that round's raw rate: on a shared machine the load drifts within a minute, so
    a ratio is only fair between passes that ran close together. The medians are the figures.
    """
    texts = branded(texts)
    classifier.classify(texts[:batch_size])  # warm-up
    plain_stream = make_stream(texts, 0.0)
    repost_stream = make_stream(texts, repost_share)
    passes = {
        "raw": lambda: raw_rate(classifier, texts, batch_size),
        "plain": lambda: pipeline_rate(
            classifier, plain_stream, batch_size=batch_size, within=within
        ),
        "reposts": lambda: pipeline_rate(
            classifier, repost_stream, batch_size=batch_size, within=within
        ),
    }
    order = list(passes)
    per_round: list[dict[str, Any]] = []
    for r in range(rounds):
        runs = {name: passes[name]() for name in order[r % 3 :] + order[: r % 3]}
        raw = runs["raw"]
        per_round.append(
            {
                **runs,
                "plain_over_raw": round(runs["plain"]["mentions_per_s"] / raw["texts_per_s"], 3),
                "reposts_over_raw": round(
                    runs["reposts"]["mentions_per_s"] / raw["texts_per_s"], 3
                ),
                # CPU per mention is less sensitive than wall time to other processes
                "cpu_raw_over_plain": _ratio(
                    raw["cpu_ms_per_text"], runs["plain"]["cpu_ms_per_mention"]
                ),
                "cpu_raw_over_reposts": _ratio(
                    raw["cpu_ms_per_text"], runs["reposts"]["cpu_ms_per_mention"]
                ),
            }
        )

    def median(key: str, sub: str | None = None) -> float | None:
        values = [v for r in per_round if (v := r[key][sub] if sub else r[key]) is not None]
        return round(float(statistics.median(values)), 3) if values else None

    return {
        "distinct_texts": len(texts),
        "batch_size": batch_size,
        "within_s": within,
        "repost_share": repost_share,
        "rounds": per_round,
        "median": {
            "raw_texts_per_s": median("raw", "texts_per_s"),
            "plain_mentions_per_s": median("plain", "mentions_per_s"),
            "reposts_mentions_per_s": median("reposts", "mentions_per_s"),
            "plain_over_raw": median("plain_over_raw"),
            "reposts_over_raw": median("reposts_over_raw"),
            "cpu_raw_over_plain": median("cpu_raw_over_plain"),
            "cpu_raw_over_reposts": median("cpu_raw_over_reposts"),
        },
    }
