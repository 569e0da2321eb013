"""Build the v9 artefact, the default: an all-writers (v8) folder plus its adverse_event stack.

``tocsin model build`` builds (or finds) the v8 folder, then this: the v8 head's
adverse_event out-of-fold scores on its own training rows (one fold per writer file, its L2,
Platt and calibration, each fold warm-started from the full fit as the build does), the PV
reaction head over the same encoder (models/pvbuild.py) and the PV rules' gated flag, the
stack fitted on them (models/aestack.py), and a new folder: the v8 files (encoder hard-linked)
plus ``aestack.npz`` and the PV heads, with ``meta.json`` saying what the stack is. The key
covers the v8 folder's key, ``STACK_CONFIG`` and the PV labelled sets.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from models.aestack import (
    AE_STACK_FILE,
    RULES_GATE,
    STACK_CONFIG,
    STACK_FLOOR,
    STACKED_VERSION,
    TOPIC,
    AeStack,
    RulesFlag,
    fit_stack,
    pv_rules,
    stacked_key,
)
from models.artefacts import (
    HEAD_FILE,
    META_FILE,
    ONNX_FILE,
    TOKENIZER_DIR,
    atomic_dir,
    cache_root,
    key_backbone,
)
from models.build import _encode_with_progress, _link_or_copy
from models.calibration import apply_map
from models.classifier import (
    OnnxMentionClassifier,
    default_artefact_dir,
    load_classifier,
    read_meta,
)
from models.corpus import ALL_WRITER_FILES, DEFAULT_CORPUS, load_training_corpus
from models.embedcache import EmbeddingCache, encoder_digest
from models.optim import balanced_weights, fit_binary, group_parts, sigmoid
from models.pvbuild import copy_into, load_pv_head
from models.taxonomy import DEFAULT_TAXONOMY, load_taxonomy

Progress = Callable[[str], None]


def stacked_dir(base: Path, out_root: Path | None = None) -> Path:
    """Where the stacked artefact of the all-writers folder ``base`` goes."""
    meta = read_meta(base)
    root = cache_root() / "models" if out_root is None else out_root
    backbone = key_backbone(meta["backbone"], bool(meta.get("finetune")))
    return root / stacked_key(meta["version"], backbone)


def topic_oof(
    clf: OnnxMentionClassifier, texts: list[str], emb: Any, y: Any, groups: list[str], l2: float
) -> Any:
    """The head's calibrated adverse_event scores out of fold (one fold per writer)."""
    head = clf.head
    j = head.topics.index(TOPIC)
    xs = (head.features(emb, texts) - head.mean) / head.scale
    weights = balanced_weights(y.astype(np.int64), 2)
    start = np.r_[head.topic_w[j], head.topic_b[j]]
    oof = np.empty(len(y))
    for held in group_parts(groups):
        train = np.setdiff1d(np.arange(len(y)), held)
        w, b = fit_binary(xs[train], y[train], weights[train], l2, start)
        oof[held] = xs[held] @ w + b
    p = sigmoid(oof * head.platt_a[j] + head.platt_b[j])
    return p if head.calib is None else apply_map(p, head.calib[j])


def after_build(
    path: Path, out_root: Path | None, *, ae_stack: bool, progress: Progress = print
) -> Path:
    """What ``tocsin model build`` does after the head: the PV triage heads over the folder's
    encoder (models/pvbuild.py), then with ``ae_stack`` the v9 folder; the folder to print."""
    from models.pvbuild import build_into

    build_into(path, progress=progress)
    return build_stacked(path, out_root, progress=progress) if ae_stack else path


def build_default(
    out_root: Path | None = None, *, force: bool = False, progress: Progress = print
) -> Path:
    """The default artefact, as ``tocsin model build`` with no recipe option makes it: the
    all-writers head (v8), its PV heads, then the adverse_event stack (v9)."""
    from models.build import build_artefacts

    final = default_artefact_dir()
    final = final if out_root is None else out_root / final.name
    if (final / META_FILE).is_file() and not force:
        progress(f"artefacts up to date: {final}")
        return final
    base = build_artefacts(out_root, force=force, progress=progress, all_writers=True)
    return after_build(base, out_root, ae_stack=True, progress=progress)


