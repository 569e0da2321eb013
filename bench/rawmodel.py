"""Raw model throughput in its own process: ``python -m bench.rawmodel ARTEFACTS STREAM CRISIS``.

Why a subprocess: the worker is a separate Python process with ONNX Runtime's default thread count,
so the bare model is measured in the same kind of process (same threads, same allocator, nothing
else in it), and the harness's own threads (producer, sampler, receiver) do not share its
interpreter. It classifies the stream's distinct texts in batches of the worker's batch size, the
same texts the pipeline will see, and prints one JSON object.

``python -m bench.rawmodel --texts FILE ARTEFACTS SECONDS BATCH`` does the same for named sets of
texts given as a JSON object ``{"name": [text, ...], ...}`` (the broker pass of ``tocsin model
bench``, ``bench/classify_pass.py``), one model load for every set, one figure per set.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from models.classifier import MentionClassifier, load_classifier
from models.serving import drive, model_workers


def machine_steal_s() -> float:
    """Seconds of CPU the hypervisor gave to other guests, summed over this machine's cores."""
    import psutil

    return float(getattr(psutil.cpu_times(), "steal", 0.0))


def measure_texts(
    model: MentionClassifier,
    texts: Sequence[str],
    seconds: float,
    batch: int,
    *,
    full_pass: bool = False,
) -> dict[str, float]:
    """Texts/s and CPU ms per text of ``model.classify`` over ``texts`` in batches of ``batch``.

    Runs for ``seconds``; with ``full_pass`` also for at least one pass over ``texts``, so every
    text is measured once even when the set takes longer than ``seconds`` (the figure is then the
    rate on exactly the texts the pipeline sees, not on whichever came first).
    """
    texts = list(texts)
    model.classify(texts[:batch])  # warm-up: the first call allocates ONNX Runtime's buffers
    cursor = 0
    cpu0 = sum(os.times()[:2])
    steal0 = machine_steal_s()
    started = time.perf_counter()

    def next_batch() -> list[str] | None:
        # at least ``seconds``; with ``full_pass`` also until every text was handed out once
        nonlocal cursor
        if time.perf_counter() - started >= seconds and not (full_pass and cursor < len(texts)):
            return None
        i = cursor % len(texts)
        cursor += batch
        return texts[i : i + batch] or texts[:batch]

    calls = drive(model, next_batch)
    done = sum(n for n, _ in calls)
    wall = time.perf_counter() - started
    cpu = sum(os.times()[:2]) - cpu0
    steal = machine_steal_s() - steal0
    return {
        "texts_per_s": round(done / wall, 1),
        "texts": done,
        "seconds": round(wall, 1),
        "batch": batch,
        "workers": model_workers(),
        "cpu_ms_per_text": round(cpu * 1000 / done, 2),
        "distinct_texts": len(texts),
        # cores' worth of time the hypervisor gave to other guests while this ran (0 on an
        # unshared machine): a raw rate measured under steal is not comparable across runs
        "steal_cores": round(steal / wall, 2),
    }


def measure(
    artefacts: Path, stream: Path, crisis: Path, seconds: float, batch: int
) -> dict[str, float]:
    from bench.stream import LapStream
    from pipeline.brands import load_brands
    from pipeline.settings import make_settings

    model = load_classifier(artefacts)
    texts = LapStream(stream, crisis, load_brands(make_settings().brands_file)).distinct_texts(4096)
    return measure_texts(model, texts, seconds, batch)


def measure_sets(
    artefacts: Path, sets: dict[str, list[str]], seconds: float, batch: int
) -> dict[str, dict[str, float]]:
    model = load_classifier(artefacts)
    return {
        name: measure_texts(model, texts, seconds, batch, full_pass=True)
        for name, texts in sets.items()
    }


def main(argv: list[str]) -> int:
    if argv and argv[0] == "--texts":
        sets = json.loads(Path(argv[1]).read_text(encoding="utf-8"))
        artefacts = Path(argv[2])
        seconds, batch = float(argv[3]), int(argv[4])
        print(json.dumps(measure_sets(artefacts, sets, seconds, batch)))
        return 0
    artefacts, stream, crisis = (Path(a) for a in argv[:3])
    seconds = float(argv[3]) if len(argv) > 3 else 20.0
    batch = int(argv[4]) if len(argv) > 4 else 32
    print(json.dumps(measure(artefacts, stream, crisis, seconds, batch)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
