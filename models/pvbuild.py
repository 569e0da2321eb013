"""Build, cache and load the case-triage heads (:mod:`models.pvhead`) for a classifier.

The heads are trained on the labelled PV sets of every writer (models/pvdata.py, in
tests/data/pv) embedded by the classifier's own encoder, with the setting that
bench/pv_triage_cv.py chose by leave-one-writer-out evaluation (:data:`L2`,
:data:`THRESHOLDS`). The result is cached as ``$TOCSIN_CACHE/pv/<digest>.npz``, the digest
covering the classifier's version (its artefact key), every labelled file and the setting, so a
new encoder or a relabelled row builds anew and a build is reproducible from the repository.
``tocsin model build`` builds it after the classifier; :func:`load_pv_head` builds it on first
use when absent (about 2,000 texts to embed: tens of seconds) and loads offline thereafter.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from models.artefacts import PV_HEAD_FILE, cache_root, inputs_sha256
from models.pvdata import PV_DATA, data_files, load_rows
from models.pvhead import PvHead, fit_pv_head

#: Chosen by bench/pv_triage_cv.py's choice rule (its first run, 2026-12-07; docs/pv-triage.md).
L2 = 1000.0
THRESHOLDS = {"reaction": 0.6, "patient": 0.6, "serious": 0.7}
#: Bumped when the file layout or the training changes.
FORMAT = 1


def head_path(version: str, data: Path = PV_DATA) -> Path:
    config = {"encoder": version, "l2": L2, "thresholds": THRESHOLDS, "format": FORMAT}
    digest = inputs_sha256(*data_files(data), config=config)
    return cache_root() / "pv" / f"pvhead-{digest[:24]}.npz"


def build_pv_head(
    version: str,
    encode: Callable[[list[str]], Any],
    *,
    data: Path = PV_DATA,
    progress: Callable[[str], None] | None = None,
) -> PvHead:
    """Train on every labelled row and write the cache file (temporary file, then rename)."""
    rows = load_rows(data)
    if progress:
        progress(f"PV triage heads: embedding {len(rows)} labelled mentions...")
    emb = encode([r["text"] for r in rows])
    head = fit_pv_head(emb, [r["labels"] for r in rows], l2=L2, thresholds=THRESHOLDS)
    dest = head_path(version, data)
    dest.parent.mkdir(parents=True, exist_ok=True)
    _save(head, dest)
    return head


def _save(heads: PvHead, dest: Path) -> None:
    """Write ``heads`` to ``dest`` whole or not at all (temporary file beside it, then rename)."""
    fd, tmp = tempfile.mkstemp(dir=dest.parent, suffix=".npz")
    os.close(fd)
    try:
        heads.save(Path(tmp))
        os.chmod(tmp, 0o644)
        os.replace(tmp, dest)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def attach_pv_head(
    classifier: object, *, build: bool = True, progress: Callable[[str], None] | None = None
) -> PvHead | None:
    """Give an ONNX classifier its triage heads (:func:`load_pv_head`), so that each of its
    predictions carries ``case_cues``; other classifiers are left as they are."""
    from models.classifier import OnnxMentionClassifier

    if not isinstance(classifier, OnnxMentionClassifier):
        return None
    if not build and not head_path(classifier.version).is_file():
        return classifier.case_heads  # the artefact's own copy, if it has one
    # With the labelled sets here, the cache keyed by them wins over the artefact's copy (which
    # may predate a relabelled row); without them (an image), the artefact's copy stays.
    classifier.case_heads = load_pv_head(classifier, progress=progress) or classifier.case_heads
    return classifier.case_heads


def copy_into(heads: PvHead, artefact_dir: Path) -> Path:
    """Save ``heads`` in the artefact folder (``PV_HEAD_FILE``), so the folder carries them."""
    dest = artefact_dir / PV_HEAD_FILE
    _save(heads, dest)
    return dest


def load_pv_head(
    classifier: object,
    *,
    data: Path = PV_DATA,
    progress: Callable[[str], None] | None = None,
) -> PvHead | None:
    """The heads for ``classifier``, built on first use; ``None`` when the classifier has no
    sentence encoder (a test double) or the labelled sets are not there (an installed package
    without the repository's tests/): the triage is then the rules alone."""
    version = getattr(classifier, "version", None)
    encoder = getattr(classifier, "encoder", None)
    if not isinstance(version, str) or encoder is None:
        return None
    if not all(p.is_file() for p in data_files(data)):
        return None
    path = head_path(version, data)
    if path.is_file():
        return PvHead.load(path)
    return build_pv_head(version, encoder.encode, data=data, progress=progress)


def build_into(artefact_dir: Path, *, progress: Callable[[str], None] | None = None) -> None:
    """The triage heads over ``artefact_dir``'s encoder (cached; built when absent), copied into
    the folder so that an image built from it carries them (``tocsin model build``)."""
    from models.classifier import load_classifier

    heads = attach_pv_head(load_classifier(artefact_dir), progress=progress)
    if heads is not None:
        copy_into(heads, artefact_dir)
