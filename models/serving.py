"""How the model is run: concurrent calls of one ONNX session, one intra-op thread each.

Why not one call at a time with ONNX Runtime parallelising inside it (what Tocsin did first): on
a small CPU box the intra-op threads meet at a barrier after every operator, and whenever one of
them is descheduled -- by the worker's event loop, the Kafka client, a co-located broker -- the
others wait for it. Two calls side by side with one thread each never wait for one another. On
the 2-core machine here (``python -m bench.rawmodel``-style loop, 800 corpus texts, batches of
32) one 2-thread call at a time did 134-138 texts/s at 13.4-13.8 ms of CPU per text; two 1-thread
calls side by side did 174-227 texts/s at 8.7-11.3 ms. An ``InferenceSession`` may be run from
several threads at once, and ``run`` releases the GIL, so the calls share one loaded model.

``TOCSIN_MODEL_WORKERS`` sets how many calls run at once (default 2, the cores of the target
machine), ``TOCSIN_MODEL_THREADS`` the intra-op threads of each (default 1). The raw-model
benchmarks use the same two settings through :func:`drive`, so "raw model" always means the bare
model run the best way this module knows, not a slower baseline.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

from models.classifier import MentionClassifier

WORKERS_ENV = "TOCSIN_MODEL_WORKERS"
DEFAULT_WORKERS = 2


def model_workers() -> int:
    """Concurrent model calls: ``$TOCSIN_MODEL_WORKERS`` or 2 (at least 1)."""
    return max(1, int(os.environ.get(WORKERS_ENV, DEFAULT_WORKERS)))


def drive(
    model: MentionClassifier,
    next_batch: Callable[[], Sequence[str] | None],
    workers: int | None = None,
) -> list[tuple[int, float]]:
    """Classify batches from ``next_batch`` on ``workers`` threads until it returns None.

    ``next_batch`` is called under a lock, so it may keep plain state. Returns ``(texts,
    seconds)`` per call, in completion order; the caller times the whole run for a rate (calls
    overlap, so their seconds do not add up to the wall time).
    """
    lock = threading.Lock()
    calls: list[tuple[int, float]] = []

    def loop() -> None:
        while True:
            with lock:
                batch = next_batch()
            if batch is None:
                return
            started = time.perf_counter()
            model.classify(list(batch))
            seconds = time.perf_counter() - started
            with lock:
                calls.append((len(batch), seconds))

    n = model_workers() if workers is None else workers
    with ThreadPoolExecutor(max_workers=n, thread_name_prefix="tocsin-bench-model") as pool:
        for future in [pool.submit(loop) for _ in range(n)]:
            future.result()
    return calls
