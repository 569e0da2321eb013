"""Compare quantised encoders: batch invariance, fidelity to fp32, speed and size.

Dynamic int8 (the build's quantisation up to export version e1) quantises activations per
tensor and per call, so a text's scores move with its batch-mates and their padding. This
script measures that and the alternatives side by side, each with the current head on top::

    python -m bench.quant_compare --work /tmp/quant [--rounds 3] [--json out.json]

Candidates (built into ``--work`` from the cached backbone when absent; the current artefact is
only read):

- ``fp32``: the unquantised export, the fidelity reference and the speed floor.
- ``int8-dynamic``: the current artefact's ``model.int8.onnx`` (``quantize_dynamic``,
  per-channel weights, reduce_range), batches of 8 as served.
- ``int8-dynamic-b1``: the same file, one text per ONNX call (no batch-mates, no padding).
- ``int8-static``: ``models.export.quantize_int8`` (static QDQ, ranges calibrated once on
  corpus texts, bias fused) with no outlier channels split off.
- ``int8-static-split-ffnout``: the same with the 8 largest input channels of each feed-forward
  output MatMul in fp32: the build's quantisation from export version e2.
- ``int8-static-split-ffn``: the same for the feed-forward input MatMuls too.
- ``nbits8-a4`` / ``nbits4-a4``: ``MatMulNBitsQuantizer`` weight-only blocks of 32 (8 or 4
  bits; the backbone's weights are 4-bit blocks of 32 to begin with; only 4 bits quantises the
  embedding Gather too), int8 compute (``accuracy_level=4``, activations quantised per row and
  block).

Per candidate it prints (1) batch invariance: the largest |score difference| (every topic and
stance) between ~50 corpus texts classified alone and inside random batches of 2-32 corpus
texts, plus the boycott range of the lead's Valmoreau text; (2) fidelity: min/mean cosine to
fp32 embeddings over 300 held-out (test split) texts, and how many of them change topics; (3)
speed: texts/s over 384 corpus texts as the worker runs the model (``models.serving.drive``, two
single-threaded calls side by side, calls of 32), in rotated rounds, as a ratio to int8-dynamic
within each round, with CPU ms per text (steadier than wall time on a shared machine); (4) the
model file's size.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from models.artefacts import DEFAULT_BACKBONE, HEAD_FILE, ONNX_FILE, TOKENIZER_DIR, cache_root
from models.classifier import OnnxMentionClassifier, default_artefact_dir, read_meta
from models.corpus import DEFAULT_CORPUS, load_corpus
from models.encoder import DEFAULT_BATCH_SIZE, OnnxEncoder
from models.export import calibration_texts
from models.head import Head
from models.serving import drive

#: The text whose boycott score swung 0.33-0.54 across batches (threshold 0.40).
VALMOREAU = "Valmoreau raised the list price of Osteliq again, my insurance won't cover it"
INVARIANCE_TEXTS = 50
FIDELITY_TEXTS = 300
SPEED_TEXTS = 384
CALL_SIZE = 32


@dataclass(frozen=True)
class Candidate:
    """One encoder to compare: its ONNX file and the texts per ONNX call."""

    name: str
    path: Path
    batch_size: int = DEFAULT_BATCH_SIZE


def _texts() -> tuple[list[str], list[str]]:
    """Train-split and test-split texts of the seed corpus, in file order."""
    rows = load_corpus(DEFAULT_CORPUS)
    return [e.text for e in rows if e.split == "train"], [e.text for e in rows if e.split == "test"]


def spread(items: Sequence[str], n: int) -> list[str]:
    """``n`` items taken evenly across ``items`` (the corpus file is grouped by topic)."""
    if n >= len(items):
        return list(items)
    step = len(items) / n
    return [items[int(i * step)] for i in range(n)]


def build_candidates(work: Path, backbone: str, calibration: Sequence[str]) -> None:
    """Export and quantise every candidate that is not in ``work`` yet."""
    import re

    from transformers import AutoTokenizer

    from models.export import calibration_feeds, export_fp32, quantize_int8

    work.mkdir(parents=True, exist_ok=True)
    fp32 = work / "fp32.onnx"
    if not fp32.is_file():
        print(f"exporting fp32 from {backbone}", flush=True)
        export_fp32(backbone, fp32)
    feeds = calibration_feeds(AutoTokenizer.from_pretrained(backbone), calibration)
    variants = {  # name -> (outlier channels per MatMul, which MatMuls)
        "int8-static": (0, r"$^"),
        "int8-static-split-ffnout": (8, r"layer\.\d+/output/dense/MatMul$"),
        "int8-static-split-ffn": (8, r"layer\.\d+/(intermediate|output)/dense/MatMul$"),
    }
    for name, (k, pattern) in variants.items():
        out = work / f"{name}.onnx"
        if not out.is_file():
            print(f"quantising: {name}", flush=True)
            quantize_int8(fp32, out, feeds, outliers=k, pattern=re.compile(pattern))
    pre = work / "fp32.pre.onnx"
    if not pre.is_file():
        from onnxruntime.quantization.shape_inference import quant_pre_process

        quant_pre_process(str(fp32), str(pre), skip_symbolic_shape=True)
    for bits in (8, 4):
        out = work / f"nbits{bits}-a4.onnx"
        if not out.is_file():
            print(f"quantising: MatMulNBits {bits} bits, block 32, accuracy_level 4", flush=True)
            _nbits(pre, out, bits)


def _nbits(pre: Path, out: Path, bits: int) -> None:
    import onnx
    from onnxruntime.quantization.matmul_nbits_quantizer import MatMulNBitsQuantizer

    quantizer = MatMulNBitsQuantizer(
        onnx.load(str(pre)),
        bits=bits,
        block_size=32,
        is_symmetric=True,
        accuracy_level=4,
        op_types_to_quantize=("MatMul", "Gather"),
    )
    quantizer.process()
    quantizer.model.save_model_to_file(str(out), use_external_data_format=False)


def _classifier(c: Candidate, artefact: Path, head: Head) -> OnnxMentionClassifier:
    meta = read_meta(artefact)
    enc = OnnxEncoder(
        c.path,
        artefact / TOKENIZER_DIR,
        threads=1,
        batch_size=c.batch_size,
        max_length=int(meta["max_length"]),
        prefix=str(meta["prefix"]),
    )
    return OnnxMentionClassifier(enc, head, c.name)


def _score_vector(clf: OnnxMentionClassifier, texts: Sequence[str]) -> npt.NDArray[np.float64]:
    return np.array(
        [[*p.scores.values(), *p.stance_scores.values()] for p in clf.classify(list(texts))]
    )


def invariance(
    clf: OnnxMentionClassifier, probes: Sequence[str], pool: Sequence[str], rounds: int, seed: int
) -> dict[str, Any]:
    """Each probe alone vs inside ``rounds`` random batches of 2-32 texts (probes + pool)."""
    alone = np.concatenate([_score_vector(clf, [t]) for t in probes])
    boycott = list(clf.head.topics).index("boycott")
    valmoreau = probes.index(VALMOREAU)
    rng = random.Random(seed)
    worst = 0.0
    seen: list[float] = [float(alone[valmoreau, boycott])]
    for _ in range(rounds):
        items = [(i, t) for i, t in enumerate(probes)] + [(-1, t) for t in rng.sample(pool, 60)]
        rng.shuffle(items)
        start = 0
        while start < len(items):
            size = rng.randint(2, CALL_SIZE)
            batch = items[start : start + size]
            start += size
            scores = _score_vector(clf, [t for _, t in batch])
            for row, (i, _) in enumerate(batch):
                if i < 0:
                    continue
                worst = max(worst, float(np.abs(scores[row] - alone[i]).max()))
                if i == valmoreau:
                    seen.append(float(scores[row, boycott]))
    return {"max_score_diff": worst, "valmoreau_boycott": [min(seen), max(seen)]}


def fidelity(
    clf: OnnxMentionClassifier,
    texts: Sequence[str],
    ref_emb: npt.NDArray[np.float32],
    ref_topics: Sequence[tuple[str, ...]],
) -> dict[str, float]:
    """Cosine to fp32 embeddings, and texts whose predicted topics differ from fp32's."""
    emb = clf.encoder.encode(texts)
    cos = (emb * ref_emb).sum(axis=1)
    topics = [p.topics for p in clf.classify(list(texts))]
    return {
        "min_cosine": float(cos.min()),
        "mean_cosine": float(cos.mean()),
        "topic_changes": float(sum(a != b for a, b in zip(topics, ref_topics, strict=True))),
    }


