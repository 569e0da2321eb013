"""The classifier head: small linear models on top of sentence embeddings, trained with numpy.

Why linear heads on frozen embeddings: a few hundred to a few thousand labelled mentions are not
enough to fine-tune a transformer well, but they are plenty for a regularised linear model on good
multilingual embeddings; training takes seconds on a CPU and needs nothing beyond numpy.

- **Topics** are multi-label: one L2-regularised logistic regression per topic (one-vs-rest), with
  balanced class weights so rare topics are not drowned. ``other`` is not a head: it is what a
  mention gets when no topic passes its threshold.
- **Calibration and thresholds** come from K-fold cross-validation on the training split only:
  out-of-fold logits are Platt-scaled (so ``scores`` are probabilities, not weighted-loss logits),
  then, per topic where it calibrates better out of fold, mapped through an isotonic curve
  (models/calibration.py); the L2 strength is picked per topic from a small grid by out-of-fold
  log-loss, and each topic's threshold maximises F-beta on the calibrated out-of-fold scores.
  ``adverse_event`` uses beta=2 by default because a missed side-effect report costs far more
  than a false alarm.
- **Stance** is a softmax regression (supportive / neutral / critical), balanced, same L2 search.

All fits use a small numpy L-BFGS with a backtracking line search: the problems are strictly
convex, so it converges deterministically with no learning rate to tune, and each step costs only
a couple of matrix-vector products -- the whole cross-validated training takes seconds.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

from models.calibration import (
    apply_map,
    choose_calibrator,
    expected_calibration_error,
)
from models.cues import cue_features
from models.ngrams import hashed_ngrams
from models.optim import (
    add_bias,
    balanced_weights,
    fit_binary_many,
    fit_softmax_many,
    group_parts,
    kfold,
    platt,
    sigmoid,
    softmax,
)
from models.prototypes import prototype_features

Array = npt.NDArray[np.float64]

OTHER = "other"
DEFAULT_L2_GRID = (1.0, 10.0, 100.0, 1000.0)
DEFAULT_BETAS: Mapping[str, float] = {"adverse_event": 2.0}
THRESHOLD_GRID = np.round(np.linspace(0.05, 0.95, 91), 2)


def best_threshold(
    y: Array, p: Array, beta: float = 1.0, min_recall: float | None = None
) -> tuple[float, float]:
    """Threshold on ``p`` maximising F-beta against ``y``; returns ``(threshold, f_beta)``.

    With ``min_recall``, only thresholds whose recall reaches it are candidates (the lowest
    threshold of the grid when none does): for a topic where a miss is the costly error, recall
    is a requirement and precision what is left to optimise.
    When several thresholds tie (a plateau), the median one is taken: it is the least sensitive
    to small shifts in the score distribution between training and live data.
    """
    pos = y > 0.5
    scores = []
    recalls = []
    b2 = beta * beta
    for t in THRESHOLD_GRID:
        pred = p >= t
        tp = float((pred & pos).sum())
        fp = float((pred & ~pos).sum())
        fn = float((~pred & pos).sum())
        denom = (1 + b2) * tp + b2 * fn + fp
        scores.append((1 + b2) * tp / denom if denom else 0.0)
        recalls.append(tp / (tp + fn) if tp + fn else 0.0)
    arr = np.array(scores)
    if min_recall is not None:
        ok = np.array(recalls) >= min_recall - 1e-12
        if not ok.any():
            return float(THRESHOLD_GRID[0]), float(arr[0])
        arr = np.where(ok, arr, -1.0)
    best = np.flatnonzero(arr >= arr.max() - 1e-12)
    return float(THRESHOLD_GRID[best[len(best) // 2]]), float(arr.max())


def _log_loss(y: Array, p: Array) -> float:
    p = np.clip(p, 1e-7, 1 - 1e-7)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def head_features(
    embeddings: npt.ArrayLike,
    texts: Sequence[str],
    *,
    cues: Sequence[tuple[str, Sequence[str]]] = (),
    prototypes: npt.ArrayLike | None = None,
    ngram_dim: int = 0,
    ngram_scale: float = 0.0,
) -> Array:
    """The head's input, computed by this one function at build and at serving time: the
    embedding, then the cue and prototype blocks and the n-grams when the head uses them. The
    dense blocks come before the n-grams because only the trailing n-grams stay unstandardised.
    """
    emb = np.asarray(embeddings, dtype=np.float64)
    parts = [emb]
    if cues:
        parts.append(cue_features(texts, [c for _, c in cues]))
    if prototypes is not None:
        parts.append(prototype_features(emb, np.asarray(prototypes, dtype=np.float64)))
    if ngram_dim:
        parts.append(hashed_ngrams(texts, ngram_dim, ngram_scale))
    return parts[0] if len(parts) == 1 else np.hstack(parts)


@dataclass(frozen=True)
class Head:
    """Trained head parameters; pure data, so it saves to one ``.npz`` with no pickling."""

    topics: tuple[str, ...]
    stances: tuple[str, ...]
    mean: Array
    scale: Array
    topic_w: Array  # (T, d)
    topic_b: Array  # (T,)
    platt_a: Array  # (T,)
    platt_b: Array  # (T,)
    thresholds: Array  # (T,)
    stance_w: Array  # (S, d + 1)
    #: Hashed n-gram block appended to the embedding (0 = embedding only; see models/ngrams.py).
    ngram_dim: int = 0
    ngram_scale: float = 0.0
    #: Topic cue lexicon block (models/cues.py): ``(topic, cues)`` pairs, one column each.
    cues: tuple[tuple[str, tuple[str, ...]], ...] = ()
    #: Topic prototype block (models/prototypes.py): ``(P, dim)`` unit vectors, one column each.
    prototypes: Array | None = None
    #: Calibration maps applied after Platt (models/calibration.py): ``(T, len(CALIB_GRID))``
    #: values on ``CALIB_GRID``, the identity for a topic kept on Platt alone; ``None`` in heads
    #: built before artefact v7, which serve Platt's probabilities.
    calib: Array | None = None

    def features(self, embeddings: npt.ArrayLike, texts: Sequence[str]) -> Array:
        """The head's input for ``texts`` (see :func:`head_features`)."""
        return head_features(
            embeddings,
            texts,
            cues=self.cues,
            prototypes=self.prototypes,
            ngram_dim=self.ngram_dim,
            ngram_scale=self.ngram_scale,
        )

    def _standardise(self, x: npt.ArrayLike) -> Array:
        return (np.asarray(x, dtype=np.float64) - self.mean) / self.scale

    def topic_proba(self, x: npt.ArrayLike) -> Array:
        """Calibrated per-topic probabilities, shape ``(n, T)``."""
        z = self._standardise(x) @ self.topic_w.T + self.topic_b
        p = sigmoid(z * self.platt_a + self.platt_b)
        if self.calib is None:
            return p
        return np.column_stack([apply_map(p[:, j], self.calib[j]) for j in range(p.shape[1])])

    def stance_proba(self, x: npt.ArrayLike) -> Array:
        """Stance probabilities, shape ``(n, S)``, columns in ``stances`` order."""
        return softmax(add_bias(self._standardise(x)) @ self.stance_w.T)

    def save(self, path: Path) -> None:
        np.savez(
            path,
            topics=np.array(self.topics, dtype=str),
            stances=np.array(self.stances, dtype=str),
            mean=self.mean,
            scale=self.scale,
            topic_w=self.topic_w,
            topic_b=self.topic_b,
            platt_a=self.platt_a,
            platt_b=self.platt_b,
            thresholds=self.thresholds,
            stance_w=self.stance_w,
            ngram=np.array([self.ngram_dim, self.ngram_scale], dtype=np.float64),
            cues=np.array(json.dumps([[t, list(c)] for t, c in self.cues], ensure_ascii=False)),
            # (0, 0) = no prototype block
            prototypes=np.zeros((0, 0)) if self.prototypes is None else self.prototypes,
            # (0, 0) = no calibration map (Platt alone, as heads before v7)
            calib=np.zeros((0, 0)) if self.calib is None else self.calib,
        )

    @classmethod
    def load(cls, path: Path) -> Head:
        with np.load(path, allow_pickle=False) as z:
            # a head without n-gram features has no "ngram" entry
            ngram = z["ngram"] if "ngram" in z.files else np.zeros(2)
            # and one without the cue and prototype blocks has neither entry
            cues = json.loads(str(z["cues"])) if "cues" in z.files else []
            protos = z["prototypes"] if "prototypes" in z.files and z["prototypes"].size else None
            calib = z["calib"] if "calib" in z.files and z["calib"].size else None
            return cls(
                calib=None if calib is None else np.asarray(calib, dtype=np.float64),
                ngram_dim=int(ngram[0]),
                ngram_scale=float(ngram[1]),
                cues=tuple((str(t), tuple(str(c) for c in cs)) for t, cs in cues),
                prototypes=None if protos is None else np.asarray(protos, dtype=np.float64),
                topics=tuple(str(t) for t in z["topics"]),
                stances=tuple(str(s) for s in z["stances"]),
                **{
                    k: np.asarray(z[k], dtype=np.float64)
                    for k in (
                        "mean",
                        "scale",
                        "topic_w",
                        "topic_b",
                        "platt_a",
                        "platt_b",
                        "thresholds",
                        "stance_w",
                    )
                },
            )


