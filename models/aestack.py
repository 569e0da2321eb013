"""adverse_event decided from three readings of a mention: the topic head, the PV reaction head
and the PV rules (artefact v9, the default since held-out 3: ``tocsin model build``).

Why: on held-out 2 every issue-17 target was met by v8 but adverse_event recall. Leave-one-
writer-out CV (bench/ae_cv.py, models/data/README.md) found that the PV rules' reaction flag
(pipeline/pv/triage.py: a lexicon reaction, not negated, asked, hypothetical or the indication)
separates harm reports from other talk about a product better than the topic head alone; the
PV ``reaction`` head (models/pvhead.py) adds a little. A logistic regression on the topic
head's calibrated adverse_event logit, the reaction head's logit and the rules' flag replaces
the topic's score, and its threshold is chosen for a 0.95 out-of-fold recall floor
(``STACK_CONFIG``), which spends the separation on recall at v8's precision.

Cost: both heads read the embedding of the classifier's one encoder pass (a dot product); the
rules run only on mentions whose topic score reaches ``gate`` (0.02), so on most of a stream
they do not run; where they do, about 0.65 ms of CPU a mention.

The stack is fitted at build time on the training rows' out-of-fold adverse_event scores (one
fold per writer, with the v8 head's own L2, Platt and calibration). The artefact keeps its own
copy of the reaction head's weights (``aestack.npz``), so a later PV relabelling does not
change what an artefact serves.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

from models.artefacts import artefact_key, inputs_sha256
from models.head import best_threshold
from models.optim import fit_binary, sigmoid
from models.pvdata import data_files

Array = npt.NDArray[np.float64]

AE_STACK_FILE = "aestack.npz"
TOPIC = "adverse_event"
#: The stack's training: L2 (three weights on thousands of rows: barely binding), the recall
#: floor of its threshold, the topic score from which the rules' flag is read. Part of the v9 key.
STACK_L2 = 1.0
STACK_FLOOR = 0.95
RULES_GATE = 0.02
STACK_CONFIG = {
    "l2": STACK_L2,
    "min_recall": STACK_FLOOR,
    "gate": RULES_GATE,
    "inputs": "topic,reaction,rules",
}

#: Artefacts with the adverse_event stack over an all-writers (v8) head.
STACKED_VERSION = "v9"


def stacked_key(base_key: str, backbone_key: str) -> str:
    """The v9 folder name over the all-writers folder ``base_key``: the key covers that folder's
    key, ``STACK_CONFIG`` and the PV labelled sets the reaction head learns from."""
    digest = inputs_sha256(*data_files(), config={"base": base_key, **STACK_CONFIG})
    return artefact_key(backbone_key, digest, STACKED_VERSION)


#: The rules' verdict per text: does it report a reaction (pipeline/pv/triage.py)?
RulesFlag = Callable[[Sequence[str]], Sequence[bool]]


def pv_rules() -> RulesFlag:
    """The PV rules with the bundled brands and lexicon (built once per process, ~5 s)."""
    from pipeline.pv.triage import Triage

    triage = Triage.default()
    return lambda texts: [bool(triage.assess_rules(t).reactions) for t in texts]


def logit(p: npt.ArrayLike) -> Array:
    """Log-odds, clipped away from 0 and 1."""
    q = np.clip(np.asarray(p, dtype=np.float64), 1e-6, 1 - 1e-6)
    return np.asarray(np.log(q / (1 - q)))


@dataclass(frozen=True)
class AeStack:
    """The reaction head's standardisation and weights, the stack's weights, its threshold."""

    mean: Array
    scale: Array
    react_w: Array  # (d,)
    react_b: float
    w: Array  # (3,): on the topic score's logit, the reaction score's logit, the rules' flag
    b: float
    threshold: float
    gate: float
    #: The rules, built on first use (tests hand in their own).
    rules_factory: Callable[[], RulesFlag] = field(default=pv_rules, compare=False)
    _rules: list[RulesFlag] = field(default_factory=list, compare=False, repr=False)

    def warm(self) -> RulesFlag:
        """The rules, built now if they are not yet (the worker calls it at start-up, so the
        first batch that reaches the gate does not pay the lexicon's build)."""
        if not self._rules:
            self._rules.append(self.rules_factory())
        return self._rules[0]

    def rules(self, texts: Sequence[str], topic_p: Array) -> Array:
        """The rules' flag, read only where the topic score reaches the gate (else 0)."""
        out = np.zeros(len(texts))
        todo = np.flatnonzero(np.asarray(topic_p) >= self.gate)
        if len(todo):
            flags = self.warm()([texts[int(i)] for i in todo])
            out[todo] = np.asarray(flags, dtype=np.float64)
        return out

    def reaction_proba(self, vectors: npt.ArrayLike) -> Array:
        x = (np.atleast_2d(np.asarray(vectors, dtype=np.float64)) - self.mean) / self.scale
        return np.asarray(sigmoid(x @ self.react_w + self.react_b))

    def score(self, topic_p: npt.ArrayLike, react_p: npt.ArrayLike, rules: Array) -> Array:
        """The stacked adverse_event probability from the three readings."""
        z = stack_inputs(topic_p, react_p, rules) @ self.w + self.b
        return np.asarray(sigmoid(z))

    def apply(
        self,
        topic_p: Array,
        thresholds: Array,
        topics: Sequence[str],
        vectors: npt.ArrayLike,
        texts: Sequence[str],
    ) -> tuple[Array, Array]:
        """``topic_p`` and ``thresholds`` with the adverse_event column and threshold replaced."""
        j = list(topics).index(TOPIC)
        p = np.array(topic_p, dtype=np.float64, copy=True)
        flags = self.rules(texts, p[:, j])
        p[:, j] = self.score(p[:, j], self.reaction_proba(vectors), flags)
        thr = np.array(thresholds, dtype=np.float64, copy=True)
        thr[j] = self.threshold
        return p, thr

    def save(self, path: Path) -> None:
        np.savez(
            path,
            mean=self.mean,
            scale=self.scale,
            react_w=self.react_w,
            react_b=np.array(self.react_b),
            w=self.w,
            b=np.array(self.b),
            threshold=np.array(self.threshold),
            gate=np.array(self.gate),
        )

    @classmethod
    def load(cls, path: Path) -> AeStack:
        with np.load(path, allow_pickle=False) as z:
            return cls(
                mean=z["mean"],
                scale=z["scale"],
                react_w=z["react_w"],
                react_b=float(z["react_b"]),
                w=z["w"],
                b=float(z["b"]),
                threshold=float(z["threshold"]),
                gate=float(z["gate"]),
            )


def stack_inputs(topic_p: npt.ArrayLike, react_p: npt.ArrayLike, rules: npt.ArrayLike) -> Array:
    return np.column_stack([logit(topic_p), logit(react_p), np.asarray(rules, dtype=np.float64)])


def fit_stack(
    topic_oof: Array, react_p: Array, rules: Array, y: Array, *, beta: float, floor: float
) -> tuple[Array, float, float]:
    """``(w, b, threshold)`` on training rows: ``topic_oof`` the calibrated out-of-fold
    adverse_event scores, ``react_p`` the reaction head's probabilities, ``rules`` the gated
    rules' flags, ``y`` the labels; the threshold maximises F-beta with the recall floor."""
    x = stack_inputs(topic_oof, react_p, rules)
    w, b = fit_binary(x, np.asarray(y, dtype=np.float64), np.ones(len(y)), STACK_L2)
    thr, _ = best_threshold(y, sigmoid(x @ w + b), beta, floor)
    return np.asarray(w, dtype=np.float64), float(b), thr
