"""Raw model throughput in its own process: ``python -m bench.rawmodel ARTEFACTS STREAM CRISIS``.

Why a subprocess: the worker is a separate Python process with ONNX Runtime's default thread count,
so the bare model is measured in the same kind of process (same threads, same allocator, nothing
else in it), and the harness's own threads (producer, sampler, receiver) do not share its
interpreter. It classifies the stream's distinct texts in batches of the worker's batch size, the
same texts the pipeline will see, and prints one JSON object.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from bench.stream import LapStream
from models.classifier import load_classifier
from pipeline.brands import load_brands
from pipeline.settings import make_settings


def measure(
    artefacts: Path, stream: Path, crisis: Path, seconds: float, batch: int
) -> dict[str, float]:
    model = load_classifier(artefacts)
    texts = LapStream(stream, crisis, load_brands(make_settings().brands_file)).distinct_texts(4096)
    model.classify(texts[:batch])  # warm-up: the first call allocates ONNX Runtime's buffers
    done = 0
    cpu0 = sum(os.times()[:2])
    started = time.perf_counter()
    i = 0
    while time.perf_counter() - started < seconds:
        chunk = texts[i : i + batch] or texts[:batch]
        model.classify(chunk)
        done += len(chunk)
        i = i + batch if i + batch < len(texts) else 0
    wall = time.perf_counter() - started
    cpu = sum(os.times()[:2]) - cpu0
    return {
        "texts_per_s": round(done / wall, 1),
        "texts": done,
        "seconds": round(wall, 1),
        "batch": batch,
        "cpu_ms_per_text": round(cpu * 1000 / done, 2),
        "distinct_texts": len(texts),
    }


def main(argv: list[str]) -> int:
    artefacts, stream, crisis = (Path(a) for a in argv[:3])
    seconds = float(argv[3]) if len(argv) > 3 else 20.0
    batch = int(argv[4]) if len(argv) > 4 else 32
    print(json.dumps(measure(artefacts, stream, crisis, seconds, batch)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
