"""The numpy head on small synthetic embeddings: it learns, calibrates, thresholds and round-trips."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from models.head import (
    Head,
    best_threshold,
    head_features,
    train_head,
)
from models.optim import balanced_weights, fit_binary, kfold

TOPICS = ("pricing", "adverse_event", "other")
STANCES = ("supportive", "neutral", "critical")


def synthetic(n: int, seed: int) -> tuple[np.ndarray, list[tuple[str, ...]], list[str]]:
    """Unit vectors where topic and stance are encoded in separate directions, plus noise."""
    rng = np.random.default_rng(seed)
    d = 16
    x = rng.normal(0, 0.35, (n, d))
    topics: list[tuple[str, ...]] = []
    stances: list[str] = []
    for i in range(n):
        labels = []
        if rng.random() < 0.3:
            x[i, 0] += 1.5
            labels.append("pricing")
        if rng.random() < 0.15:  # rarer topic: class weights matter
            x[i, 1] += 1.5
            labels.append("adverse_event")
        topics.append(tuple(labels) or ("other",))
        s = int(rng.integers(0, 3))
        x[i, 2 + s] += 1.5
        stances.append(STANCES[s])
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x, topics, stances


@pytest.fixture(scope="module")
def trained() -> tuple[Head, object]:
    x, t, s = synthetic(400, seed=1)
    return train_head(x, t, s, topics=TOPICS, stances=STANCES, l2_grid=(1.0, 10.0))


def test_other_is_not_a_head(trained: tuple[Head, object]) -> None:
    head, _ = trained
    assert head.topics == ("pricing", "adverse_event")
    assert head.stances == STANCES


def test_learns_topics_and_stance_on_held_out_data(trained: tuple[Head, object]) -> None:
    head, _ = trained
    x, t, s = synthetic(300, seed=2)
    p = head.topic_proba(x)
    for j, topic in enumerate(head.topics):
        gold = np.array([topic in lbl for lbl in t])
        pred = p[:, j] >= head.thresholds[j]
        tp = (pred & gold).sum()
        f1 = 2 * tp / (pred.sum() + gold.sum())
        recall = tp / gold.sum()
        assert f1 > 0.85, (topic, f1)
        assert recall > 0.9, (topic, recall)
    acc = (np.array(head.stances)[head.stance_proba(x).argmax(axis=1)] == np.array(s)).mean()
    assert acc > 0.9


def test_probabilities_are_calibrated(trained: tuple[Head, object]) -> None:
    """Mean predicted probability tracks the observed rate (balanced weights would inflate it)."""
    head, _ = trained
    x, t, _ = synthetic(2000, seed=3)
    p = head.topic_proba(x)
    for j, topic in enumerate(head.topics):
        rate = np.mean([topic in lbl for lbl in t])
        assert abs(p[:, j].mean() - rate) < 0.05, (topic, p[:, j].mean(), rate)
    sp = head.stance_proba(x)
    assert np.allclose(sp.sum(axis=1), 1.0)


def test_adverse_event_threshold_favours_recall() -> None:
    x, t, s = synthetic(400, seed=4)
    _, f1_report = train_head(x, t, s, topics=TOPICS, stances=STANCES, betas={}, l2_grid=(10.0,))
    _, f2_report = train_head(x, t, s, topics=TOPICS, stances=STANCES, l2_grid=(10.0,))
    assert f2_report.betas["adverse_event"] == 2.0
    assert f2_report.thresholds["adverse_event"] <= f1_report.thresholds["adverse_event"]


def test_save_load_round_trip(tmp_path: Path, trained: tuple[Head, object]) -> None:
    head, _ = trained
    head.save(tmp_path / "head.npz")
    again = Head.load(tmp_path / "head.npz")
    x, _, _ = synthetic(20, seed=5)
    assert again.topics == head.topics and again.stances == head.stances
    np.testing.assert_allclose(again.topic_proba(x), head.topic_proba(x))
    np.testing.assert_allclose(again.stance_proba(x), head.stance_proba(x))


def test_too_few_positives_is_a_clear_error() -> None:
    x, _, s = synthetic(50, seed=6)
    topics = [("pricing",)] * 3 + [("other",)] * 47
    with pytest.raises(ValueError, match="'pricing' has 3 positive"):
        train_head(x, topics, s, topics=("pricing", "other"), stances=STANCES)


def test_fit_binary_matches_separable_direction() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 3))
    y = (x[:, 0] > 0).astype(float)
    w, _ = fit_binary(x, y, np.ones(200), l2=1.0)
    assert w[0] > 5 * max(abs(w[1]), abs(w[2]))


def test_balanced_weights_give_each_class_equal_mass() -> None:
    y = np.array([0, 0, 0, 1])
    w = balanced_weights(y, 2)
    assert w[y == 0].sum() == pytest.approx(w[y == 1].sum())
    with pytest.raises(ValueError):
        balanced_weights(np.array([0, 0]), 2)


def test_kfold_partitions_indices() -> None:
    parts = kfold(23, 5, seed=0)
    assert sorted(np.concatenate(parts).tolist()) == list(range(23))
    assert max(len(p) for p in parts) - min(len(p) for p in parts) <= 1


def test_best_threshold_picks_separating_value() -> None:
    y = np.array([0, 0, 0, 1, 1])
    p = np.array([0.1, 0.2, 0.3, 0.7, 0.8])
    t, f = best_threshold(y, p)
    assert 0.3 < t <= 0.7 and f == 1.0


def test_recall_floor_lowers_the_threshold_until_recall_is_reached() -> None:
    # F1 is best at 0.65 (3 of 4 positives, no false alarm); a 1.0 recall floor must take the
    # threshold below the lone low-scoring positive, false alarms included.
    y = np.array([0, 0, 0, 1, 1, 1, 1])
    p = np.array([0.1, 0.3, 0.5, 0.2, 0.7, 0.8, 0.9])
    t_f1, _ = best_threshold(y, p)
    t_floor, _ = best_threshold(y, p, min_recall=1.0)
    assert 0.5 < t_f1 <= 0.7
    assert 0.1 < t_floor <= 0.2
    assert ((p >= t_floor) & (y == 1)).sum() == 4


def test_unreachable_recall_floor_takes_the_lowest_threshold() -> None:
    y = np.array([0, 1, 1])
    p = np.array([0.5, 0.01, 0.9])  # 0.01 is below the whole grid
    t, _ = best_threshold(y, p, min_recall=1.0)
    assert t == 0.05


def test_cue_and_prototype_blocks_round_trip_and_sit_before_the_ngrams(tmp_path: Path) -> None:
    x, t, s = synthetic(200, seed=3)
    texts = ["price hike again" if "pricing" in lbl else "hello" for lbl in t]
    protos = np.eye(16)[:3]
    cues = (("pricing", ("price*", "cost*")), ("other", ("hello",)))
    base, _ = train_head(x, t, s, topics=TOPICS, stances=STANCES, l2_grid=(1.0,))
    blocks = replace(base, cues=cues, prototypes=protos, ngram_dim=8, ngram_scale=1.0)
    feats = blocks.features(x, texts)
    assert feats.shape == (200, 16 + 2 + 3 + 8)
    np.testing.assert_allclose(feats[:, 16], [np.log1p(1) if "price" in w else 0 for w in texts])
    np.testing.assert_allclose(feats[:, 18:21], x[:, :3] / np.linalg.norm(x, axis=1)[:, None])
    head, _ = train_head(
        feats,
        t,
        s,
        topics=TOPICS,
        stances=STANCES,
        l2_grid=(1.0,),
        ngram_dim=8,
        ngram_scale=1.0,
        cues=cues,
        prototypes=protos,
    )
    head.save(tmp_path / "head.npz")
    again = Head.load(tmp_path / "head.npz")
    assert again.cues == cues
    assert again.prototypes is not None
    np.testing.assert_allclose(again.prototypes, protos)
    np.testing.assert_allclose(again.features(x, texts), feats)
    np.testing.assert_allclose(again.topic_proba(feats), head.topic_proba(feats))


def test_a_head_saved_before_cues_and_prototypes_loads_without_them(
    tmp_path: Path, trained: tuple[Head, object]
) -> None:
    head, _ = trained
    head.save(tmp_path / "head.npz")
    with np.load(tmp_path / "head.npz") as z:
        old = {k: z[k] for k in z.files if k not in ("cues", "prototypes")}
    np.savez(tmp_path / "old.npz", **old)
    again = Head.load(tmp_path / "old.npz")
    assert again.cues == () and again.prototypes is None
    x, _, _ = synthetic(5, seed=9)
    np.testing.assert_allclose(again.features(x, ["a"] * 5), x)


def test_a_constant_dense_column_keeps_unit_scale() -> None:
    x, t, s = synthetic(200, seed=4)
    head, _ = train_head(
        np.hstack([x, np.zeros((200, 1))]), t, s, topics=TOPICS, stances=STANCES, l2_grid=(1.0,)
    )
    assert head.scale[-1] == 1.0  # a cue that never matched in training is not blown up 1e6x


def test_serving_computes_the_cue_block_the_head_was_trained_on() -> None:
    from models.classifier import OnnxMentionClassifier

    x, t, s = synthetic(300, seed=6)
    texts = ["the price went up" if "pricing" in lbl else "hello there" for lbl in t]
    cues = (("pricing", ("price*",)),)
    feats = head_features(x, texts, cues=cues)
    head, _ = train_head(feats, t, s, topics=TOPICS, stances=STANCES, l2_grid=(1.0,), cues=cues)

    class FakeEncoder:  # serving hands the encoder's embeddings and the texts to the head
        def encode(self, batch: list[str]) -> np.ndarray:
            return x[: len(batch)]

    clf = OnnxMentionClassifier(FakeEncoder(), head, "test")  # type: ignore[arg-type]
    got = clf.classify(texts[:50])
    expected = head.topic_proba(feats[:50])
    np.testing.assert_allclose([[p.scores[tp] for tp in head.topics] for p in got], expected)


def test_auto_calibration_reports_its_choice_and_round_trips(tmp_path: Path) -> None:
    x, t, s = synthetic(400, seed=1)
    head, report = train_head(
        x, t, s, topics=TOPICS, stances=STANCES, l2_grid=(1.0, 10.0), calibration="auto"
    )
    assert head.calib is not None and head.calib.shape[0] == len(head.topics)
    assert set(report.calibration) == set(head.topics)
    assert set(report.calibration.values()) <= {"platt", "isotonic"}
    assert set(report.oof_ece) == set(head.topics)
    head.save(tmp_path / "head.npz")
    again = Head.load(tmp_path / "head.npz")
    assert again.calib is not None
    x2, _, _ = synthetic(50, seed=7)
    np.testing.assert_allclose(again.topic_proba(x2), head.topic_proba(x2))
    with pytest.raises(ValueError, match="calibration"):
        train_head(x, t, s, topics=TOPICS, stances=STANCES, calibration="beta")


def test_a_topic_mapped_by_isotonic_serves_the_map_of_its_platt_score(
    trained: tuple[Head, object],
) -> None:
    head, _ = trained
    assert head.calib is None  # the default ("platt") stores no map, as heads before v7
    x, _, _ = synthetic(30, seed=8)
    platt_only = head.topic_proba(x)
    squash = np.linspace(0.0, 1.0, 401) ** 2  # a map p -> p^2 for the first topic, identity after
    mapped = replace(head, calib=np.vstack([squash, np.linspace(0.0, 1.0, 401)]))
    got = mapped.topic_proba(x)
    np.testing.assert_allclose(got[:, 0], platt_only[:, 0] ** 2, atol=1e-5)
    np.testing.assert_allclose(got[:, 1], platt_only[:, 1])


def test_batched_fits_take_the_same_steps_as_one_fit_at_a_time() -> None:
    from models.optim import fit_binary_many

    x, t, _ = synthetic(300, seed=11)
    ys = np.array([[topic in lbl for topic in ("pricing", "adverse_event")] for lbl in t], float)
    ws = np.column_stack([balanced_weights(ys[:, j].astype(np.int64), 2) for j in range(2)])
    # problems: (pricing, 1), (pricing, 30), (adverse_event, 1), (adverse_event, 30)
    ys4, ws4, l2s = np.repeat(ys, 2, axis=1), np.repeat(ws, 2, axis=1), [1.0, 30.0, 1.0, 30.0]
    together = fit_binary_many(x, ys4, ws4, l2s)
    for p, l2 in enumerate(l2s):
        w, b = fit_binary(x, ys4[:, p], ws4[:, p], l2)
        np.testing.assert_allclose(together[p], np.r_[w, b], rtol=1e-9, atol=1e-12)
    warm = fit_binary_many(x[:200], ys4[:200], ws4[:200], l2s, together)
    w, b = fit_binary(x[:200], ys4[:200, 3], ws4[:200, 3], 30.0, together[3])
    np.testing.assert_allclose(warm[3], np.r_[w, b], rtol=1e-9, atol=1e-12)


def test_batched_stance_fits_match_one_at_a_time() -> None:
    from models.optim import fit_softmax, fit_softmax_many

    x, _, s = synthetic(240, seed=12)
    y = np.array([STANCES.index(v) for v in s], dtype=np.int64)
    w = balanced_weights(y, 3)
    together = fit_softmax_many(x, y, 3, w, [1.0, 30.0])
    for p, l2 in enumerate((1.0, 30.0)):
        np.testing.assert_allclose(together[p], fit_softmax(x, y, 3, w, l2), rtol=1e-9, atol=1e-12)
    warm = fit_softmax_many(x[:150], y[:150], 3, w[:150], [1.0, 30.0], together)
    alone = fit_softmax(x[:150], y[:150], 3, w[:150], 1.0, together[0])
    np.testing.assert_allclose(warm[0], alone, rtol=1e-9, atol=1e-12)
