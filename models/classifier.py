"""The mention classifier used by the ``classify_mentions`` agent: load artefacts, classify texts.

Serving needs only onnxruntime, the transformers fast tokenizer and numpy -- never torch -- so a
worker stays well under 1 GB. ``classify`` is synchronous and thread-safe: the agent runs it in a
thread pool, off the event loop.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from models.aestack import AE_STACK_FILE, DEFAULT_STACK, AeStack, StackRecipe, stacked_key
from models.artefacts import (
    ALL_WRITERS_VERSION,
    ARTEFACT_VERSION,
    HEAD_CONFIG,
    HEAD_FILE,
    META_FILE,
    ONNX_FILE,
    PV_HEAD_FILE,
    TOKENIZER_DIR,
    artefact_key,
    backbone_name,
    build_config,
    cache_root,
    inputs_sha256,
)
from models.corpus import (
    ALL_WRITER_FILES,
    DEFAULT_CORPUS,
    DEFAULT_EXTRA_CORPORA,
    training_inputs,
    training_key_config,
)
from models.encoder import OnnxEncoder
from models.head import OTHER, Head
from models.lang import detect_lang
from models.pvhead import CaseCues, PvHead
from models.taxonomy import DEFAULT_TAXONOMY
from pipeline.errors import TocsinError

THREADS_ENV = "TOCSIN_MODEL_THREADS"
#: Intra-op threads per model call: one, with calls run side by side (see models/serving.py).
DEFAULT_THREADS = 1
#: "1" lets ONNX Runtime's threads busy-wait between ops (faster only on an otherwise idle machine).
SPIN_ENV = "TOCSIN_MODEL_SPIN"


@dataclass(frozen=True)
class Prediction:
    """The verdict on one text."""

    topics: tuple[str, ...]  # labels above threshold, highest score first; ("other",) when none
    scores: dict[str, float]  # calibrated per-topic probabilities (trained topics, not "other")
    stance: str
    stance_scores: dict[str, float]
    lang: str
    #: What the PV triage heads (models/pvhead.py) read in the encoder's sentence embedding,
    #: computed from the same encoder pass; ``None`` when the classifier has no heads attached.
    case_cues: CaseCues | None = field(default=None, compare=False)


class MentionClassifier(Protocol):
    """What the agent needs: a version string for provenance and a batch ``classify``."""

    version: str

    def classify(self, texts: Sequence[str]) -> list[Prediction]: ...


class ArtefactsMissingError(TocsinError, FileNotFoundError):
    """The artefact folder is absent or incomplete: run ``tocsin model build`` first."""


class OnnxMentionClassifier:
    """Encoder (ONNX int8) + numpy head + language heuristic."""

    def __init__(
        self,
        encoder: OnnxEncoder,
        head: Head,
        version: str,
        case_heads: PvHead | None = None,
        ae_stack: AeStack | None = None,
    ) -> None:
        self._encoder = encoder
        self._head = head
        self.version = version
        #: PV triage heads over the same embedding (models/pvbuild.py attaches them).
        self.case_heads = case_heads
        #: The adverse_event stack of a v9 artefact (models/aestack.py): replaces that topic's
        #: score and threshold.
        self.ae_stack = ae_stack

    @property
    def head(self) -> Head:
        return self._head

    def warm(self) -> None:
        """Build now what the first batch would otherwise build: the adverse_event stack's PV
        rules (the bundled lexicon, ~5 s of CPU; :meth:`models.aestack.AeStack.warm`)."""
        if self.ae_stack is not None:
            self.ae_stack.warm()

    @property
    def encoder(self) -> OnnxEncoder:
        return self._encoder

    def classify(self, texts: Sequence[str]) -> list[Prediction]:
        if not texts:
            return []
        vectors = self._encoder.encode(texts)
        emb = self._head.features(vectors, texts)
        topic_p = self._head.topic_proba(emb)
        stance_p = self._head.stance_proba(emb)
        heads = self.case_heads
        cues = heads.cues(vectors) if heads is not None else [None] * len(texts)
        topics, stances, thr = self._head.topics, self._head.stances, self._head.thresholds
        if self.ae_stack is not None:
            topic_p, thr = self.ae_stack.apply(topic_p, thr, topics, vectors, texts)
        out = []
        for i, text in enumerate(texts):
            row = topic_p[i]
            above = [j for j in np.argsort(-row, kind="stable") if row[j] >= thr[j]]
            srow = stance_p[i]
            out.append(
                Prediction(
                    topics=tuple(topics[j] for j in above) or (OTHER,),
                    scores={t: float(row[j]) for j, t in enumerate(topics)},
                    stance=stances[int(srow.argmax())],
                    stance_scores={s: float(srow[j]) for j, s in enumerate(stances)},
                    lang=detect_lang(text),
                    case_cues=cues[i],
                )
            )
        return out


def _keyed_dir(extra: tuple[Path, ...], config: Any, version: str) -> Path:
    inputs = (*training_inputs(DEFAULT_CORPUS, extra), DEFAULT_TAXONOMY)
    for path in inputs:
        if not path.is_file():
            raise ArtefactsMissingError(f"training input not found: {path}")
    digest = inputs_sha256(*inputs, config=training_key_config(config, extra))
    return cache_root() / "models" / artefact_key(backbone_name(), digest, version)


def plain_artefact_dir() -> Path:
    """The v6 recipe's folder (``tocsin model build --plain``): seed corpus + Corpus 2.0."""
    return _keyed_dir(DEFAULT_EXTRA_CORPORA, HEAD_CONFIG, ARTEFACT_VERSION)