@dataclass
class TrainReport:
    """What training chose and how well it did out-of-fold (goes into ``meta.json``)."""

    l2: dict[str, float] = field(default_factory=dict)
    thresholds: dict[str, float] = field(default_factory=dict)
    oof_f_beta: dict[str, float] = field(default_factory=dict)
    betas: dict[str, float] = field(default_factory=dict)
    positives: dict[str, int] = field(default_factory=dict)
    stance_l2: float = 0.0
    stance_oof_accuracy: float = 0.0
    stance_counts: dict[str, int] = field(default_factory=dict)
    n_train: int = 0
    #: Per topic: ``platt`` or ``isotonic`` (only with ``calibration="auto"``), the cross-fitted
    #: out-of-fold ECE and Brier score of each candidate, and the ECE of the calibrated out-of-fold scores the
    #: thresholds were chosen on (in-sample for the calibrator: a floor, not an estimate).
    calibration: dict[str, str] = field(default_factory=dict)
    crossfit_ece: dict[str, dict[str, float]] = field(default_factory=dict)
    oof_ece: dict[str, float] = field(default_factory=dict)


def _check_counts(name: str, pos: int, neg: int, folds: int) -> None:
    if pos < folds or neg < folds:
        raise ValueError(
            f"topic {name!r} has {pos} positive and {neg} negative training examples; "
            f"{folds}-fold cross-validation needs at least {folds} of each"
        )


