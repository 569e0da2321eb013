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
from collections.abc import Callable, Mapping, Sequence
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
from models.prototypes import prototype_features

Array = npt.NDArray[np.float64]

OTHER = "other"
DEFAULT_L2_GRID = (1.0, 10.0, 100.0, 1000.0)
DEFAULT_BETAS: Mapping[str, float] = {"adverse_event": 2.0}
THRESHOLD_GRID = np.round(np.linspace(0.05, 0.95, 91), 2)


def _sigmoid(z: Array) -> Array:
    return np.asarray(0.5 * (1.0 + np.tanh(0.5 * z)))


def _softmax(z: Array) -> Array:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return np.asarray(e / e.sum(axis=1, keepdims=True))


def _add_bias(x: Array) -> Array:
    return np.hstack([x, np.ones((x.shape[0], 1))])


LossGrad = Callable[[Array], tuple[float, Array]]


def lbfgs(
    fun: LossGrad,
    theta: Array,
    *,
    memory: int = 10,
    max_iter: int = 1000,
    gtol: float = 1e-5,
) -> Array:
    """Minimise a smooth convex function given ``fun(theta) -> (loss, grad)`` with L-BFGS.

    Why not Newton: its Hessian costs n*d^2 per step (seconds per fit at d=384 with the
    cross-validation grid), L-BFGS steps cost n*d. Backtracking (Armijo) line search; stops when
    the gradient's max-norm falls below ``gtol`` times ``max(1, |loss|)``.
    """
    loss, grad = fun(theta)
    s_hist: list[Array] = []
    y_hist: list[Array] = []
    for _ in range(max_iter):
        if float(np.abs(grad).max()) <= gtol * max(1.0, abs(loss)):
            break
        # two-loop recursion: direction = -H_k grad
        q = grad.copy()
        alphas = []
        for s_i, y_i in zip(reversed(s_hist), reversed(y_hist), strict=True):
            rho = 1.0 / float(y_i @ s_i)
            alpha = rho * float(s_i @ q)
            q -= alpha * y_i
            alphas.append((rho, alpha))
        if s_hist:
            q *= float(s_hist[-1] @ y_hist[-1]) / float(y_hist[-1] @ y_hist[-1])
        else:
            q /= max(1.0, float(np.linalg.norm(grad)))
        for (rho, alpha), s_i, y_i in zip(reversed(alphas), s_hist, y_hist, strict=True):
            q += s_i * (alpha - rho * float(y_i @ q))
        direction = -q
        slope = float(grad @ direction)
        if slope >= 0:  # not a descent direction (numerical trouble): restart from steepest
            s_hist.clear()
            y_hist.clear()
            direction = -grad / max(1.0, float(np.linalg.norm(grad)))
            slope = float(grad @ direction)
        t = 1.0
        while True:
            cand = theta + t * direction
            cand_loss, cand_grad = fun(cand)
            if cand_loss <= loss + 1e-4 * t * slope or t < 1e-12:
                break
            t *= 0.5
        s_new, y_new = cand - theta, cand_grad - grad
        if float(s_new @ y_new) > 1e-12:
            s_hist.append(s_new)
            y_hist.append(y_new)
            if len(s_hist) > memory:
                s_hist.pop(0)
                y_hist.pop(0)
        theta, loss, grad = cand, cand_loss, cand_grad
    return theta


def fit_binary(
    x: Array, y: Array, weights: Array, l2: float, start: Array | None = None
) -> tuple[Array, float]:
    """Weighted L2 logistic regression; returns ``(w, b)``. The bias is not penalised.

    ``start`` (``w`` then ``b``) warm-starts the solver, e.g. from the full-data fit for folds.
    """
    xb = _add_bias(x)
    d = xb.shape[1]
    penalty = np.full(d, l2)
    penalty[-1] = 0.0

    def f(theta: Array) -> tuple[float, Array]:
        z = xb @ theta
        # log(1 + e^z) - y z, computed stably
        loss = float(weights @ (np.logaddexp(0.0, z) - y * z) + 0.5 * theta @ (penalty * theta))
        grad = xb.T @ (weights * (_sigmoid(z) - y)) + penalty * theta
        return loss, grad

    theta = lbfgs(f, np.zeros(d) if start is None else start.copy())
    return theta[:-1], float(theta[-1])


