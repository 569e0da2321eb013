"""Build a stacked artefact: an all-writers (v8) folder plus its adverse_event stack (v9, the
default; v10, the nine-writer candidate of ``tocsin model build --writers9``).

``tocsin model build`` builds (or finds) the v8 folder over the recipe's writer files, then
this: the v8 head's adverse_event out-of-fold scores on its own training rows (one fold per
writer, its L2, Platt and calibration, each fold warm-started from the full fit as the build
does), the PV heads over the same encoder (models/pvbuild.py) and the PV rules' gated flags,
the stack fitted on the readings its recipe takes (models/aestack.py), and a new folder: the
v8 files (encoder hard-linked) plus ``aestack.npz`` and the PV heads, with ``meta.json`` saying
what the stack is. The key covers the v8 folder's key, the stack's config and the PV sets.
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
    DEFAULT_STACK,
    RULES_GATE,
    TOPIC,
    AeStack,
    RulesFlag,
    StackRecipe,
    fit_stack,
    others_max,
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
    load_classifier,
    read_meta,
    stacked_artefact_dir,
)
from models.corpus import DEFAULT_CORPUS, load_training_corpus
from models.embedcache import EmbeddingCache, encoder_digest
from models.optim import balanced_weights, fit_binary, group_parts, sigmoid
from models.pvbuild import copy_into, load_pv_head
from models.taxonomy import DEFAULT_TAXONOMY, load_taxonomy

Progress = Callable[[str], None]


def stacked_dir(
    base: Path, out_root: Path | None = None, stack: StackRecipe = DEFAULT_STACK
) -> Path:
    """Where the stacked artefact of the all-writers folder ``base`` goes."""
    meta = read_meta(base)
    root = cache_root() / "models" if out_root is None else out_root
    backbone = key_backbone(meta["backbone"], bool(meta.get("finetune")))
    return root / stacked_key(meta["version"], backbone, stack)


def topic_oof(
    clf: OnnxMentionClassifier,
    texts: list[str],
    emb: Any,
    labels: list[tuple[str, ...]],
    groups: list[str],
    l2: dict[str, float],
    topics: list[str],
) -> dict[str, Any]:
    """The head's calibrated scores of ``topics`` out of fold (one fold per writer, each fold
    warm-started from the full fit), per topic."""
    head = clf.head
    xs = (head.features(emb, texts) - head.mean) / head.scale
    parts = group_parts(groups)
    out = {}
    for topic in topics:
        j = head.topics.index(topic)
        y = np.array([topic in t for t in labels], dtype=np.float64)
        weights = balanced_weights(y.astype(np.int64), 2)
        start = np.r_[head.topic_w[j], head.topic_b[j]]
        oof = np.empty(len(y))
        for held in parts:
            train = np.setdiff1d(np.arange(len(y)), held)
            w, b = fit_binary(xs[train], y[train], weights[train], float(l2[topic]), start)
            oof[held] = xs[held] @ w + b
        p = sigmoid(oof * head.platt_a[j] + head.platt_b[j])
        out[topic] = p if head.calib is None else apply_map(p, head.calib[j])
    return out


def after_build(
    path: Path, out_root: Path | None, *, stack: StackRecipe | None, progress: Progress = print
) -> Path:
    """What ``tocsin model build`` does after the head: the PV triage heads over the folder's
    encoder (models/pvbuild.py), then with ``stack`` the stacked folder; the folder to print."""
    from models.pvbuild import build_into

    build_into(path, progress=progress)
    if stack is None:
        return path
    return build_stacked(path, out_root, progress=progress, stack=stack)


def build_default(
    out_root: Path | None = None,
    *,
    force: bool = False,
    progress: Progress = print,
    stack: StackRecipe = DEFAULT_STACK,
) -> Path:
    """A stacked artefact as ``tocsin model build`` makes it (with no recipe option:
    ``DEFAULT_STACK``): the all-writers head (v8) over the stack's writer files, its PV heads,
    then the adverse_event stack."""
    from models.build import build_artefacts

    final = stacked_artefact_dir(stack)
    final = final if out_root is None else out_root / final.name
    if (final / META_FILE).is_file() and not force:
        progress(f"artefacts up to date: {final}")
        return final
    base = build_artefacts(
        out_root, force=force, progress=progress, all_writers=True, extra=stack.files
    )
    return after_build(base, out_root, stack=stack, progress=progress)


def build_stacked(
    base: Path,
    out_root: Path | None = None,
    *,
    progress: Progress = print,
    rules: RulesFlag | None = None,
    stack: StackRecipe = DEFAULT_STACK,
) -> Path:
    """The stacked folder of the all-writers folder ``base`` (built when absent)."""
    final = stacked_dir(base, out_root, stack)
    if (final / META_FILE).is_file():
        progress(f"artefacts up to date: {final}")
        return final
    meta = read_meta(base)
    if meta.get("artefact_version") != "v8":
        raise ValueError(f"{base} is not an all-writers (v8) artefact")
    clf = load_classifier(base)
    assert isinstance(clf, OnnxMentionClassifier)
    rows = load_training_corpus(DEFAULT_CORPUS, stack.files, all_rows=True)
    texts = [e.text for e in rows]
    enc = clf.encoder
    digest = encoder_digest(base / ONNX_FILE, base / TOKENIZER_DIR, enc.prefix, enc.max_length)
    store = EmbeddingCache(cache_root() / "embeddings" / digest[:16])
    emb, _ = store.encode(texts, lambda todo: _encode_with_progress(enc, todo, progress))
    y = np.array([TOPIC in e.topics for e in rows], dtype=np.float64)
    heads = load_pv_head(clf, progress=progress)
    if heads is None:
        raise FileNotFoundError("the PV labelled sets (tests/data/pv) are needed to build a stack")
    readings = stack_readings(clf, texts, emb, rows, meta, heads, stack, rules, progress)
    beta = float(load_taxonomy(DEFAULT_TAXONOMY).betas.get(TOPIC, 1.0))
    w, b, thr = fit_stack(readings, y, beta=beta, floor=stack.floor, inputs=stack.inputs)
    patient = "patient" in stack.inputs
    ae = AeStack(
        heads.mean,
        heads.scale,
        heads.weights[0],
        float(heads.bias[0]),
        w,
        b,
        thr,
        RULES_GATE,
        stack.inputs,
        heads.weights[1] if patient else None,
        float(heads.bias[1]) if patient else 0.0,
    )
    on = ae.score(readings) >= thr
    tp = float((on & (y > 0.5)).sum())
    with atomic_dir(final) as tmp:
        _link_or_copy(base / ONNX_FILE, tmp / ONNX_FILE)
        shutil.copytree(base / TOKENIZER_DIR, tmp / TOKENIZER_DIR)
        shutil.copy2(base / HEAD_FILE, tmp / HEAD_FILE)
        ae.save(tmp / AE_STACK_FILE)
        copy_into(heads, tmp)
        meta.update(version=final.name, artefact_version=stack.version, base=meta["version"])
        meta["thresholds"] = {**meta["thresholds"], TOPIC: thr}
        meta["ae_stack"] = {
            **stack.config,
            "weights": {**dict(zip(stack.inputs, w, strict=True)), "bias": b},
            "threshold": thr,
            "oof_recall": round(tp / max(1.0, float(y.sum())), 4),
            "oof_precision": round(tp / max(1.0, float(on.sum())), 4),
            "rules_rows": int((readings["topic"] >= RULES_GATE).sum()),
        }
        (tmp / META_FILE).write_text(json.dumps(meta, indent=2, ensure_ascii=False) + "\n")
    progress(f"wrote {final}")
    return final


def stack_readings(
    clf: OnnxMentionClassifier,
    texts: list[str],
    emb: Any,
    rows: list[Any],
    meta: dict[str, Any],
    heads: Any,
    stack: StackRecipe,
    rules: RulesFlag | None,
    progress: Progress,
) -> dict[str, Any]:
    """The training rows' readings the stack takes: the out-of-fold topic scores (of every topic
    when it reads ``others``), the PV heads' probabilities, the rules' gated flags."""
    l2 = {t: float(v) for t, v in meta["training"]["l2"].items()}
    topics = list(clf.head.topics) if "others" in stack.inputs else [TOPIC]
    progress(f"ae stack: out-of-fold scores of {len(texts)} rows, {len(topics)} topic(s)")
    oof = topic_oof(clf, texts, emb, [e.topics for e in rows], [e.source for e in rows], l2, topics)
    p = oof[TOPIC]
    pv = heads.proba(emb)
    readings: dict[str, Any] = {"topic": p, "reaction": pv[:, 0], "patient": pv[:, 1]}
    if "others" in stack.inputs:
        readings["others"] = others_max(
            np.column_stack([oof[t] for t in topics]), topics.index(TOPIC)
        )
    flags = np.zeros((len(texts), 2))
    gated = np.flatnonzero(p >= RULES_GATE)
    progress(f"ae stack: PV rules on {len(gated)} rows at or above the gate")
    got = (rules or pv_rules())([texts[i] for i in gated])
    flags[gated] = np.asarray(got, dtype=float).reshape(len(gated), 2)
    readings["rules"], readings["named"] = flags[:, 0], flags[:, 1]
    return readings