def topic_matrix(
    topic_labels: Sequence[Sequence[str]], head_topics: Sequence[str], folds: int
) -> Array:
    """Rows x topics, 1.0 where the row carries the topic; every topic needs at least ``folds``
    positives and negatives."""
    y = np.array([[t in set(lbl) for t in head_topics] for lbl in topic_labels], dtype=float)
    for j, topic in enumerate(head_topics):
        pos = int(y[:, j].sum())
        _check_counts(topic, pos, len(y) - pos, folds)
    return y


def standardisation(xa: Array, ngram_dim: int) -> tuple[Array, Array]:
    """Column means and scales of the training features.

    The last ``ngram_dim`` columns are hashed n-grams (already scaled, mostly zero): they are not
    standardised, or a bucket never seen in training would get a 1e6 scale at serving. A column
    constant in training (a cue list that never matched) keeps scale 1, so a match at serving
    time is a 1, not a 1e6.
    """
    dense = xa.shape[1] - ngram_dim
    mean = np.zeros(xa.shape[1])
    scale = np.ones(xa.shape[1])
    mean[:dense] = xa[:, :dense].mean(axis=0)
    std = xa[:, :dense].std(axis=0)
    scale[:dense] = np.where(std > 1e-9, std + 1e-6, 1.0)
    return mean, scale


def topic_fits(
    xs: Array,
    y_topics: Array,
    grid: list[float],
    parts: list[npt.NDArray[np.int64]],
    train_idx: list[npt.NDArray[np.int64]],
) -> tuple[Array, Array]:
    """Every (topic, L2) fit on all rows and its out-of-fold logits: problem ``p`` is topic
    ``p // len(grid)`` at L2 ``grid[p % len(grid)]``.

    All fits of one data set run in one batch: the full fits, then each fold's fits warm-started
    from them (the same solutions as one fit at a time; see :func:`models.optim.lbfgs_many`).
    """
    n, n_topics = y_topics.shape
    topic_weights = (
        np.column_stack(
            [balanced_weights(y_topics[:, j].astype(np.int64), 2) for j in range(n_topics)]
        )
        if n_topics
        else np.zeros((n, 0))
    )
    ys = np.repeat(y_topics, len(grid), axis=1)
    ws = np.repeat(topic_weights, len(grid), axis=1)
    l2s = grid * n_topics
    full_fits = fit_binary_many(xs, ys, ws, l2s) if n_topics else np.zeros((0, xs.shape[1] + 1))
    oofs = np.empty((n, len(l2s)))
    for held, train in zip(parts, train_idx, strict=True):
        fold_fits = fit_binary_many(xs[train], ys[train], ws[train], l2s, full_fits)
        oofs[held] = xs[held] @ fold_fits[:, :-1].T + fold_fits[:, -1]
    return full_fits, oofs


