"""``tocsin worker`` with a stand-in for the model: for ``bench.memory --model stand-in``.

Everything a worker runs is real (Faust, the broker, every agent, tables and changelogs, the
repost cache, the console store) except the transformer: :class:`StandIn` answers each text at
once with a prediction of the real model's shape (every taxonomy topic scored, stance, language,
PV cues), derived from a hash of the text so that reposts get the same verdict. It lets a memory
run stream hundreds of thousands of mentions on a shared 2-core machine in CPU minutes; the
model's own memory (weights, ONNX Runtime's arena) is what ``--model real`` adds to it.
"""

from __future__ import annotations

import hashlib
import os
import signal
import sys
import tracemalloc
from collections.abc import Sequence
from pathlib import Path

from models.classifier import Prediction
from models.lang import detect_lang
from models.pvhead import CaseCues
from models.taxonomy import load_taxonomy
from models.textcache import text_key

STANCES = ("critical", "neutral", "supportive")


class StandIn:
    """A model-shaped classifier that costs microseconds per text."""

    version = "stand-in"

    def __init__(self) -> None:
        self.topics = tuple(t.id for t in load_taxonomy().topics)

    def classify(self, texts: Sequence[str]) -> list[Prediction]:
        return [self._one(text) for text in texts]

    def _one(self, text: str) -> Prediction:
        digest = hashlib.blake2b(text_key(text).encode(), digest_size=32).digest()
        scores = {t: digest[i] / 255 for i, t in enumerate(self.topics)}
        above = tuple(
            t for t in sorted(scores, key=scores.__getitem__, reverse=True) if scores[t] > 0.8
        )
        stance = {s: digest[20 + i] / 765 for i, s in enumerate(STANCES)}
        return Prediction(
            topics=above or ("other",),
            scores=scores,
            stance=max(stance, key=stance.__getitem__),
            stance_scores=stance,
            lang=detect_lang(text),
            case_cues=CaseCues(digest[30] > 250, digest[31] > 128, False, "none"),
        )


def trace_on_signal(path: Path) -> None:
    """On SIGRTMIN: the first starts tracing allocations (tracing from the start makes the worker
    too slow to start on a loaded machine), each later one appends to ``path`` what grew since the
    one before, by line."""
    last: list[tracemalloc.Snapshot] = []

    def dump(signum: int, frame: object) -> None:
        if not tracemalloc.is_tracing():
            tracemalloc.start(1)
            return
        snap = tracemalloc.take_snapshot()
        with path.open("a") as out:
            out.write(f"--- traced {tracemalloc.get_traced_memory()[0] / 2**20:.1f} MiB\n")
            if last:
                for stat in snap.compare_to(last[0], "lineno")[:25]:
                    out.write(f"{stat}\n")
        last[:] = [snap]

    signal.signal(signal.SIGRTMIN, dump)


def main() -> None:
    from pipeline import services
    from pipeline.cli import cli

    traced = os.environ.get("BENCH_TRACEMALLOC_FILE")
    if traced:
        trace_on_signal(Path(traced))
    services.override(classifier=StandIn())
    cli(sys.argv[1:], prog_name="tocsin")


if __name__ == "__main__":
    main()
