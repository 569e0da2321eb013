"""Topic prototype similarity: cosine of a mention's embedding to each topic's taxonomy text.

Why: the taxonomy's ``description`` and ``examples`` say what a topic means in words the
1,400 training lines may not use; embedded by the same encoder (same query prefix), their mean is
a point in the embedding space per topic, and a mention's cosine to it is a feature the head can
weigh. The prototypes are computed once at build time and stored in the head file, so serving
needs neither the taxonomy text nor extra encoder calls.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import numpy.typing as npt

from models.taxonomy import Taxonomy

Array = npt.NDArray[np.float64]
Encode = Callable[[Sequence[str]], npt.ArrayLike]


def topic_texts(tax: Taxonomy) -> list[tuple[str, list[str]]]:
    """``(topic id, [description, *examples])`` for every topic, the fallback included."""
    return [(t.id, [t.description, *t.examples]) for t in tax.topics]


def topic_prototypes(encode: Encode, tax: Taxonomy) -> tuple[tuple[str, ...], Array]:
    """Topic ids and their unit-norm prototypes ``(T, dim)``: the mean of the texts' embeddings."""
    ids, rows = [], []
    for topic, texts in topic_texts(tax):
        emb = np.asarray(encode(texts), dtype=np.float64)
        emb /= np.linalg.norm(emb, axis=1, keepdims=True) + 1e-12
        mean = emb.mean(axis=0)
        ids.append(topic)
        rows.append(mean / (np.linalg.norm(mean) + 1e-12))
    return tuple(ids), np.array(rows)


def prototype_features(embeddings: npt.ArrayLike, prototypes: Array) -> Array:
    """``(n, T)`` cosines between unit-normalised ``embeddings`` and the ``prototypes``."""
    emb = np.asarray(embeddings, dtype=np.float64)
    emb = emb / (np.linalg.norm(emb, axis=1, keepdims=True) + 1e-12)
    return np.asarray(emb @ np.asarray(prototypes, dtype=np.float64).T)
