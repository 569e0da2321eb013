"""Raw model throughput and latency (no Kafka, no Faust): the ceiling the pipeline is judged by.

Measures ``classify`` (tokenise + ONNX + head) on short tweet-like texts at fixed batch sizes,
after a warm-up, and reports texts/s and per-batch p50/p99 latency plus the process RSS.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from models.classifier import MentionClassifier

#: Short, tweet-like texts in both languages (about 15-40 tokens each).
SAMPLE_TEXTS = (
    "Glytera price went up again, $480 a month now. Who can afford this?",
    "Depuis que je prends Neviora j'ai des vertiges tous les matins.",
    "Great panel on migraine access at the conference today #Neviora",
    "Boycottez ce labo tant qu'ils n'ont pas publié les documents !",
    "My mum got a rash after her second Epidra dose, is that normal?",
    "Les associations demandent le remboursement d'Epidra pour tous.",
    "Leaked emails show execs knew about the safety issue for years",
    "Anyone know if the pharmacy on 5th has Glytera pens in stock?",
)


def rss_mb() -> float:
    """Resident set size of this process in MB (Linux ``/proc``; 0 when unavailable)."""
    status = Path("/proc/self/status")
    if not status.is_file():
        return 0.0
    for line in status.read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _cpu_seconds() -> float:
    t = os.times()
    return t.user + t.system


def _repeat_for(
    batch: list[str], seconds: float, *, at_least: int
) -> Callable[[], list[str] | None]:
    """``batch`` again and again for ``seconds`` (and at least ``at_least`` times), then None."""
    started = time.perf_counter()
    handed = 0

    def next_batch() -> list[str] | None:
        nonlocal handed
        if time.perf_counter() - started >= seconds and handed >= at_least:
            return None
        handed += 1
        return batch

    return next_batch


def bench_raw(
    classifier: MentionClassifier,
    *,
    batch_sizes: Sequence[int] = (1, 8, 32),
    seconds: float = 5.0,
    texts: Sequence[str] = SAMPLE_TEXTS,
) -> dict[str, Any]:
    """Texts/s and call latency percentiles for each batch size, ~``seconds`` of work each.

    Calls run as the worker runs them: ``TOCSIN_MODEL_WORKERS`` side by side (models/serving.py),
    so texts/s is texts over wall time and a latency is one call's, under that concurrency.
    """
    from models.serving import drive, model_workers

    classifier.classify(list(texts))  # warm-up: first run allocates ORT buffers
    results: dict[str, Any] = {
        "version": classifier.version,
        "workers": model_workers(),
        "batches": {},
    }
    for size in batch_sizes:
        batch = [texts[i % len(texts)] for i in range(size)]
        cpu0 = _cpu_seconds()
        started = time.perf_counter()
        calls = drive(classifier, _repeat_for(batch, seconds, at_least=3))
        wall = time.perf_counter() - started
        cpu = _cpu_seconds() - cpu0
        lat = np.array([s for _, s in calls])
        done = size * len(lat)
        results["batches"][str(size)] = {
            "texts_per_s": round(done / wall, 1),
            "p50_ms": round(float(np.percentile(lat, 50)) * 1000, 1),
            "p99_ms": round(float(np.percentile(lat, 99)) * 1000, 1),
            "runs": len(lat),
            # wall-clock rates on a shared machine mislead; CPU time per text does not
            "cpu_ms_per_text": round(cpu * 1000 / done, 2),
        }
    results["rss_mb"] = round(rss_mb(), 1)
    return results
