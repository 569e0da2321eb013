"""Leave-one-writer-out cross-validation of head recipes (issue 17).

Why: a held-out split drawn from the writers the model trains on flatters it; what matters is how
the head does on mentions by a writer it has never read. The labelled rows come from nine
writers or briefs (``WRITER_SOURCES``): the seed corpus, Corpus 2.0 writers a, b and c, the
first independent held-out set, and the two writers each of held-out 2 and 3 (all of them
judges no more after their looks, so training data and writers here). Recipes v6 to v8 use the
first five, as they were built; ``writers9`` (the head of artefact v10) all nine.
For each writer, each recipe trains its topic heads on the *other* writers' rows it
uses (choosing L2, Platt, calibration and thresholds by its own rule on them) and scores every
row of the left-out writer: macro-F1 per language (``other`` counted, as ``tocsin model eval``
does), adverse_event precision and recall, and the largest per-topic ECE.

Texts are filled as the build fills training rows (``models.corpus.load_training_corpus``: half
fictional, half real names, by id), embedded once with an artefact's int8 encoder (from the
build's embedding store where it has them) and given the build's features (models/head.py).
Stance is not trained: it does not enter these figures.

Run: ``PYTHONPATH=. python -m models.writer_cv [--recipes v6,v7,...] [--artefacts DIR] [--json
FILE]`` (about a minute per recipe and writer on 2 shared cores). Figures in
models/data/README.md.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from models.artefacts import ONNX_FILE, TOKENIZER_DIR, cache_root
from models.build import NGRAM_DIM, NGRAM_SCALE, _encode_with_progress
from models.calibration import apply_map, expected_calibration_error
from models.classifier import default_artefact_dir, read_meta
from models.corpus import (
    CORPUS2_FILES,
    DEFAULT_CORPUS,
    HELDOUT1_FILE,
    HELDOUT2_FILE,
    HELDOUT3_FILE,
    WRITERS9_FILES,
    load_training_corpus,
)
from models.embedcache import EmbeddingCache, encoder_digest
from models.encoder import OnnxEncoder
from models.evaluate import topic_metrics
from models.head import (
    TrainReport,
    choose_topic,
    head_features,
    standardisation,
    topic_matrix,
)
from models.optim import balanced_weights, fit_binary_many, group_parts, kfold, sigmoid
from models.taxonomy import DEFAULT_TAXONOMY, load_taxonomy

Array = npt.NDArray[np.float64]

#: Writer name -> the source of their rows as the build's folds name it (``Example.source``:
#: the file's stem, or ``stem:writer`` in a file that holds two writers' rows).
WRITER_SOURCES: tuple[tuple[str, str], ...] = (
    ("seed", DEFAULT_CORPUS.stem),
    ("writer-a", CORPUS2_FILES[0].stem),
    ("writer-b", CORPUS2_FILES[1].stem),
    ("writer-c", CORPUS2_FILES[2].stem),
    ("heldout-1", HELDOUT1_FILE.stem),
    ("heldout-2a", f"{HELDOUT2_FILE.stem}:w-heldout-2a"),
    ("heldout-2b", f"{HELDOUT2_FILE.stem}:w-heldout-2b"),
    ("heldout-3a", f"{HELDOUT3_FILE.stem}:w-heldout-3a"),
    ("heldout-3b", f"{HELDOUT3_FILE.stem}:w-heldout-3b"),
)
WRITERS = tuple(w for w, _ in WRITER_SOURCES)
#: The five writers of v8 and v9's training (the seed corpus, Corpus 2.0, held-out 1).
WRITERS5 = WRITERS[:5]
#: The writers closest to a new independent one first (on a loaded machine a run may be cut).
LEAVE_OUT_ORDER = (
    "heldout-3b",
    "heldout-3a",
    "heldout-2b",
    "heldout-2a",
    "heldout-1",
    "writer-c",
    "writer-a",
    "writer-b",
    "seed",
)


@dataclass(frozen=True)
class Row:
    """One labelled, filled mention and where it comes from."""

    writer: str
    text: str
    lang: str
    topics: tuple[str, ...]
    split: str  # the file's own split: train, test (seed) or validation (Corpus 2.0)


@dataclass(frozen=True)
class Recipe:
    """How a head is trained: on which writers' rows, with which calibration and folds."""

    name: str
    writers: tuple[str, ...]
    all_rows: bool  # False: only rows whose own split is ``train`` (as v6 and v7 train)
    calibration: str  # "platt" or "auto" (models/head.py)
    writer_folds: bool  # folds by writer instead of 5 shuffled folds


