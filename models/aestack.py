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

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from models.artefacts import artefact_key, inputs_sha256
from models.corpus import ALL_WRITER_FILES, WRITERS9_FILES
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

#: What a stack can read of a mention, each a column of its inputs: ``topic`` the topic head's
#: calibrated adverse_event score, ``reaction`` / ``patient`` the PV heads' probabilities,
#: ``others`` the largest calibrated score of the other topics (probabilities enter as
#: log-odds); ``rules`` the PV rules' reaction flag, ``named`` their "a lexicon reaction is named
#: at all, even negated, asked, hypothetical or the indication" flag (both 0 below the gate).
READINGS = ("topic", "reaction", "patient", "others", "rules", "named")
FLAGS = ("rules", "named")


@dataclass(frozen=True)
class StackRecipe:
    """One stack's inputs and recall floor, the version its artefacts carry, and the writer
    files its all-writers head trains on next to the seed corpus."""

    inputs: tuple[str, ...]
    floor: float
    version: str
    files: tuple[Path, ...]

    @property
    def config(self) -> dict[str, object]:
        """What the key and ``meta.json`` say of the stack (v9's is ``STACK_CONFIG``)."""
        if self.version == STACKED_VERSION:
            return dict(STACK_CONFIG)
        return {
            "l2": STACK_L2,
            "min_recall": self.floor,
            "gate": RULES_GATE,
            "inputs": ",".join(self.inputs),
        }


#: v9: the stack over the five writers' head (the seed corpus, Corpus 2.0, held-out 1).
V9_STACK = StackRecipe(
    ("topic", "reaction", "rules"), STACK_FLOOR, STACKED_VERSION, ALL_WRITER_FILES
)
#: The candidate v10 (``tocsin model build --writers9``): the stack over the nine writers' head
#: (held-out 2 and 3 added) reading also the rules' named flag, the PV patient head and the other
#: topics' top score: bench/ae_cv.py round 3's choice by its committed rule.
V10_STACK = StackRecipe(
    ("topic", "reaction", "rules", "named", "patient", "others"), 0.95, "v10", WRITERS9_FILES
)
#: The same head under v9's stack (round 3's base, ``v9-f95``): the data change alone, kept so
#: its artefact (built first, as the fallback candidate) can be named and rebuilt.
V10_V9_INPUTS = StackRecipe(V9_STACK.inputs, STACK_FLOOR, "v10", WRITERS9_FILES)
#: What ``tocsin model build`` builds with no recipe option and what loads by default
#: (``models.classifier.default_artefact_dir``). Making the candidate the default is this line:
#: ``DEFAULT_STACK = V10_STACK``.
DEFAULT_STACK = V9_STACK


def stacked_key(base_key: str, backbone_key: str, recipe: StackRecipe = V9_STACK) -> str:
    """The stacked folder name over the all-writers folder ``base_key``: the key covers that
    folder's key, the stack's config and the PV labelled sets the PV heads learn from."""
    digest = inputs_sha256(*data_files(), config={"base": base_key, **recipe.config})
    return artefact_key(backbone_key, digest, recipe.version)


#: The rules' verdicts per text (pipeline/pv/triage.py): does it report a reaction, and does it
#: name one at all?
RulesFlag = Callable[[Sequence[str]], Sequence[tuple[bool, bool]]]