ManyLossGrad = Callable[[Array, npt.NDArray[np.int64]], tuple[Array, Array]]


def lbfgs_many(
    fun: ManyLossGrad,
    thetas: Array,
    *,
    memory: int = 10,
    max_iter: int = 1000,
    gtol: float = 1e-5,
) -> Array:
    """:func:`lbfgs` on ``P`` independent problems at once, stepping each exactly as alone.

    ``fun(points, rows)`` returns the losses ``(k,)`` and gradients ``(k, d)`` of problems
    ``rows`` at ``points`` ``(k, d)``. Every problem keeps its own history, direction, step and
    stopping test; only the function evaluations are shared, so problems that read the same
    data (the topics and L2 strengths of one fold) cost one pass over it per round instead of
    one each. The head's fits are memory-bound matrix-vector products, so a round of 27
    problems costs little more than one.
    """
    theta = np.array(thetas, dtype=np.float64)
    n_prob = theta.shape[0]
    loss, grad = fun(theta, np.arange(n_prob))
    grad = np.array(grad, dtype=np.float64)
    s_hist: list[list[Array]] = [[] for _ in range(n_prob)]
    y_hist: list[list[Array]] = [[] for _ in range(n_prob)]
    iters = np.zeros(n_prob, dtype=np.int64)
    direction = np.zeros_like(theta)
    slope = np.zeros(n_prob)
    step = np.ones(n_prob)
    searching = np.zeros(n_prob, dtype=bool)
    done = np.zeros(n_prob, dtype=bool)
    while True:
        for j in np.flatnonzero(~done & ~searching):
            g = grad[j]
            if float(np.abs(g).max()) <= gtol * max(1.0, abs(float(loss[j]))) or (
                iters[j] >= max_iter
            ):
                done[j] = True
                continue
            # two-loop recursion, as in lbfgs
            q = g.copy()
            alphas = []
            for s_i, y_i in zip(reversed(s_hist[j]), reversed(y_hist[j]), strict=True):
                rho = 1.0 / float(y_i @ s_i)
                alpha = rho * float(s_i @ q)
                q -= alpha * y_i
                alphas.append((rho, alpha))
            if s_hist[j]:
                q *= float(s_hist[j][-1] @ y_hist[j][-1]) / float(y_hist[j][-1] @ y_hist[j][-1])
            else:
                q /= max(1.0, float(np.linalg.norm(g)))
            for (rho, alpha), s_i, y_i in zip(reversed(alphas), s_hist[j], y_hist[j], strict=True):
                q += s_i * (alpha - rho * float(y_i @ q))
            direction[j] = -q
            slope[j] = float(g @ direction[j])
            if slope[j] >= 0:
                s_hist[j].clear()
                y_hist[j].clear()
                direction[j] = -g / max(1.0, float(np.linalg.norm(g)))
                slope[j] = float(g @ direction[j])
            step[j] = 1.0
            searching[j] = True
        rows = np.flatnonzero(searching)
        if not len(rows):
            return theta
        cand = theta[rows] + step[rows, None] * direction[rows]
        cand_loss, cand_grad = fun(cand, rows)
        for k, j in enumerate(rows):
            if cand_loss[k] <= loss[j] + 1e-4 * step[j] * slope[j] or step[j] < 1e-12:
                s_new, y_new = cand[k] - theta[j], cand_grad[k] - grad[j]
                if float(s_new @ y_new) > 1e-12:
                    s_hist[j].append(s_new)
                    y_hist[j].append(y_new)
                    if len(s_hist[j]) > memory:
                        s_hist[j].pop(0)
                        y_hist[j].pop(0)
                theta[j], loss[j], grad[j] = cand[k], cand_loss[k], cand_grad[k]
                iters[j] += 1
                searching[j] = False
            else:
                step[j] *= 0.5