def build_stacked(
    base: Path,
    out_root: Path | None = None,
    *,
    progress: Progress = print,
    rules: RulesFlag | None = None,
) -> Path:
    """The v9 folder of the all-writers folder ``base`` (built when absent)."""
    final = stacked_dir(base, out_root)
    if (final / META_FILE).is_file():
        progress(f"artefacts up to date: {final}")
        return final
    meta = read_meta(base)
    if meta.get("artefact_version") != "v8":
        raise ValueError(f"{base} is not an all-writers (v8) artefact")
    clf = load_classifier(base)
    assert isinstance(clf, OnnxMentionClassifier)
    rows = load_training_corpus(DEFAULT_CORPUS, ALL_WRITER_FILES, all_rows=True)
    texts = [e.text for e in rows]
    enc = clf.encoder
    digest = encoder_digest(base / ONNX_FILE, base / TOKENIZER_DIR, enc.prefix, enc.max_length)
    store = EmbeddingCache(cache_root() / "embeddings" / digest[:16])
    emb, _ = store.encode(texts, lambda todo: _encode_with_progress(enc, todo, progress))
    y = np.array([TOPIC in e.topics for e in rows], dtype=np.float64)
    l2 = float(meta["training"]["l2"][TOPIC])
    progress(f"ae stack: out-of-fold {TOPIC} scores of {len(texts)} rows (one fold per writer)")
    p_oof = topic_oof(clf, texts, emb, y, [e.source for e in rows], l2)
    heads = load_pv_head(clf, progress=progress)
    if heads is None:
        raise FileNotFoundError("the PV labelled sets (tests/data/pv) are needed to build v9")
    react = heads.proba(emb)[:, 0]
    flags = np.zeros(len(texts))
    gated = np.flatnonzero(p_oof >= RULES_GATE)
    progress(f"ae stack: PV rules on {len(gated)} rows at or above the gate")
    flags[gated] = np.asarray((rules or pv_rules())([texts[i] for i in gated]), dtype=float)
    beta = float(load_taxonomy(DEFAULT_TAXONOMY).betas.get(TOPIC, 1.0))
    w, b, thr = fit_stack(p_oof, react, flags, y, beta=beta, floor=STACK_FLOOR)
    stack = AeStack(
        heads.mean, heads.scale, heads.weights[0], float(heads.bias[0]), w, b, thr, RULES_GATE
    )
    on = stack.score(p_oof, react, flags) >= thr
    tp = float((on & (y > 0.5)).sum())
    with atomic_dir(final) as tmp:
        _link_or_copy(base / ONNX_FILE, tmp / ONNX_FILE)
        shutil.copytree(base / TOKENIZER_DIR, tmp / TOKENIZER_DIR)
        shutil.copy2(base / HEAD_FILE, tmp / HEAD_FILE)
        stack.save(tmp / AE_STACK_FILE)
        copy_into(heads, tmp)
        meta.update(version=final.name, artefact_version=STACKED_VERSION, base=meta["version"])
        meta["thresholds"] = {**meta["thresholds"], TOPIC: thr}
        meta["ae_stack"] = {
            **STACK_CONFIG,
            "weights": {"topic": w[0], "reaction": w[1], "rules": w[2], "bias": b},
            "threshold": thr,
            "oof_recall": round(tp / max(1.0, float(y.sum())), 4),
            "oof_precision": round(tp / max(1.0, float(on.sum())), 4),
            "rules_rows": len(gated),
        }
        (tmp / META_FILE).write_text(json.dumps(meta, indent=2, ensure_ascii=False) + "\n")
    progress(f"wrote {final}")
    return final
