"""Case-triage heads: small logistic models over the classifier encoder's sentence embedding.

The PV triage rules (``pipeline/pv``) read words: a lexicon of reactions, patterns for the
patient and for seriousness. Each new writer brings wording no list holds yet, so their recall
on unseen wording stays around 0.8 (docs/pv-triage.md). These heads read the sentence embedding
the classifier already computes for every mention (no second encoder pass), which places a
sentence by meaning rather than by its exact words, and add what the rules miss:

- ``reaction``: the mention reports a reaction that happened;
- ``patient``: the mention speaks of an identifiable patient (the author or someone named);
- ``serious``: the mention reports a serious reaction (labels give seriousness only with a
  reaction); its category is the nearest category centroid among the training's serious rows.

Each is an L2 logistic regression on the standardised embedding with balanced class weights
(:func:`models.optim.fit_binary`), trained on the labelled PV sets of every writer. Which L2
strength and which thresholds are used is chosen by leave-one-writer-out evaluation
(bench/pv_triage_cv.py); they are stored with the weights.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from models.optim import balanced_weights, fit_binary, sigmoid

Array = npt.NDArray[np.float64]

#: The heads, in storage order.
TARGETS = ("reaction", "patient", "serious")


class CaseCues(NamedTuple):
    """What the heads say of one mention (small: kept in the classifier's repost cache)."""

    reaction: bool
    patient: bool
    serious: bool
    category: str  # the nearest seriousness category, read only when ``serious`` holds

    @classmethod
    def read(cls, d: object) -> CaseCues | None:
        """From the JSON object of a classified mention's ``case_cues``; ``None`` when it is
        not one (another writer on the topic: the triage then runs on its rules alone)."""
        if not isinstance(d, Mapping):
            return None
        flags = [d.get(k) for k in ("reaction", "patient", "serious")]
        category = d.get("category")
        if not all(isinstance(f, bool) for f in flags) or not isinstance(category, str):
            return None
        return cls(bool(flags[0]), bool(flags[1]), bool(flags[2]), category)


@dataclass(frozen=True)
class PvHead:
    """Standardisation, one logistic model per target, thresholds, seriousness centroids."""

    mean: Array
    scale: Array
    weights: Array  # (len(TARGETS), d)
    bias: Array  # (len(TARGETS),)
    thresholds: Array  # (len(TARGETS),)
    categories: tuple[str, ...]
    centroids: Array  # (len(categories), d), unit rows, in the raw embedding space

    def proba(self, embeddings: npt.ArrayLike) -> Array:
        """Per-target probabilities, shape ``(n, len(TARGETS))``."""
        x = (np.atleast_2d(np.asarray(embeddings, dtype=np.float64)) - self.mean) / self.scale
        return np.asarray(sigmoid(x @ self.weights.T + self.bias))

    def cues(self, embeddings: npt.ArrayLike) -> list[CaseCues]:
        """Per embedding: each target's probability against its threshold, and the
        seriousness category whose training centroid is nearest (cosine)."""
        emb = np.atleast_2d(np.asarray(embeddings, dtype=np.float64))
        on = self.proba(emb) >= self.thresholds
        near = np.argmax(emb @ self.centroids.T, axis=1) if self.categories else None
        return [
            CaseCues(
                bool(row[0]),
                bool(row[1]),
                bool(row[2]),
                "" if near is None else self.categories[int(near[i])],
            )
            for i, row in enumerate(on)
        ]

    def with_thresholds(self, thresholds: Mapping[str, float]) -> PvHead:
        t = np.array([thresholds.get(k, self.thresholds[i]) for i, k in enumerate(TARGETS)])
        return PvHead(
            self.mean,
            self.scale,
            self.weights,
            self.bias,
            t,
            self.categories,
            self.centroids,
        )

    def save(self, path: Path) -> None:
        np.savez(
            path,
            mean=self.mean,
            scale=self.scale,
            weights=self.weights,
            bias=self.bias,
            thresholds=self.thresholds,
            categories=np.array(self.categories, dtype=str),
            centroids=self.centroids,
        )

    @classmethod
    def load(cls, path: Path) -> PvHead:
        with np.load(path, allow_pickle=False) as z:
            return cls(
                mean=z["mean"],
                scale=z["scale"],
                weights=z["weights"],
                bias=z["bias"],
                thresholds=z["thresholds"],
                categories=tuple(str(c) for c in z["categories"]),
                centroids=z["centroids"],
            )


def fit_pv_head(
    embeddings: npt.ArrayLike,
    labels: Sequence[Mapping[str, object]],
    *,
    l2: float,
    thresholds: Mapping[str, float],
) -> PvHead:
    """Fit the three heads on embeddings and their rows' ``labels`` (the labelled-set schema:
    ``reaction``, ``patient``, ``serious`` booleans and the ``seriousness`` list)."""
    emb = np.asarray(embeddings, dtype=np.float64)
    mean = emb.mean(axis=0)
    scale = emb.std(axis=0) + 1e-6
    x = (emb - mean) / scale
    ws, bs = [], []
    for target in TARGETS:
        y = np.array([bool(lab[target]) for lab in labels], dtype=np.int64)
        if y.min() == y.max():  # one class only: a constant answer
            w, b = np.zeros(x.shape[1]), 20.0 if y[0] else -20.0
        else:
            w, b = fit_binary(x, y.astype(np.float64), balanced_weights(y, 2), l2)
        ws.append(w)
        bs.append(b)
    cats: dict[str, list[int]] = {}
    for i, lab in enumerate(labels):
        seriousness = lab.get("seriousness") or []
        assert isinstance(seriousness, list)
        for cat in seriousness:
            cats.setdefault(str(cat), []).append(i)
    names = tuple(sorted(cats))
    centroids = np.zeros((len(names), emb.shape[1]))
    for j, c in enumerate(names):
        centroids[j] = emb[cats[c]].mean(axis=0)
    norms = np.linalg.norm(centroids, axis=1, keepdims=True)
    return PvHead(
        mean=mean,
        scale=scale,
        weights=np.array(ws),
        bias=np.array(bs),
        thresholds=np.array([thresholds.get(t, 0.5) for t in TARGETS], dtype=np.float64),
        categories=names,
        centroids=np.asarray(centroids / np.maximum(norms, 1e-12)),
    )
