"""Export a transformers checkpoint to an int8 ONNX sentence encoder (build time only: torch).

The graph takes ``input_ids`` and ``attention_mask`` and returns mean-pooled, L2-normalised
embeddings, so the serving path needs no torch and no pooling code of its own. Choices measured in
the project's research notes and in ``bench/quant_compare.py``:

- ``attn_implementation="eager"`` gives the fastest int8 graph (SDPA exports to ops the
  quantiser handles worse); the TorchScript exporter (``dynamo=False``) at opset 18 is the one that
  was verified with transformers 5 here.
- **Static** int8: activation ranges are fixed at build time from ``CALIBRATION_TEXTS`` seed-corpus
  texts, so a text's embedding does not depend on its batch-mates or their padding (dynamic int8
  scaled activations per call: one text's boycott score moved 0.33-0.54 across batches). Weights
  are int8 per channel, activations uint8 per tensor; only the weight MatMuls and the embedding
  Gathers are quantised, and their outputs stay float (a quantised MatMul output costs more
  accuracy than everything else together).
- A few hidden channels carry outliers (up to ~70 against ~5 for the rest) on some tokens; a fixed
  range covering them is too coarse for the rest, so ``split_outliers`` computes the 8 largest input
  channels of each feed-forward output MatMul in fp32 beside the int8 MatMul.
- ``fuse_integer_matmuls`` gives the quantised MatMuls their bias (``MatMulIntegerToFloat``), as
  the dynamic graph had them. ``quant_pre_process`` runs first (without symbolic shape inference,
  which fails on this graph) as ONNX Runtime advises.
- Weights use the full int8 range (no ``reduce_range``); measured on a CPU with VNNI only.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from models.encoder import QUERY_PREFIX

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


#: Calibration: how many corpus texts fix the activation ranges, one text per run (no padding).
CALIBRATION_TEXTS = 128
#: Input channels of each feed-forward output MatMul kept in fp32 (see ``split_outliers``).
OUTLIER_CHANNELS = 8
#: The MatMuls whose inputs carry outlier channels and are split: the feed-forward output of every
#: block (its input, the GELU output, reaches ~70). Splitting the feed-forward input MatMuls too
#: lifts the min cosine to fp32 from 0.996 to 0.999 but costs 9 % CPU instead of 2 %
#: (bench/quant_compare.py).
OUTLIER_MATMULS = re.compile(r"layer\.\d+/output/dense/MatMul$")

Feed = dict[str, npt.NDArray[np.int64]]


def calibration_texts(corpus: Path | None = None, n: int = CALIBRATION_TEXTS) -> list[str]:
    """``n`` training-split texts spread evenly over ``corpus`` (the file is grouped by topic)."""
    from models.corpus import DEFAULT_CORPUS, load_corpus

    train = [
        e.text
        for e in load_corpus(DEFAULT_CORPUS if corpus is None else corpus)
        if e.split == "train"
    ]
    if n >= len(train):
        return train
    return [train[i * len(train) // n] for i in range(n)]


def calibration_feeds(tokenizer: Any, texts: Sequence[str], *, max_length: int = 128) -> list[Feed]:
    """One unpadded ``{input_ids, attention_mask}`` batch per text, as the encoder would tokenise."""
    feeds = []
    for text in texts:
        enc = tokenizer([QUERY_PREFIX + text], truncation=True, max_length=max_length)
        ids = np.asarray(enc["input_ids"], dtype=np.int64)
        feeds.append({"input_ids": ids, "attention_mask": np.ones_like(ids)})
    return feeds


def _weight_matmuls(model: Any) -> list[Any]:
    inits = {i.name for i in model.graph.initializer}
    return [n for n in model.graph.node if n.op_type == "MatMul" and n.input[1] in inits]


def _channel_absmax(model: Any, inputs: Sequence[str], feeds: Sequence[Feed]) -> dict[str, Any]:
    """Per-channel max |x| of the named tensors over ``feeds`` (fp32 run)."""
    import onnx
    import onnxruntime as ort

    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    for name in inputs:
        probe.graph.output.append(
            onnx.helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, None)
        )
    session = ort.InferenceSession(probe.SerializeToString(), providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    amax: dict[str, Any] = {}
    for feed in feeds:
        outs = dict(zip(names, session.run(None, feed), strict=True))
        for name in inputs:
            x = np.abs(outs[name]).reshape(-1, outs[name].shape[-1]).max(axis=0)
            amax[name] = np.maximum(amax.get(name, 0.0), x)
    return amax


def split_outliers(
    model: Any,
    feeds: Sequence[Feed],
    k: int = OUTLIER_CHANNELS,
    pattern: re.Pattern[str] = OUTLIER_MATMULS,
) -> list[str]:
    """Take the ``k`` largest input channels of each ``pattern`` MatMul out into an fp32 MatMul.

    A handful of hidden channels reach 10-70 on a few tokens while the rest stay within about 5:
    a fixed per-tensor range that covers them leaves the other channels a few steps of int8. Here
    ``y = x @ W + b`` becomes ``(x * inlier_mask) @ W_inliers + b + x[..., outliers] @ W[outliers]``;
    the first MatMul is quantised with a range calibrated on the masked input, the small one stays
    fp32. Edits ``model`` in place; returns the names of the nodes that must stay unquantised.
    """
    from onnx import helper, numpy_helper

    graph = model.graph
    inits = {i.name: i for i in graph.initializer}
    groups: dict[str, list[Any]] = {}
    for node in _weight_matmuls(model):
        if k > 0 and pattern.search(node.name):
            groups.setdefault(node.input[0], []).append(node)
    amax = _channel_absmax(model, list(groups), feeds)
    keep_fp32: list[str] = []
    for x, nodes in groups.items():
        tag = x.replace("/", "_")
        idx = np.sort(np.argsort(-amax[x])[:k]).astype(np.int64)
        mask = np.ones(amax[x].shape[0], np.float32)
        mask[idx] = 0.0
        graph.initializer.extend(
            [
                numpy_helper.from_array(idx, f"{tag}_outliers"),
                numpy_helper.from_array(mask, f"{tag}_inlier_mask"),
            ]
        )
        pos = min(list(graph.node).index(n) for n in nodes)
        gather = helper.make_node(
            "Gather", [x, f"{tag}_outliers"], [f"{tag}_out"], f"{tag}_out", axis=-1
        )
        masked = helper.make_node("Mul", [x, f"{tag}_inlier_mask"], [f"{tag}_in"], f"{tag}_in")
        graph.node.insert(pos, masked)
        graph.node.insert(pos, gather)
        keep_fp32.append(gather.name)
        for node in nodes:
            w = numpy_helper.to_array(inits[node.input[1]])
            w_in = w.copy()
            w_in[idx] = 0.0
            inits[node.input[1]].CopyFrom(numpy_helper.from_array(w_in, node.input[1]))
            graph.initializer.append(numpy_helper.from_array(w[idx], f"{node.input[1]}_outliers"))
            y = node.output[0]
            bias = next(
                n
                for n in graph.node
                if n.op_type == "Add" and y in n.input and any(i in inits for i in n.input)
            )
            node.input[0] = f"{tag}_in"
            node.output[0] = f"{y}_in"
            bias.input[list(bias.input).index(y)] = f"{y}_in"
            out = bias.output[0]
            bias.output[0] = f"{out}_in"
            small = helper.make_node(
                "MatMul",
                [f"{tag}_out", f"{node.input[1]}_outliers"],
                [f"{y}_out"],
                f"{node.name}_outliers",
            )
            total = helper.make_node("Add", [f"{out}_in", f"{y}_out"], [out], f"{node.name}_total")
            at = list(graph.node).index(bias)
            graph.node.insert(at + 1, total)
            graph.node.insert(at + 1, small)
            keep_fp32.append(small.name)
    return keep_fp32


def fuse_integer_matmuls(model: Any) -> None:
    """QDQ ``MatMul`` + bias ``Add`` -> ``MatMulIntegerToFloat`` with the bias; unmask inliers.

    ONNX Runtime turns a QDQ MatMul into ``MatMulIntegerToFloat`` but leaves the bias as a
    separate ``Add`` over the output; the dynamic graph had it fused, and those 72 extra passes
    cost about 7 % of the encoder's CPU time. The inlier mask (``split_outliers``) only served to
    calibrate: the outlier rows of the quantised weights are zero, so the masked channels may
    saturate freely, and the ``Mul`` goes. Edits ``model`` in place.
    """
    from onnx import helper

    graph = model.graph
    inits = {i.name for i in graph.initializer}
    producer = {o: n for n in graph.node for o in n.output}
    users: dict[str, list[Any]] = {}
    for n in graph.node:
        for i in n.input:
            users.setdefault(i, []).append(n)
    drop: list[Any] = []
    for node in list(graph.node):
        if node.op_type != "MatMul":
            continue
        dq_a, dq_w = producer.get(node.input[0]), producer.get(node.input[1])
        if dq_a is None or dq_w is None or dq_a.op_type != "DequantizeLinear":
            continue
        if dq_w.op_type != "DequantizeLinear" or dq_w.input[0] not in inits:
            continue
        after = users.get(node.output[0], [])
        if len(after) != 1 or after[0].op_type != "Add":
            continue
        add = after[0]
        bias = [i for i in add.input if i in inits]
        if len(bias) != 1:
            continue
        fused = helper.make_node(
            "MatMulIntegerToFloat",
            [
                dq_a.input[0],
                dq_w.input[0],
                dq_a.input[1],
                dq_w.input[1],
                dq_a.input[2],
                dq_w.input[2],
                bias[0],
            ],
            [add.output[0]],
            node.name,
            domain="com.microsoft",
        )
        graph.node.insert(list(graph.node).index(node), fused)
        drop += [node, add]
        users[dq_w.output[0]].remove(node)
        users[dq_a.output[0]].remove(node)
        if not users[dq_w.output[0]]:
            drop.append(dq_w)
    for n in drop:
        graph.node.remove(n)
    for n in list(graph.node):
        if (
            n.op_type == "DequantizeLinear"
            and not any(n.output[0] in m.input for m in graph.node)
            and n.output[0] not in {o.name for o in graph.output}
        ):
            graph.node.remove(n)
    for n in list(graph.node):
        if n.op_type == "Mul" and n.input[1].endswith("_inlier_mask"):
            for m in graph.node:
                for j, i in enumerate(m.input):
                    if i == n.output[0]:
                        m.input[j] = n.input[0]
            graph.node.remove(n)
    used = {i for n in graph.node for i in n.input}
    for init in [i for i in graph.initializer if i.name.endswith("_inlier_mask")]:
        if init.name not in used:
            graph.initializer.remove(init)
    if not any(o.domain == "com.microsoft" for o in model.opset_import):
        model.opset_import.append(helper.make_opsetid("com.microsoft", 1))


class _Feeds:
    """``CalibrationDataReader`` over prepared feeds; ranges merge one feed at a time."""

    def __init__(self, feeds: Sequence[Feed]) -> None:
        self._feeds = list(feeds)
        self._it = iter(self._feeds)

    def __len__(self) -> int:
        return len(self._feeds)

    def set_range(self, start_index: int, end_index: int) -> None:
        self._it = iter(self._feeds[start_index:end_index])

    def get_next(self) -> Feed | None:
        return next(self._it, None)


def quantize_int8(
    fp32: Path,
    out: Path,
    feeds: Sequence[Feed],
    *,
    outliers: int = OUTLIER_CHANNELS,
    pattern: re.Pattern[str] = OUTLIER_MATMULS,
) -> None:
    """Static int8 (see module docstring): weights per channel, activation ranges from ``feeds``."""
    import onnx
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    with tempfile.TemporaryDirectory(dir=out.parent) as tmp:
        pre, split, qdq = (Path(tmp) / n for n in ("pre.onnx", "split.onnx", "qdq.onnx"))
        quant_pre_process(str(fp32), str(pre), skip_symbolic_shape=True)
        model = onnx.load(str(pre))
        keep_fp32 = split_outliers(model, feeds, outliers, pattern)
        inits = {i.name for i in model.graph.initializer}
        keep_fp32 += [  # attention's activation x activation MatMuls
            n.name for n in model.graph.node if n.op_type == "MatMul" and n.input[1] not in inits
        ]
        onnx.save(model, str(split), save_as_external_data=True, location="split.data")
        del model
        quantize_static(
            str(split),
            str(qdq),
            _Feeds(feeds),  # type: ignore[arg-type]
            quant_format=QuantFormat.QDQ,
            op_types_to_quantize=["MatMul", "Gather"],
            per_channel=True,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            nodes_to_exclude=keep_fp32,
            calibrate_method=CalibrationMethod.MinMax,
            extra_options={
                "OpTypesToExcludeOutputQuantization": ["MatMul"],
                "DedicatedQDQPair": True,
                "CalibStridedMinMax": 1,
            },
        )
        model = onnx.load(str(qdq))
        fuse_integer_matmuls(model)
        onnx.save(model, str(out))


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


def export_int8(
    model: str, out: Path, calibration: Sequence[str], progress: Progress = print
) -> None:
    """fp32 export into a temporary file next to ``out``, then quantise into ``out``.

    ``calibration`` is the texts whose activations fix the static ranges (the build passes
    ``CALIBRATION_TEXTS`` training texts spread over the seed corpus).
    """
    from transformers import AutoTokenizer

    with tempfile.TemporaryDirectory(dir=out.parent) as tmp:
        fp32 = Path(tmp) / "model.fp32.onnx"
        progress(f"export: torch -> ONNX fp32 (opset {OPSET}) from {model}")
        export_fp32(model, fp32)
        progress(f"export: static int8 quantisation, ranges from {len(calibration)} texts")
        feeds = calibration_feeds(AutoTokenizer.from_pretrained(model), calibration)
        quantize_int8(fp32, out, feeds)
