"""Training-text embeddings kept across builds, so a corpus change embeds only its new rows.

A build embeds every training text with the int8 encoder before it trains the head; with ~5,000
texts that is minutes on a loaded 2-core machine, and a corpus edit changes a few hundred of
them. The store lives in ``$TOCSIN_CACHE/embeddings/<encoder digest>/``: the digest covers the
encoder's ONNX file, its tokenizer files, the query prefix and the maximum length, so a
re-exported or fine-tuned encoder never reads another's vectors. Inside, each build that
embedded something writes one shard (``<shard digest>.npz``: sha256 of each text as given to
the encoder, and its float32 embedding), written to a temporary file and renamed, so a crashed
or concurrent build leaves either a whole shard or none. The static int8 encoder gives a text
the same embedding whatever its batch-mates (models/export.py), so a cached vector is the one a
fresh encode would give.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from models.artefacts import file_sha256

Vectors = npt.NDArray[np.float32]
Encode = Callable[[Sequence[str]], Vectors]


def encoder_digest(onnx_file: Path, tokenizer_dir: Path, prefix: str, max_length: int) -> str:
    """What an embedding depends on besides the text: the encoder's files and settings."""
    h = hashlib.sha256()
    h.update(file_sha256(onnx_file).encode())
    for f in sorted(p for p in tokenizer_dir.rglob("*") if p.is_file()):
        h.update(f.relative_to(tokenizer_dir).as_posix().encode() + b"\0")
        h.update(file_sha256(f).encode())
    h.update(f"\0{prefix}\0{max_length}".encode())
    return h.hexdigest()


def text_digest(text: str) -> str:
    """The key of one text (the filled text, before the encoder adds its prefix)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class EmbeddingCache:
    """The embeddings of one encoder, keyed by text; ``encode`` fills in what is missing."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._vectors: dict[str, Vectors] = {}
        if folder.is_dir():
            for shard in sorted(folder.glob("*.npz")):
                with np.load(shard, allow_pickle=False) as z:
                    keys, emb = z["keys"], np.asarray(z["emb"], dtype=np.float32)
                self._vectors.update((str(k), emb[i]) for i, k in enumerate(keys))

    def __len__(self) -> int:
        return len(self._vectors)

    def encode(self, texts: Sequence[str], encode: Encode) -> tuple[Vectors, int]:
        """Embeddings of ``texts`` in order, and how many had to be computed with ``encode``
        (called once, on the missing texts only, in their order of first appearance); the new
        ones are written to a new shard before returning."""
        keys = [text_digest(t) for t in texts]
        missing: dict[str, str] = {}
        for k, t in zip(keys, texts, strict=True):
            if k not in self._vectors and k not in missing:
                missing[k] = t
        if missing:
            fresh = np.asarray(encode(list(missing.values())), dtype=np.float32)
            if fresh.shape[0] != len(missing):
                raise ValueError(f"encode returned {fresh.shape[0]} rows for {len(missing)} texts")
            self._write_shard(list(missing), fresh)
            self._vectors.update(zip(missing, fresh, strict=True))
        if not keys:
            return np.zeros((0, 0), np.float32), 0
        return np.stack([self._vectors[k] for k in keys]).astype(np.float32), len(missing)

    def _write_shard(self, keys: list[str], emb: Vectors) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        name = hashlib.sha256("\n".join(keys).encode()).hexdigest()[:16]
        fd, tmp = tempfile.mkstemp(prefix=".shard.", suffix=".npz", dir=self.folder)
        try:
            with os.fdopen(fd, "wb") as f:
                np.savez(f, keys=np.array(keys, dtype=str), emb=emb)
            os.replace(tmp, self.folder / f"{name}.npz")
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
