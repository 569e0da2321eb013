"""Export a transformers checkpoint to an int8 ONNX sentence encoder (build time only: torch).

The graph takes ``input_ids`` and ``attention_mask`` and returns mean-pooled, L2-normalised
embeddings, so the serving path needs no torch and no pooling code of its own. Choices measured in
the project's research notes:

- ``attn_implementation="eager"`` gives the fastest int8 graph (SDPA exports to ops the
  quantiser handles worse); the TorchScript exporter (``dynamo=False``) at opset 18 is the one that
  was verified with transformers 5 here.
- ``quantize_dynamic`` with the defaults loses too much accuracy on CPUs without VNNI; per-channel
  weights with ``reduce_range`` keep int8 vs fp32 cosine above 0.99. ``quant_pre_process`` runs
  first (without symbolic shape inference, which fails on this graph) as ONNX Runtime advises.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

OPSET = 18
Progress = Callable[[str], None]


def _load(model: str) -> tuple[Any, Any]:
    import torch
    from transformers import AutoModel, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model)
    net = AutoModel.from_pretrained(model, attn_implementation="eager", dtype=torch.float32)
    net.eval()
    return net, tokenizer


def _pooled_module(net: Any) -> Any:
    import torch

    class MeanPooled(torch.nn.Module):
        """Backbone + masked mean pooling + L2 normalisation, as one exportable module."""

        def __init__(self, backbone: Any) -> None:
            super().__init__()
            self.backbone = backbone

        def forward(self, input_ids: Any, attention_mask: Any) -> Any:
            hidden = self.backbone(input_ids=input_ids, attention_mask=attention_mask)[0]
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            summed = (hidden * mask).sum(dim=1)
            pooled = summed / mask.sum(dim=1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, p=2.0, dim=-1)

    return MeanPooled(net).eval()


def export_fp32(model: str, out: Path) -> None:
    """Export ``model`` (local folder or hub id) with pooling to an fp32 ONNX file."""
    import torch

    net, tokenizer = _load(model)
    module = _pooled_module(net)
    sample = tokenizer(
        ["query: a sample", "query: a longer sample text"], padding=True, return_tensors="pt"
    )
    with torch.no_grad():
        torch.onnx.export(
            module,
            (sample["input_ids"], sample["attention_mask"]),
            str(out),
            input_names=["input_ids", "attention_mask"],
            output_names=["embedding"],
            dynamic_axes={
                "input_ids": {0: "batch", 1: "sequence"},
                "attention_mask": {0: "batch", 1: "sequence"},
                "embedding": {0: "batch"},
            },
            opset_version=OPSET,
            dynamo=False,
        )


def quantize_int8(fp32: Path, out: Path) -> None:
    """Dynamic int8 quantisation, per-channel with reduce_range (see module docstring)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.quantization.shape_inference import quant_pre_process

    with tempfile.TemporaryDirectory(dir=out.parent) as tmp:
        pre = Path(tmp) / "pre.onnx"
        quant_pre_process(str(fp32), str(pre), skip_symbolic_shape=True)
        quantize_dynamic(
            str(pre),
            str(out),
            weight_type=QuantType.QInt8,
            per_channel=True,
            reduce_range=True,
        )


def reference_embeddings(
    model: str, texts: Sequence[str], *, max_length: int = 128
) -> npt.NDArray[np.float32]:
    """fp32 torch embeddings (same pooling) to measure what quantisation costs."""
    import torch

    net, tokenizer = _load(model)
    module = _pooled_module(net)
    enc = tokenizer(
        list(texts), padding=True, truncation=True, max_length=max_length, return_tensors="pt"
    )
    with torch.no_grad():
        out = module(enc["input_ids"], enc["attention_mask"])
    return np.asarray(out.numpy(), dtype=np.float32)


def export_int8(model: str, out: Path, progress: Progress = print) -> None:
    """fp32 export into a temporary file next to ``out``, then quantise into ``out``."""
    with tempfile.TemporaryDirectory(dir=out.parent) as tmp:
        fp32 = Path(tmp) / "model.fp32.onnx"
        progress(f"export: torch -> ONNX fp32 (opset {OPSET}) from {model}")
        export_fp32(model, fp32)
        progress("export: dynamic int8 quantisation (per-channel, reduce_range)")
        quantize_int8(fp32, out)