RECIPES = (
    Recipe("v6", ("seed", "writer-a", "writer-b"), False, "platt", False),
    Recipe("v7", ("seed", "writer-a", "writer-b", "writer-c"), False, "auto", False),
    Recipe("all", WRITERS5, True, "auto", False),
    Recipe("all+writer-folds", WRITERS5, True, "auto", True),
    Recipe("writers9", WRITERS, True, "auto", True),
)
#: The recipe of the head under the adverse_event stack (bench/ae_cv.py, artefact v10).
WRITERS9 = RECIPES[-1]


def load_rows() -> list[Row]:
    """Every row of every writer, placeholders filled as the build fills training rows (the
    build's own loader, so the texts and the files' own splits are the build's)."""
    by_source = {source: writer for writer, source in WRITER_SOURCES}
    return [
        Row(by_source[e.source], e.text, e.lang, e.topics, e.split)
        for e in load_training_corpus(DEFAULT_CORPUS, WRITERS9_FILES)
    ]


def features(rows: Sequence[Row], artefacts: Path) -> Array:
    """The build's head features of ``rows`` with the artefact's encoder (store-cached)."""
    encoder = OnnxEncoder(artefacts / ONNX_FILE, artefacts / TOKENIZER_DIR)
    digest = encoder_digest(
        artefacts / ONNX_FILE, artefacts / TOKENIZER_DIR, encoder.prefix, encoder.max_length
    )
    store = EmbeddingCache(cache_root() / "embeddings" / digest[:16])
    texts = [r.text for r in rows]
    emb, computed = store.encode(texts, lambda todo: _encode_with_progress(encoder, todo, print))
    print(f"{len(texts)} texts, {computed} embedded now")
    cues = tuple(load_taxonomy(DEFAULT_TAXONOMY).cue_lexicon.items())
    return head_features(emb, texts, cues=cues, ngram_dim=NGRAM_DIM, ngram_scale=NGRAM_SCALE)


def oof_fits(
    xs: Array, y: Array, l2s: Sequence[float], parts: Sequence[npt.NDArray[np.int64]]
) -> tuple[Array, Array]:
    """Every topic's fit on all rows at its own L2, and its out-of-fold logits (the fold fits
    warm-started from the full ones, as the build's ``topic_fits``)."""
    w = np.column_stack([balanced_weights(y[:, j].astype(np.int64), 2) for j in range(y.shape[1])])
    full = fit_binary_many(xs, y, w, l2s)
    oof = np.empty(y.shape)
    for held in parts:
        train = np.setdiff1d(np.arange(len(y)), held)
        fold = fit_binary_many(xs[train], y[train], w[train], l2s, full)
        oof[held] = xs[held] @ fold[:, :-1].T + fold[:, -1]
    return full, oof


@dataclass(frozen=True)
class HeadFit:
    """A recipe's topic heads trained on some rows: calibrated scores of every row, the
    thresholds, and the training rows' calibrated out-of-fold scores (columns: the taxonomy's
    trained topics but ``other``)."""

    train: npt.NDArray[np.int64]
    proba: Array
    thr: Array
    oof: Array


def fit_and_score(
    x: Array,
    rows: Sequence[Row],
    train: npt.NDArray[np.int64],
    recipe: Recipe,
    l2: dict[str, float],
) -> HeadFit:
    """Topic heads trained on ``train`` by the build's rules, each topic at the L2 given (the
    build picks it from a grid by out-of-fold log-loss; fixed here to keep a fit to a third of
    the time), scoring every row."""
    tax = load_taxonomy(DEFAULT_TAXONOMY)
    topics = tuple(t for t in tax.trained if t != "other")
    mean, scale = standardisation(x[train], NGRAM_DIM)
    xs_train = (x[train] - mean) / scale
    n = len(train)
    parts = group_parts([rows[i].writer for i in train]) if recipe.writer_folds else kfold(n, 5, 0)
    y = topic_matrix([rows[i].topics for i in train], topics, len(parts))
    full_fits, oofs = oof_fits(xs_train, y, [l2[t] for t in topics], parts)
    xs_all = (x - mean) / scale
    proba = np.empty((x.shape[0], len(topics)))
    oof = np.empty((n, len(topics)))
    thr = np.empty(len(topics))
    for j, topic in enumerate(topics):
        c = choose_topic(
            topic,
            y[:, j],
            [(l2[topic], oofs[:, j], full_fits[j])],
            parts,
            calibration=recipe.calibration,
            beta=float(tax.betas.get(topic, 1.0)),
            floor=tax.min_recalls.get(topic),
            report=TrainReport(),
        )
        for out, z in ((proba, xs_all @ c.fit[:-1] + c.fit[-1]), (oof, oofs[:, j])):
            p = sigmoid(z * c.platt[0] + c.platt[1])
            out[:, j] = p if c.calib is None else apply_map(p, c.calib)
        thr[j] = c.threshold
    return HeadFit(train, proba, thr, oof)