@dataclass(frozen=True)
class TopicChoice:
    """One topic's head as chosen out of fold: its L2 fit, Platt pair, map and threshold."""

    fit: Array
    platt: tuple[float, float]
    calib: Array | None
    threshold: float


def choose_topic(
    topic: str,
    y: Array,
    candidates: Sequence[tuple[float, Array, Array]],
    parts: list[npt.NDArray[np.int64]],
    *,
    calibration: str,
    beta: float,
    floor: float | None,
    report: TrainReport,
) -> TopicChoice:
    """The L2 strength with the best out-of-fold log-loss after Platt scaling, then (with
    ``calibration="auto"``) its calibrator, then the threshold on the calibrated scores.
    ``candidates`` are ``(l2, out-of-fold logits, full fit)`` per grid value."""
    best: tuple[float, float, Array, Array] | None = None
    for l2, oof, full in candidates:
        a, c = platt(oof, y)
        loss = _log_loss(y, sigmoid(oof * a + c))
        if best is None or loss < best[0]:
            best = (loss, l2, oof, full)
    assert best is not None
    _, l2, oof, full = best
    a, c = platt(oof, y)
    p_oof = sigmoid(oof * a + c)
    calib = None
    if calibration == "auto":
        choice = choose_calibrator(oof, y, (a, c), parts, platt)
        calib = choice.values
        p_oof = apply_map(p_oof, choice.values)
        report.calibration[topic] = choice.method
        report.crossfit_ece[topic] = {
            "platt": round(choice.crossfit_ece_platt, 4),
            "isotonic": round(choice.crossfit_ece_isotonic, 4),
            "brier_platt": round(choice.crossfit_brier_platt, 4),
            "brier_isotonic": round(choice.crossfit_brier_isotonic, 4),
        }
    report.oof_ece[topic] = round(expected_calibration_error(y, p_oof), 4)
    thr, fb = best_threshold(y, p_oof, beta, floor)
    report.l2[topic] = l2
    report.thresholds[topic] = thr
    report.oof_f_beta[topic] = round(fb, 4)
    report.betas[topic] = beta
    report.positives[topic] = int(y.sum())
    return TopicChoice(fit=full, platt=(a, c), calib=calib, threshold=thr)


def train_stance(
    xs: Array,
    stance_labels: Sequence[str],
    stances: Sequence[str],
    grid: list[float],
    parts: list[npt.NDArray[np.int64]],
    train_idx: list[npt.NDArray[np.int64]],
    report: TrainReport,
) -> Array:
    """The stance softmax weights at the L2 strength with the best out-of-fold log-loss (the grid's
    fits of one data set in one batch, as the topics')."""
    n = xs.shape[0]
    stance_index = {s: i for i, s in enumerate(stances)}
    unknown = sorted(set(stance_labels) - set(stance_index))
    if unknown:
        raise ValueError(f"unknown stance labels {unknown}; expected one of {list(stances)}")
    ys = np.array([stance_index[s] for s in stance_labels], dtype=np.int64)
    k = len(stances)
    sweights = balanced_weights(ys, k)
    best_s: tuple[float, float, float, Array] | None = None
    full_stance = fit_softmax_many(xs, ys, k, sweights, grid)
    probas = np.empty((len(grid), n, k))
    for held, train in zip(parts, train_idx, strict=True):
        fold_stance = fit_softmax_many(xs[train], ys[train], k, sweights[train], grid, full_stance)
        for g in range(len(grid)):
            probas[g, held] = softmax(add_bias(xs[held]) @ fold_stance[g].T)
    for g, l2 in enumerate(grid):
        full_s, proba = full_stance[g], probas[g]
        loss = float(-np.mean(np.log(np.clip(proba[np.arange(n), ys], 1e-7, 1))))
        acc = float((proba.argmax(axis=1) == ys).mean())
        if best_s is None or loss < best_s[0]:
            best_s = (loss, l2, acc, full_s)
    assert best_s is not None
    report.stance_l2 = best_s[1]
    report.stance_oof_accuracy = round(best_s[2], 4)
    report.stance_counts.update({s: int((ys == i).sum()) for s, i in stance_index.items()})
    return best_s[3]