def _cpu_seconds() -> float:
    return time.process_time()


def speed(
    clfs: dict[str, OnnxMentionClassifier], texts: Sequence[str], rounds: int, base: str
) -> dict[str, dict[str, Any]]:
    """Rotated rounds: every round runs each candidate once on ``texts``, starting elsewhere."""
    calls = [list(texts[i : i + CALL_SIZE]) for i in range(0, len(texts), CALL_SIZE)]
    names = list(clfs)
    rates: dict[str, list[float]] = {n: [] for n in names}
    cpu_ms: dict[str, list[float]] = {n: [] for n in names}
    for name in names:  # warm-up: first calls allocate arenas
        clfs[name].classify(calls[0][:8])
    for r in range(rounds):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            queue = list(calls)

            def next_batch(q: list[list[str]] = queue) -> list[str] | None:
                return q.pop() if q else None

            c0, t0 = _cpu_seconds(), time.perf_counter()
            drive(clfs[name], next_batch, workers=2)
            wall, cpu = time.perf_counter() - t0, _cpu_seconds() - c0
            rates[name].append(len(texts) / wall)
            cpu_ms[name].append(1000 * cpu / len(texts))
        print(f"speed round {r + 1}/{rounds} done", flush=True)
    out: dict[str, dict[str, Any]] = {}
    for name in names:
        ratio = [a / b for a, b in zip(rates[name], rates[base], strict=True)]
        cpu_ratio = [b / a for a, b in zip(cpu_ms[name], cpu_ms[base], strict=True)]
        out[name] = {
            "texts_per_s": rates[name],
            "ratio": ratio,
            "cpu_ms_per_text": cpu_ms[name],
            "cpu_ratio": cpu_ratio,
        }
    return out