def score(
    rows: Sequence[Row], proba: Array, thresholds: Array, topics: Sequence[str]
) -> dict[str, Any]:
    """Macro-F1 per language, adverse_event P/R and the largest per-topic ECE of ``rows``."""
    pred = [
        {t for t, on in zip(topics, p >= thresholds, strict=True) if on} or {"other"} for p in proba
    ]
    gold = [set(r.topics) for r in rows]
    out: dict[str, Any] = {"n": len(rows)}
    labels = (*topics, "other")
    for lang in ("en", "fr"):
        keep = [i for i, r in enumerate(rows) if r.lang == lang]
        m = topic_metrics([gold[i] for i in keep], [pred[i] for i in keep], labels)
        out[f"f1_{lang}"] = m["macro_f1"]
    ae = topic_metrics(gold, pred, labels)["per_topic"]["adverse_event"]
    out["ae_p"], out["ae_r"] = ae["precision"], ae["recall"]
    y = np.array([[t in g for t in topics] for g in gold], dtype=float)
    out["max_ece"] = round(
        max(expected_calibration_error(y[:, j], proba[:, j]) for j in range(len(topics))), 4
    )
    return out


def run(
    recipes: Sequence[Recipe], artefacts: Path, left_out: Sequence[str] = LEAVE_OUT_ORDER
) -> dict[str, dict[str, dict[str, Any]]]:
    """Per recipe, per left-out writer, the scores of that writer's rows."""
    rows = load_rows()
    x = features(rows, artefacts)
    l2 = {t: float(v) for t, v in read_meta(artefacts)["training"]["l2"].items()}
    topics = tuple(t for t in load_taxonomy(DEFAULT_TAXONOMY).trained if t != "other")
    results: dict[str, dict[str, dict[str, Any]]] = {}
    fitted: dict[tuple[bytes, str, bool], HeadFit] = {}  # same rows and rule: same fit
    for recipe in recipes:
        results[recipe.name] = {}
        for writer in left_out:
            train = np.array(
                [
                    i
                    for i, r in enumerate(rows)
                    if r.writer in recipe.writers
                    and r.writer != writer
                    and (recipe.all_rows or r.split == "train")
                ],
                dtype=np.int64,
            )
            held = np.array([i for i, r in enumerate(rows) if r.writer == writer])
            key = (train.tobytes(), recipe.calibration, recipe.writer_folds)
            if key not in fitted:
                fitted[key] = fit_and_score(x, rows, train, recipe, l2)
            fit = fitted[key]
            s = score([rows[i] for i in held], fit.proba[held], fit.thr, topics)
            s["n_train"] = len(train)
            results[recipe.name][writer] = s
            print(recipe.name, writer, json.dumps(s), flush=True)
    return results


def table(results: dict[str, dict[str, dict[str, Any]]]) -> str:
    """A Markdown table: one line per recipe and left-out writer, then the writers' mean."""
    head = "| recipe | left-out writer | rows | macro-F1 EN | macro-F1 FR | AE P | AE R | max ECE |"
    lines = [head, "|---|---|---|---|---|---|---|---|"]
    keys = ("f1_en", "f1_fr", "ae_p", "ae_r", "max_ece")
    for name, per in results.items():
        for writer, s in per.items():
            vals = " | ".join(f"{s[k]:.3f}" for k in keys)
            lines.append(f"| {name} | {writer} | {s['n']} | {vals} |")
        mean = " | ".join(f"{np.mean([s[k] for s in per.values()]):.3f}" for k in keys)
        lines.append(f"| {name} | **mean of writers** | | {mean} |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--recipes", default=",".join(r.name for r in RECIPES))
    ap.add_argument("--artefacts", type=Path, default=None, help="folder whose encoder is used")
    ap.add_argument("--json", type=Path, default=None, help="also write the figures here")
    ap.add_argument("--left-out", default=",".join(LEAVE_OUT_ORDER), help="writers to leave out")
    args = ap.parse_args(argv)
    by_name = {r.name: r for r in RECIPES}
    chosen = [by_name[name] for name in args.recipes.split(",")]
    results = run(chosen, args.artefacts or default_artefact_dir(), args.left_out.split(","))
    print(table(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