def train_head(
    x: npt.ArrayLike,
    topic_labels: Sequence[Sequence[str]],
    stance_labels: Sequence[str],
    *,
    topics: Sequence[str],
    stances: Sequence[str],
    l2_grid: Sequence[float] = DEFAULT_L2_GRID,
    betas: Mapping[str, float] = DEFAULT_BETAS,
    min_recalls: Mapping[str, float] | None = None,
    folds: int = 5,
    seed: int = 0,
    ngram_dim: int = 0,
    ngram_scale: float = 0.0,
    cues: Sequence[tuple[str, Sequence[str]]] = (),
    prototypes: npt.ArrayLike | None = None,
    calibration: str = "platt",
    groups: Sequence[str] | None = None,
) -> tuple[Head, TrainReport]:
    """Train topic and stance heads on embeddings ``x`` (n, d) with cross-validated choices.

    ``topics`` lists the topic heads to train (``other`` is dropped: it means "none"); each needs
    at least ``folds`` positives and negatives. ``stances`` fixes the stance column order.
    ``min_recalls`` gives topics a recall floor for their threshold (see :func:`best_threshold`).
    ``x`` must already hold the blocks the head is told about (``Head.features`` order):
    ``cues`` and ``prototypes`` are only stored so serving computes the same columns.
    ``calibration``: ``"platt"`` (Platt alone, as before v7, no map) or ``"auto"`` (per topic,
    Platt or Platt + isotonic by cross-fitted out-of-fold ECE; models/calibration.py); the
    thresholds are chosen on the calibrated out-of-fold scores. ``groups`` (a name per row, e.g.
    its writer): one fold per group, so every choice is made out of group.
    """
    if calibration not in ("platt", "auto"):
        raise ValueError(f"calibration must be 'platt' or 'auto', got {calibration!r}")
    n = (xa := np.asarray(x, dtype=np.float64)).shape[0]
    if {len(topic_labels), len(stance_labels), n if groups is None else len(groups)} != {n}:
        raise ValueError("x, topic_labels, stance_labels and groups must have the same length")
    head_topics = tuple(t for t in topics if t != OTHER)
    mean, scale = standardisation(xa, ngram_dim)
    xs = (xa - mean) / scale
    parts = kfold(n, folds, seed) if groups is None else group_parts(groups)
    y_topics = topic_matrix(topic_labels, head_topics, len(parts))
    train_idx = [np.setdiff1d(np.arange(n), held) for held in parts]
    report, grid = TrainReport(n_train=n), [float(v) for v in l2_grid]
    full_fits, oofs = topic_fits(xs, y_topics, grid, parts, train_idx)
    chosen = [
        choose_topic(
            topic,
            y_topics[:, j],
            [
                (l2, oofs[:, j * len(grid) + g], full_fits[j * len(grid) + g])
                for g, l2 in enumerate(grid)
            ],
            parts,
            calibration=calibration,
            beta=float(betas.get(topic, 1.0)),
            floor=(min_recalls or {}).get(topic),
            report=report,
        )
        for j, topic in enumerate(head_topics)
    ]
    stance_w = train_stance(xs, stance_labels, stances, grid, parts, train_idx, report)
    maps = [c.calib for c in chosen if c.calib is not None]
    head = Head(
        topics=head_topics,
        stances=tuple(stances),
        mean=mean,
        scale=scale,
        topic_w=np.array([c.fit[:-1] for c in chosen]).reshape(len(head_topics), xa.shape[1]),
        topic_b=np.array([float(c.fit[-1]) for c in chosen]),
        platt_a=np.array([c.platt[0] for c in chosen]),
        platt_b=np.array([c.platt[1] for c in chosen]),
        thresholds=np.array([c.threshold for c in chosen]),
        stance_w=stance_w,
        ngram_dim=ngram_dim,
        ngram_scale=ngram_scale,
        cues=tuple((t, tuple(c)) for t, c in cues),
        prototypes=None if prototypes is None else np.asarray(prototypes, dtype=np.float64),
        calib=np.array(maps) if maps else None,
    )
    return head, report