def pv_rules() -> RulesFlag:
    """The PV rules with the bundled brands and lexicon (built once per process, ~5 s)."""
    from pipeline.pv.triage import Triage

    triage = Triage.default()

    def flags(texts: Sequence[str]) -> list[tuple[bool, bool]]:
        found = [triage.assess_rules(t) for t in texts]
        return [(bool(a.reactions), a.named) for a in found]

    return flags


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
    w: Array  # one weight per input, in ``inputs`` order
    b: float
    threshold: float
    gate: float
    inputs: tuple[str, ...] = V9_STACK.inputs
    #: The PV patient head's weights, when ``patient`` is an input (same standardisation).
    patient_w: Array | None = None
    patient_b: float = 0.0
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
        """The rules' two flags (reaction, named; one row per text), read only where the topic
        score reaches the gate (else 0)."""
        out = np.zeros((len(texts), 2))
        todo = np.flatnonzero(np.asarray(topic_p) >= self.gate)
        if len(todo):
            got = self.warm()([texts[int(i)] for i in todo])
            out[todo] = np.asarray(got, dtype=np.float64).reshape(len(todo), 2)
        return out

    def reaction_proba(self, vectors: npt.ArrayLike) -> Array:
        x = (np.atleast_2d(np.asarray(vectors, dtype=np.float64)) - self.mean) / self.scale
        return np.asarray(sigmoid(x @ self.react_w + self.react_b))

    def patient_proba(self, vectors: npt.ArrayLike) -> Array:
        assert self.patient_w is not None, "a stack reading `patient` keeps that head's weights"
        x = (np.atleast_2d(np.asarray(vectors, dtype=np.float64)) - self.mean) / self.scale
        return np.asarray(sigmoid(x @ self.patient_w + self.patient_b))

    def score(self, readings: Mapping[str, npt.ArrayLike]) -> Array:
        """The stacked adverse_event probability from the readings it takes (``READINGS``)."""
        return np.asarray(sigmoid(stack_matrix(readings, self.inputs) @ self.w + self.b))

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
        readings: dict[str, npt.ArrayLike] = {
            "topic": p[:, j],
            "rules": flags[:, 0],
            "named": flags[:, 1],
            "others": others_max(p, j),
        }
        if "reaction" in self.inputs:
            readings["reaction"] = self.reaction_proba(vectors)
        if "patient" in self.inputs:
            readings["patient"] = self.patient_proba(vectors)
        p[:, j] = self.score(readings)
        thr = np.array(thresholds, dtype=np.float64, copy=True)
        thr[j] = self.threshold
        return p, thr

    def save(self, path: Path) -> None:
        arrays: dict[str, npt.NDArray[Any]] = {
            "mean": self.mean,
            "scale": self.scale,
            "react_w": self.react_w,
            "react_b": np.array(self.react_b),
            "w": self.w,
            "b": np.array(self.b),
            "threshold": np.array(self.threshold),
            "gate": np.array(self.gate),
            "inputs": np.array(self.inputs, dtype=str),
            "patient_b": np.array(self.patient_b),
        }
        if self.patient_w is not None:
            arrays["patient_w"] = self.patient_w
        np.savez(path, **arrays)  # type: ignore[arg-type]

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
                inputs=tuple(str(i) for i in z["inputs"]) if "inputs" in z else V9_STACK.inputs,
                patient_w=z.get("patient_w"),
                patient_b=float(z["patient_b"]) if "patient_b" in z else 0.0,
            )


def others_max(proba: Array, j: int) -> Array:
    """Per row, the largest calibrated score of the topics other than column ``j``."""
    return np.asarray(np.delete(np.atleast_2d(proba), j, axis=1).max(axis=1))


def stack_matrix(readings: Mapping[str, npt.ArrayLike], inputs: Sequence[str]) -> Array:
    """The stack's input columns, in ``inputs`` order: flags as they are, probabilities as
    clipped log-odds."""
    cols = [np.asarray(readings[name], dtype=np.float64) for name in inputs]
    return np.column_stack(
        [c if name in FLAGS else logit(c) for name, c in zip(inputs, cols, strict=True)]
    )


def stack_inputs(topic_p: npt.ArrayLike, react_p: npt.ArrayLike, rules: npt.ArrayLike) -> Array:
    """v9's columns: the topic's and the reaction head's log-odds, the rules' flag."""
    return stack_matrix({"topic": topic_p, "reaction": react_p, "rules": rules}, V9_STACK.inputs)


def fit_stack(
    readings: Mapping[str, npt.ArrayLike],
    y: Array,
    *,
    beta: float,
    floor: float,
    inputs: Sequence[str] = V9_STACK.inputs,
) -> tuple[Array, float, float]:
    """``(w, b, threshold)`` on training rows: ``readings`` per input (``topic`` the calibrated
    out-of-fold adverse_event scores, flags gated), ``y`` the labels; the threshold maximises
    F-beta with the recall floor."""
    x = stack_matrix(readings, inputs)
    w, b = fit_binary(x, np.asarray(y, dtype=np.float64), np.ones(len(y)), STACK_L2)
    thr, _ = best_threshold(y, sigmoid(x @ w + b), beta, floor)
    return np.asarray(w, dtype=np.float64), float(b), thr
