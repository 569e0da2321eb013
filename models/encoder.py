"""Sentence embeddings on the serving path: fast tokenizer + ONNX Runtime, no torch.

The exported graph already does mean pooling and L2 normalisation, so this module only tokenises,
batches and runs it. Texts are sorted by token length before batching, so each batch is padded to
the length of its own longest text instead of the longest text in the call: on tweets of mixed
length this cuts the padded tokens (and the time) of a large call substantially.

The Hugging Face fast tokenizer mutates its Rust backend's padding/truncation state on every call,
which raises "Already borrowed" when two threads tokenise at once; the lead's agent calls
``classify`` from a thread pool, so tokenisation takes a lock. ``InferenceSession.run`` is
thread-safe and runs outside the lock.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

QUERY_PREFIX = "query: "
MAX_LENGTH = 128
DEFAULT_BATCH_SIZE = 32
DEFAULT_THREADS = 2


def plan_batches(lengths: Sequence[int], batch_size: int) -> list[list[int]]:
    """Indices grouped into batches of similar length (shortest first), at most ``batch_size``.

    A stable sort keeps equal-length texts in input order, so the plan is deterministic.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


def pad_batch(
    ids: Sequence[Sequence[int]], pad_id: int
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Right-pad token id lists to the batch's longest; returns ``(input_ids, attention_mask)``."""
    width = max((len(s) for s in ids), default=0)
    input_ids = np.full((len(ids), width), pad_id, dtype=np.int64)
    mask = np.zeros((len(ids), width), dtype=np.int64)
    for row, seq in enumerate(ids):
        input_ids[row, : len(seq)] = seq
        mask[row, : len(seq)] = 1
    return input_ids, mask


def padded_tokens(lengths: Sequence[int], batches: Sequence[Sequence[int]]) -> int:
    """Total tokens fed to the model (padding included) for a batch plan; used to test batching."""
    return sum(len(b) * max(lengths[i] for i in b) for b in batches if b)


class OnnxEncoder:
    """Embeds texts with an ONNX sentence-embedding graph (inputs ``input_ids``, ``attention_mask``;
    output ``(batch, dim)`` unit vectors)."""

    def __init__(
        self,
        onnx_path: Path,
        tokenizer_dir: Path,
        *,
        threads: int = DEFAULT_THREADS,
        batch_size: int = DEFAULT_BATCH_SIZE,
        max_length: int = MAX_LENGTH,
        prefix: str = QUERY_PREFIX,
    ) -> None:
        import onnxruntime as ort
        from transformers import AutoTokenizer

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self._session = ort.InferenceSession(
            str(onnx_path), sess_options=opts, providers=["CPUExecutionProvider"]
        )
        self._tokenizer = AutoTokenizer.from_pretrained(str(tokenizer_dir))
        if not getattr(self._tokenizer, "is_fast", False):
            raise TypeError(f"{tokenizer_dir} did not give a fast tokenizer")
        pad = self._tokenizer.pad_token_id
        self._pad_id = int(pad) if pad is not None else 0
        self._lock = threading.Lock()
        self.batch_size = batch_size
        self.max_length = max_length
        self.prefix = prefix
        self.dim = int(self._session.get_outputs()[0].shape[-1])

    def tokenize(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids (prefix added, truncated to ``max_length``), unpadded."""
        with self._lock:
            enc = self._tokenizer(
                [self.prefix + t for t in texts],
                truncation=True,
                max_length=self.max_length,
                padding=False,
            )
        return [list(x) for x in enc["input_ids"]]

    def run_ids(self, ids: Sequence[Sequence[int]]) -> npt.NDArray[np.float32]:
        """Run one already-tokenised batch through the graph."""
        input_ids, mask = pad_batch(ids, self._pad_id)
        out = self._session.run(None, {"input_ids": input_ids, "attention_mask": mask})[0]
        return np.asarray(out, dtype=np.float32)

    def encode(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """Unit-norm embeddings, shape ``(len(texts), dim)``, in input order."""
        result = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return result
        ids = self.tokenize(texts)
        for batch in plan_batches([len(x) for x in ids], self.batch_size):
            result[batch] = self.run_ids([ids[i] for i in batch])
        return result
