"""The optimisers behind the classifier head: L2-regularised logistic and softmax regressions.

A small numpy L-BFGS with a backtracking line search: the problems are strictly convex, so it
converges deterministically with no learning rate to tune, and each step costs a couple of
matrix-vector products. The ``*_many`` variants run several fits of one data set (an L2 grid, or
the folds of a cross-validation) as one batch; each fit takes exactly its own steps, so the
solutions equal one-at-a-time fits.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[np.float64]


def sigmoid(z: Array) -> Array:
    return np.asarray(0.5 * (1.0 + np.tanh(0.5 * z)))


def softmax(z: Array) -> Array:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return np.asarray(e / e.sum(axis=1, keepdims=True))


def add_bias(x: Array) -> Array:
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
    xb = add_bias(x)
    d = xb.shape[1]
    penalty = np.full(d, l2)
    penalty[-1] = 0.0

    def f(theta: Array) -> tuple[float, Array]:
        z = xb @ theta
        # log(1 + e^z) - y z, computed stably
        loss = float(weights @ (np.logaddexp(0.0, z) - y * z) + 0.5 * theta @ (penalty * theta))
        grad = xb.T @ (weights * (sigmoid(z) - y)) + penalty * theta
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
    xb = add_bias(x)
    d = xb.shape[1]
    penalty = np.repeat(np.asarray(l2s, dtype=np.float64)[:, None], d, axis=1)
    penalty[:, -1] = 0.0

    def f(thetas: Array, rows: npt.NDArray[np.int64]) -> tuple[Array, Array]:
        z = xb @ thetas.T
        y, w, pen = ys[:, rows], weights[:, rows], penalty[rows]
        loss = (w * (np.logaddexp(0.0, z) - y * z)).sum(axis=0)
        loss += 0.5 * (thetas * (pen * thetas)).sum(axis=1)
        grad = (w * (sigmoid(z) - y)).T @ xb + pen * thetas
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
    xb = add_bias(x)
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
    xb = add_bias(x)
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


def group_parts(groups: Sequence[str]) -> list[npt.NDArray[np.int64]]:
    """One held-out fold per distinct group (sorted by name): with writers as groups, every
    out-of-fold score comes from a model that never saw that row's writer."""
    labels = np.asarray(groups, dtype=str)
    return [np.flatnonzero(labels == g).astype(np.int64) for g in sorted(set(groups))]
