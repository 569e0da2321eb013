"""Two classifier artefacts' speed on the same labelled texts, in one process, rounds alternating.

``PYTHONPATH=. python -m bench.model_compare BASE CANDIDATE [--texts 640] [--rounds 3]``

Issue 17 asks the new model's raw throughput at batch 32 to be at least 0.8x the current one's,
measured in the same run. ``tocsin model bench`` times a handful of sample texts; the default
model (v9) also runs the PV rules on mentions whose adverse_event score reaches its gate, so its
cost depends on what the texts say. Here both artefacts classify the same Corpus 2.0 texts (every
topic, ``other`` included; training rows, read only for their wording) in batches of 32 on one
ONNX thread, in alternating rounds so that load on a shared machine falls on both; each figure is
CPU time per text (``time.process_time``), the median over rounds, and the ratio base / candidate
is the candidate's throughput relative to the base. One warm-up batch per model first (the PV
rules are built once per process). Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from models.classifier import MentionClassifier, load_classifier
from models.corpus import ALL_WRITER_FILES, DEFAULT_CORPUS, load_training_corpus

BATCH = 32


def cpu_ms_per_text(clf: MentionClassifier, texts: list[str]) -> float:
    t0 = time.process_time()
    for i in range(0, len(texts), BATCH):
        clf.classify(texts[i : i + BATCH])
    return (time.process_time() - t0) * 1000 / len(texts)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("base", type=Path)
    parser.add_argument("candidate", type=Path)
    parser.add_argument("--texts", type=int, default=640)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    rows = load_training_corpus(DEFAULT_CORPUS, ALL_WRITER_FILES, all_rows=True)
    texts = [r.text for r in rows if r.source != DEFAULT_CORPUS.name][: args.texts]
    models = {"base": load_classifier(args.base, threads=1)}
    models["candidate"] = load_classifier(args.candidate, threads=1)
    for clf in models.values():
        clf.classify(texts[:BATCH])
    rounds: dict[str, list[float]] = {name: [] for name in models}
    for _ in range(args.rounds):
        for name, clf in models.items():
            rounds[name].append(cpu_ms_per_text(clf, texts))
    base, cand = (statistics.median(rounds[n]) for n in ("base", "candidate"))
    report = {
        "texts": len(texts),
        "batch": BATCH,
        "versions": {name: clf.version for name, clf in models.items()},
        "cpu_ms_per_text_rounds": {n: [round(x, 3) for x in xs] for n, xs in rounds.items()},
        "cpu_ms_per_text": {"base": round(base, 3), "candidate": round(cand, 3)},
        "candidate_throughput_over_base": round(base / cand, 3),
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