def fit_binary_many(
    x: Array, ys: Array, weights: Array, l2s: Sequence[float], starts: Array | None = None
) -> Array:
    """:func:`fit_binary` for ``P`` problems on the same ``x``: labels and weights ``(n, P)``,
    one L2 strength each; returns ``(P, d + 1)`` (weights then bias), each problem solved by
    the same L-BFGS steps as alone (:func:`lbfgs_many`)."""
    xb = _add_bias(x)
    d = xb.shape[1]
    penalty = np.repeat(np.asarray(l2s, dtype=np.float64)[:, None], d, axis=1)
    penalty[:, -1] = 0.0

    def f(thetas: Array, rows: npt.NDArray[np.int64]) -> tuple[Array, Array]:
        z = xb @ thetas.T
        y, w, pen = ys[:, rows], weights[:, rows], penalty[rows]
        loss = (w * (np.logaddexp(0.0, z) - y * z)).sum(axis=0)
        loss += 0.5 * (thetas * (pen * thetas)).sum(axis=1)
        grad = (w * (_sigmoid(z) - y)).T @ xb + pen * thetas
        return np.asarray(loss), np.asarray(grad)

    start = np.zeros((len(l2s), d)) if starts is None else starts
    return lbfgs_many(f, start)


def fit_softmax(
    x: Array,
    y: npt.NDArray[np.int64],
    k: int,
    weights: Array,
    l2: float,
    start: Array | None = None,
) -> Array:
    """Weighted L2 multinomial logistic regression; returns a ``(k, d + 1)`` matrix (bias last)."""
    xb = _add_bias(x)
    d = xb.shape[1]
    onehot = np.eye(k)[y]
    penalty = np.tile(np.r_[np.full(d - 1, l2), 1e-6], k)

    def f(theta: Array) -> tuple[float, Array]:
        z = xb @ theta.reshape(k, d).T
        logp = z - np.logaddexp.reduce(z, axis=1, keepdims=True)
        loss = float(-(weights * (onehot * logp).sum(axis=1)).sum())
        loss += 0.5 * float(theta @ (penalty * theta))
        grad = ((np.exp(logp) - onehot) * weights[:, None]).T @ xb
        return loss, grad.ravel() + penalty * theta

    theta = lbfgs(f, np.zeros(k * d) if start is None else start.ravel().copy())
    return theta.reshape(k, d)


def fit_softmax_many(
    x: Array,
    y: npt.NDArray[np.int64],
    k: int,
    weights: Array,
    l2s: Sequence[float],
    starts: Array | None = None,
) -> Array:
    """:func:`fit_softmax` for one L2 strength per problem on the same data, solved together
    (:func:`lbfgs_many`); returns ``(P, k, d + 1)``."""
    xb = _add_bias(x)
    d = xb.shape[1]
    onehot = np.eye(k)[y]
    penalty = np.stack([np.tile(np.r_[np.full(d - 1, l2), 1e-6], k) for l2 in l2s])

    def f(thetas: Array, rows: npt.NDArray[np.int64]) -> tuple[Array, Array]:
        m = thetas.shape[0]
        z = (xb @ thetas.reshape(m * k, d).T).reshape(-1, m, k)
        logp = z - np.logaddexp.reduce(z, axis=2, keepdims=True)
        loss = -(weights[:, None] * (onehot[:, None, :] * logp).sum(axis=2)).sum(axis=0)
        loss += 0.5 * (thetas * (penalty[rows] * thetas)).sum(axis=1)
        resid = (np.exp(logp) - onehot[:, None, :]) * weights[:, None, None]
        grad = (resid.reshape(-1, m * k).T @ xb).reshape(m, k * d)
        return np.asarray(loss), np.asarray(grad + penalty[rows] * thetas)

    start = np.zeros((len(l2s), k * d)) if starts is None else starts.reshape(len(l2s), k * d)
    return lbfgs_many(f, start).reshape(len(l2s), k, d)


def platt(logits: Array, y: Array) -> tuple[float, float]:
    """Platt scaling ``p = sigmoid(a * logit + c)`` fitted on out-of-fold logits.

    Uses Platt's smoothed targets ((N+ + 1)/(N+ + 2) and 1/(N- + 2)) rather than 0/1: when the
    out-of-fold logits separate the classes perfectly (small corpora), 0/1 targets drive the slope
    to infinity and every score to exactly 0 or 1, which is not a calibrated probability.
    """
    pos = float(y.sum())
    neg = float(len(y) - pos)
    targets = np.where(y > 0.5, (pos + 1) / (pos + 2), 1 / (neg + 2))
    a, c = fit_binary(logits[:, None], targets, np.ones(len(y)), 0.0)
    return float(a[0]), c


