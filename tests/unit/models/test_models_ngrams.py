"""Hashed n-gram features and the head that uses them next to the embedding."""

from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np

from models.head import Head, train_head
from models.ngrams import hashed_ngrams, ngrams

STANCES = ("supportive", "neutral", "critical")


def test_ngrams_fold_case_and_accents_and_share_char_grams() -> None:
    assert ngrams("Remboursé ANSM") == ngrams("rembourse ansm")
    grams = ngrams("phase 3")
    assert "phase 3" in grams and "<pha" in grams and "se>" not in grams
    shared = set(ngrams("remboursé")) & set(ngrams("remboursement"))
    assert {"<rem", "remb", "embo", "mbou", "bour", "ours"} <= shared


def test_hashed_rows_are_scaled_unit_vectors_and_deterministic() -> None:
    x = hashed_ngrams(["Glytera price up", "", "Glytera price up"], 256, scale=20.0)
    assert x.shape == (3, 256)
    assert np.isclose(np.linalg.norm(x[0]), 20.0)
    assert not x[1].any()  # empty text: all zeros, no division by zero
    np.testing.assert_array_equal(x[0], x[2])
    # CRC-32, not Python's salted hash(): the same bucket in every process and Python version
    one = hashed_ngrams(["x"], 64)[0]
    assert np.flatnonzero(one).tolist() == [zlib.crc32(b"x") % 64]  # "<x>" is too short for 4-grams


def test_head_learns_from_words_the_embedding_does_not_carry(tmp_path: Path) -> None:
    """Embeddings are pure noise; only the word "essai"/"trial" tells the topic apart."""
    rng = np.random.default_rng(0)
    texts, topics, stances = [], [], []
    for i in range(300):
        on = i % 3 == 0
        word = ("essai" if i % 2 else "trial") if on else ("hello", "bonjour", "merci")[i % 3]
        texts.append(f"{word} Glytera number {i}")
        topics.append(("clinical_trial",) if on else ("other",))
        stances.append(STANCES[i % 3])
    emb = rng.normal(size=(300, 8))
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    x = np.hstack([emb, hashed_ngrams(texts, 512, 20.0)])
    head, _ = train_head(
        x,
        topics,
        stances,
        topics=("clinical_trial", "other"),
        stances=STANCES,
        l2_grid=(10.0,),
        ngram_dim=512,
        ngram_scale=20.0,
    )
    # n-gram columns are not standardised (unseen buckets must not blow up at serving)
    assert np.all(head.mean[8:] == 0) and np.all(head.scale[8:] == 1)
    new = ["un essai de phase 3", "thanks, hello again"]
    new_emb = rng.normal(size=(2, 8))
    p = head.topic_proba(head.features(new_emb, new))[:, 0]
    assert p[0] > 0.5 > p[1]
    head.save(tmp_path / "head.npz")
    again = Head.load(tmp_path / "head.npz")
    assert (again.ngram_dim, again.ngram_scale) == (512, 20.0)
    np.testing.assert_allclose(again.features(new_emb, new), head.features(new_emb, new))


def test_heads_saved_without_ngrams_still_load(tmp_path: Path) -> None:
    """Artefacts built before n-gram features (no "ngram" array) keep working."""
    d = 4
    head = Head(
        topics=("pricing",),
        stances=STANCES,
        mean=np.zeros(d),
        scale=np.ones(d),
        topic_w=np.ones((1, d)),
        topic_b=np.zeros(1),
        platt_a=np.ones(1),
        platt_b=np.zeros(1),
        thresholds=np.full(1, 0.5),
        stance_w=np.zeros((3, d + 1)),
    )
    path = tmp_path / "old.npz"
    fields = {
        k: getattr(head, k)
        for k in [
            *("mean", "scale", "topic_w", "topic_b"),
            *("platt_a", "platt_b", "thresholds", "stance_w"),
        ]
    }
    np.savez(path, topics=np.array(head.topics), stances=np.array(STANCES), **fields)
    old = Head.load(path)
    assert old.ngram_dim == 0
    emb = np.ones((1, d))
    np.testing.assert_array_equal(old.features(emb, ["x"]), emb)
