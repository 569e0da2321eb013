"""Sentence embeddings on the serving path: Rust fast tokenizer + ONNX Runtime, no torch.

The exported graph already does mean pooling and L2 normalisation, so this module only tokenises,
batches and runs it. Texts are sorted by token length before batching, so each batch is padded to
the length of its own longest text instead of the longest text in the call: on tweets of mixed
length this cuts the padded tokens (and the time) of a large call substantially.

Tokenisation uses ``tokenizers.Tokenizer`` -- the engine inside transformers' fast tokenizers --
on the ``tokenizer.json`` that ``AutoTokenizer.save_pretrained`` wrote at build time, so any
checkpoint transformers can load works here. Not transformers itself: with torch installed,
transformers 5.17's tokenizer module imports torch (via its GGUF loader), which costs seconds of
start-up and hundreds of MB per worker. Truncation is configured once at load and never mutated,
so concurrent ``encode`` calls from the agent's thread pool are safe; ``InferenceSession.run`` is
thread-safe too.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
from tokenizers import Tokenizer

QUERY_PREFIX = "query: "
MAX_LENGTH = 128
#: Texts per ONNX Runtime call. Callers may pass more (the agent takes 32 mentions per batch);
#: ``encode`` splits them into length-sorted runs of this size. Small runs are faster per text on
#: CPU: on the 2-core build machine, 192 distinct corpus texts in calls of 32 ran at 50-71 texts/s
#: with runs of 8, against 26-33 with runs of 12, 14-20 with runs of 32 and 37-58 with runs of 4
#: (3 rotated rounds each, same process); activations of a small run stay in the CPU caches.
DEFAULT_BATCH_SIZE = 8
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


def _pad_id(tokenizer: Tokenizer, tokenizer_dir: Path) -> int:
    """The pad token id from ``tokenizer_config.json`` (a string or an AddedToken dict), else 0."""
    cfg_path = tokenizer_dir / "tokenizer_config.json"
    cfg = json.loads(cfg_path.read_text(encoding="utf-8")) if cfg_path.is_file() else {}
    pad = cfg.get("pad_token")
    if isinstance(pad, dict):
        pad = pad.get("content")
    pad_id = tokenizer.token_to_id(pad) if isinstance(pad, str) else None
    return int(pad_id) if pad_id is not None else 0


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
        spin: bool = False,
    ) -> None:
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        # ONNX Runtime's pool threads busy-wait between ops by default. In a worker the event
        # loop (Kafka I/O, the other agents) needs the same cores between and during batches, and
        # spinning threads take them: on a loaded 2-core machine, spinning cost 15-17 CPU ms per
        # text against 9.4-12.7 without, and the wall-clock rate was no better (3 interleaved
        # A/B rounds of 96 texts). ``spin=True`` brings it back for a dedicated machine.
        opts.add_session_config_entry("session.intra_op.allow_spinning", "1" if spin else "0")
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self._session = ort.InferenceSession(
            str(onnx_path), sess_options=opts, providers=["CPUExecutionProvider"]
        )
        self._tokenizer = Tokenizer.from_file(str(tokenizer_dir / "tokenizer.json"))
        self._tokenizer.no_padding()
        self._tokenizer.enable_truncation(max_length=max_length)
        self._pad_id = _pad_id(self._tokenizer, tokenizer_dir)
        self.batch_size = batch_size
        self.max_length = max_length
        self.prefix = prefix
        self.dim = int(self._session.get_outputs()[0].shape[-1])

    def tokenize(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids (prefix and special tokens added, truncated to ``max_length``), unpadded."""
        encs = self._tokenizer.encode_batch([self.prefix + t for t in texts])
        return [e.ids for e in encs]

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