def balanced_weights(labels: npt.NDArray[np.int64], k: int) -> Array:
    """Per-sample weights ``n / (k * n_class)``: every class carries the same total weight."""
    counts = np.bincount(labels, minlength=k).astype(np.float64)
    if (counts == 0).any():
        raise ValueError(f"every class needs at least one example, counts={counts.tolist()}")
    return np.asarray((len(labels) / (k * counts))[labels])


def kfold(n: int, folds: int, seed: int) -> list[npt.NDArray[np.int64]]:
    """Deterministic shuffled K-fold split: a list of index arrays, one per held-out fold."""
    order = np.random.default_rng(seed).permutation(n)
    return [np.sort(part) for part in np.array_split(order, folds)]


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
        p = _sigmoid(z * self.platt_a + self.platt_b)
        if self.calib is None:
            return p
        return np.column_stack([apply_map(p[:, j], self.calib[j]) for j in range(p.shape[1])])

    def stance_proba(self, x: npt.ArrayLike) -> Array:
        """Stance probabilities, shape ``(n, S)``, columns in ``stances`` order."""
        return _softmax(_add_bias(self._standardise(x)) @ self.stance_w.T)

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
) -> tuple[Head, TrainReport]:
    """Train topic and stance heads on embeddings ``x`` (n, d) with cross-validated choices.

    ``topics`` lists the topic heads to train (``other`` is dropped: it means "none"); each needs
    at least ``folds`` positives and negatives. ``stances`` fixes the stance column order.
    ``min_recalls`` gives topics a recall floor for their threshold (see :func:`best_threshold`).
    ``x`` must already hold the blocks the head is told about (``Head.features`` order):
    ``cues`` and ``prototypes`` are only stored so serving computes the same columns.
    ``calibration``: ``"platt"`` (Platt scaling alone, the head before v7, stored with no map)
    or ``"auto"`` (per topic, Platt or Platt + isotonic by cross-fitted out-of-fold ECE; see
    models/calibration.py); thresholds are chosen on the calibrated out-of-fold scores.
    """
    if calibration not in ("platt", "auto"):
        raise ValueError(f"calibration must be 'platt' or 'auto', got {calibration!r}")
    xa = np.asarray(x, dtype=np.float64)
    n = xa.shape[0]
    if n != len(topic_labels) or n != len(stance_labels):
        raise ValueError("x, topic_labels and stance_labels must have the same length")
    head_topics = tuple(t for t in topics if t != OTHER)
    # the last ``ngram_dim`` columns are hashed n-grams (already scaled, mostly zero): they are
    # not standardised, or a bucket never seen in training would get a 1e6 scale at serving
    dense = xa.shape[1] - ngram_dim
    mean = np.zeros(xa.shape[1])
    scale = np.ones(xa.shape[1])
    mean[:dense] = xa[:, :dense].mean(axis=0)
    std = xa[:, :dense].std(axis=0)
    # a column constant in training (a cue list that never matched) keeps scale 1, so a match
    # at serving time is a 1, not a 1e6
    scale[:dense] = np.where(std > 1e-9, std + 1e-6, 1.0)
    xs = (xa - mean) / scale
    parts = kfold(n, folds, seed)

    y_topics = np.array([[t in set(lbl) for t in head_topics] for lbl in topic_labels], dtype=float)
    train_idx = [np.setdiff1d(np.arange(n), held) for held in parts]
    report = TrainReport(n_train=n)
    tw, tb, pa, pb, th = [], [], [], [], []
    maps: list[Array] = []
    # every (topic, L2) fit of one data set runs in one batch: the full fits, then each fold's
    # fits warm-started from them (the same solutions as one fit at a time; see lbfgs_many)
    grid = [float(v) for v in l2_grid]
    n_topics = len(head_topics)
    for j, topic in enumerate(head_topics):
        pos = int(y_topics[:, j].sum())
        _check_counts(topic, pos, n - pos, folds)
    topic_weights = (
        np.column_stack(
            [balanced_weights(y_topics[:, j].astype(np.int64), 2) for j in range(n_topics)]
        )
        if n_topics
        else np.zeros((n, 0))
    )
    # problem p = (topic p // len(grid), L2 grid[p % len(grid)])
    ys = np.repeat(y_topics, len(grid), axis=1)
    ws = np.repeat(topic_weights, len(grid), axis=1)
    l2s = grid * n_topics
    full_fits = fit_binary_many(xs, ys, ws, l2s) if n_topics else np.zeros((0, xs.shape[1] + 1))
    oofs = np.empty((n, len(l2s)))
    for held, train in zip(parts, train_idx, strict=True):
        fold_fits = fit_binary_many(xs[train], ys[train], ws[train], l2s, full_fits)
        oofs[held] = xs[held] @ fold_fits[:, :-1].T + fold_fits[:, -1]
    for j, topic in enumerate(head_topics):
        y = y_topics[:, j]
        pos = int(y.sum())
        best: tuple[float, float, Array, Array] | None = None
        for g, l2 in enumerate(grid):
            p_idx = j * len(grid) + g
            oof = oofs[:, p_idx]
            a, c = platt(oof, y)
            loss = _log_loss(y, _sigmoid(oof * a + c))
            if best is None or loss < best[0]:
                best = (loss, l2, oof, full_fits[p_idx])
        assert best is not None
        _, l2, oof, full = best
        a, c = platt(oof, y)
        p_oof = _sigmoid(oof * a + c)
        if calibration == "auto":
            choice = choose_calibrator(oof, y, (a, c), parts, platt)
            maps.append(choice.values)
            p_oof = apply_map(p_oof, choice.values)
            report.calibration[topic] = choice.method
            report.crossfit_ece[topic] = {
                "platt": round(choice.crossfit_ece_platt, 4),
                "isotonic": round(choice.crossfit_ece_isotonic, 4),
                "brier_platt": round(choice.crossfit_brier_platt, 4),
                "brier_isotonic": round(choice.crossfit_brier_isotonic, 4),
            }
        report.oof_ece[topic] = round(expected_calibration_error(y, p_oof), 4)
        beta = float(betas.get(topic, 1.0))
        floor = (min_recalls or {}).get(topic)
        thr, fb = best_threshold(y, p_oof, beta, floor)
        tw.append(full[:-1])
        tb.append(float(full[-1]))
        pa.append(a)
        pb.append(c)
        th.append(thr)
        report.l2[topic] = l2
        report.thresholds[topic] = thr
        report.oof_f_beta[topic] = round(fb, 4)
        report.betas[topic] = beta
        report.positives[topic] = pos

    stance_index = {s: i for i, s in enumerate(stances)}
    unknown = sorted(set(stance_labels) - set(stance_index))
    if unknown:
        raise ValueError(f"unknown stance labels {unknown}; expected one of {list(stances)}")
    ys = np.array([stance_index[s] for s in stance_labels], dtype=np.int64)
    k = len(stances)
    sweights = balanced_weights(ys, k)
    best_s: tuple[float, float, float, Array] | None = None
    # the L2 grid's stance fits of one data set in one batch, as the topics' (lbfgs_many)
    full_stance = fit_softmax_many(xs, ys, k, sweights, grid)
    probas = np.empty((len(grid), n, k))
    for held, train in zip(parts, train_idx, strict=True):
        fold_stance = fit_softmax_many(xs[train], ys[train], k, sweights[train], grid, full_stance)
        for g in range(len(grid)):
            probas[g, held] = _softmax(_add_bias(xs[held]) @ fold_stance[g].T)
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
    d = xa.shape[1]
    head = Head(
        topics=head_topics,
        stances=tuple(stances),
        mean=mean,
        scale=scale,
        topic_w=np.array(tw).reshape(len(head_topics), d),
        topic_b=np.array(tb),
        platt_a=np.array(pa),
        platt_b=np.array(pb),
        thresholds=np.array(th),
        stance_w=best_s[3],
        ngram_dim=ngram_dim,
        ngram_scale=ngram_scale,
        cues=tuple((t, tuple(c)) for t, c in cues),
        prototypes=None if prototypes is None else np.asarray(prototypes, dtype=np.float64),
        calib=np.array(maps) if maps else None,
    )
    return head, report