def _fmt_range(xs: Sequence[float]) -> str:
    return f"{statistics.median(xs):.2f} [{min(xs):.2f}-{max(xs):.2f}]"


def table(results: dict[str, dict[str, Any]]) -> str:
    """The comparison as a Markdown table."""
    lines = [
        "| candidate | max score diff alone vs batch | Valmoreau boycott | min / mean cosine "
        "to fp32 | topic changes / 300 | texts/s (median) | speed ratio | CPU ratio | MB |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, r in results.items():
        inv, fid, spd = r["invariance"], r["fidelity"], r["speed"]
        lo, hi = inv["valmoreau_boycott"]
        lines.append(
            f"| {name} | {inv['max_score_diff']:.1e} | {lo:.3f}-{hi:.3f} | "
            f"{fid['min_cosine']:.4f} / {fid['mean_cosine']:.4f} | {fid['topic_changes']:.0f} | "
            f"{statistics.median(spd['texts_per_s']):.0f} | {_fmt_range(spd['ratio'])} | "
            f"{_fmt_range(spd['cpu_ratio'])} | {r['mb']:.0f} |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--work", type=Path, required=True, help="candidate files go here")
    ap.add_argument("--artefact", type=Path, default=None, help="current artefact folder")
    ap.add_argument("--rounds", type=int, default=3, help="rotated speed rounds")
    ap.add_argument("--batches", type=int, default=30, help="random batches per probe")
    ap.add_argument("--only", default="", help="comma-separated candidate names")
    ap.add_argument("--json", type=Path, default=None, help="write the figures here too")
    args = ap.parse_args(argv)

    artefact = default_artefact_dir() if args.artefact is None else args.artefact
    from models.backbone import resolve_backbone

    train, test = _texts()
    backbone = resolve_backbone(DEFAULT_BACKBONE, cache_root(), lambda _m: None)
    build_candidates(args.work, backbone, calibration_texts())
    candidates = [
        Candidate("int8-dynamic", artefact / ONNX_FILE),
        Candidate("int8-dynamic-b1", artefact / ONNX_FILE, batch_size=1),
        Candidate("int8-static", args.work / "int8-static.onnx"),
        Candidate("int8-static-split-ffnout", args.work / "int8-static-split-ffnout.onnx"),
        Candidate("int8-static-split-ffn", args.work / "int8-static-split-ffn.onnx"),
        Candidate("nbits8-a4", args.work / "nbits8-a4.onnx"),
        Candidate("nbits4-a4", args.work / "nbits4-a4.onnx"),
        Candidate("fp32", args.work / "fp32.onnx"),
    ]
    if args.only:
        keep = {"int8-dynamic", "fp32", *args.only.split(",")}
        candidates = [c for c in candidates if c.name in keep]
    head = Head.load(artefact / HEAD_FILE)
    clfs = {c.name: _classifier(c, artefact, head) for c in candidates}

    probes = [*spread(test, INVARIANCE_TEXTS), VALMOREAU]
    fid_texts = test[:FIDELITY_TEXTS]
    ref = clfs["fp32"]
    ref_emb = ref.encoder.encode(fid_texts)
    ref_topics = [p.topics for p in ref.classify(fid_texts)]

    results: dict[str, dict[str, Any]] = {}
    for c in candidates:
        t0 = time.perf_counter()
        results[c.name] = {
            "invariance": invariance(clfs[c.name], probes, train, args.batches, seed=7),
            "fidelity": fidelity(clfs[c.name], fid_texts, ref_emb, ref_topics),
            "mb": c.path.stat().st_size / 1e6,
        }
        print(f"{c.name}: {results[c.name]} ({time.perf_counter() - t0:.0f}s)", flush=True)
    for name, figures in speed(
        clfs, spread(train, SPEED_TEXTS), args.rounds, "int8-dynamic"
    ).items():
        results[name]["speed"] = figures
    print(table(results))
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