def all_writers_artefact_dir(files: tuple[Path, ...] = ALL_WRITER_FILES) -> Path:
    """The all-writers head's folder (v8, ``tocsin model build --all-writers``; with ``files``
    the head over those writer files, as under a stack of ``StackRecipe.files``)."""
    config = build_config(False, all_writers=True)
    return _keyed_dir(files, config, ALL_WRITERS_VERSION)


def stacked_artefact_dir(recipe: StackRecipe = DEFAULT_STACK) -> Path:
    """``$TOCSIN_CACHE/models/<key>`` of ``recipe``'s adverse_event stack over its all-writers
    head, keyed by the configured backbone, bundled corpora, taxonomy and PV sets."""
    base = all_writers_artefact_dir(recipe.files).name
    return cache_root() / "models" / stacked_key(base, backbone_name(), recipe)


def default_artefact_dir() -> Path:
    """The default model's folder: ``DEFAULT_STACK``'s (models/aestack.py; v9)."""
    return stacked_artefact_dir(DEFAULT_STACK)


def read_meta(artefact_dir: Path) -> dict[str, Any]:
    """``meta.json`` of an artefact folder."""
    meta: dict[str, Any] = json.loads((artefact_dir / META_FILE).read_text(encoding="utf-8"))
    return meta


def load_classifier(
    artefact_dir: Path | None = None, *, threads: int | None = None
) -> MentionClassifier:
    """Load built artefacts (``None`` = the default cache location, which must be built).

    ``threads`` sets ONNX Runtime's intra-op threads per call; default ``$TOCSIN_MODEL_THREADS``
    or 1 (the worker runs ``$TOCSIN_MODEL_WORKERS`` calls at once instead; models/serving.py).
    ``$TOCSIN_MODEL_SPIN=1`` lets them busy-wait between ops (see ``OnnxEncoder``).
    """
    folder = default_artefact_dir() if artefact_dir is None else artefact_dir
    needed = [folder / n for n in (META_FILE, HEAD_FILE, ONNX_FILE, TOKENIZER_DIR)]
    missing = [p.name for p in needed if not p.exists()]
    if missing:
        raise ArtefactsMissingError(
            f"model artefacts in {folder} are missing {missing}; run `tocsin model build`"
        )
    meta = read_meta(folder)
    if threads is None:
        threads = int(os.environ.get(THREADS_ENV, DEFAULT_THREADS))
    encoder = OnnxEncoder(
        folder / ONNX_FILE,
        folder / TOKENIZER_DIR,
        threads=threads,
        max_length=int(meta["max_length"]),
        prefix=str(meta["prefix"]),
        spin=os.environ.get(SPIN_ENV, "0") == "1",
    )
    pv_heads, stack = folder / PV_HEAD_FILE, folder / AE_STACK_FILE
    return OnnxMentionClassifier(
        encoder,
        Head.load(folder / HEAD_FILE),
        str(meta["version"]),
        case_heads=PvHead.load(pv_heads) if pv_heads.is_file() else None,
        ae_stack=AeStack.load(stack) if stack.is_file() else None,
    )
