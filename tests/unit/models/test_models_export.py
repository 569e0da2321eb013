"""The build's int8 quantisation gives a text the same embedding whatever its batch-mates.

A tiny encoder graph (embedding Gather, feed-forward MatMuls named like the exported backbone's,
masked mean pooling, L2 normalisation) is quantised the way the build quantises the real one, then
a short text is embedded alone and next to a long, padded neighbour with a few loud tokens.
Dynamic int8 (the build's quantisation up to export version e1) fails this: it scales activations
per call, so the neighbour coarsens the short text's int8 steps.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from models.encoder import pad_batch
from models.export import Feed, quantize_int8

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

VOCAB, DIM, HIDDEN, PAD, LOUD = 64, 32, 128, 1, 7
TOLERANCE = 1e-4
SHORT = [0, 12, 5, 33, 2]
NEIGHBOUR = [0, *([LOUD, 40, 41] * 30), 2]  # long: the short text gets padded to it


def _tiny_encoder(path: Path) -> None:
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    emb = rng.normal(size=(VOCAB, DIM)).astype(np.float32)
    emb[LOUD] *= 25.0  # a token whose activations dwarf the others'
    inits: dict[str, npt.NDArray[np.generic]] = {
        "emb": emb,
        "w1": rng.normal(scale=0.2, size=(DIM, HIDDEN)).astype(np.float32),
        "b1": rng.normal(scale=0.1, size=HIDDEN).astype(np.float32),
        "w2": rng.normal(scale=0.1, size=(HIDDEN, DIM)).astype(np.float32),
        "b2": rng.normal(scale=0.1, size=DIM).astype(np.float32),
        "axis1": np.array([1], np.int64),
        "axis2": np.array([2], np.int64),
        "eps": np.array(1e-9, np.float32),
    }
    ffn = "/backbone/encoder/layer.0"
    nodes = [
        helper.make_node("Gather", ["emb", "input_ids"], ["h0"], "/backbone/embeddings/Gather"),
        helper.make_node("MatMul", ["h0", "w1"], ["m1"], f"{ffn}/intermediate/dense/MatMul"),
        helper.make_node("Add", ["b1", "m1"], ["a1"], f"{ffn}/intermediate/dense/Add"),
        helper.make_node("Relu", ["a1"], ["r1"], f"{ffn}/intermediate/act"),
        helper.make_node("MatMul", ["r1", "w2"], ["m2"], f"{ffn}/output/dense/MatMul"),
        helper.make_node("Add", ["b2", "m2"], ["a2"], f"{ffn}/output/dense/Add"),
        helper.make_node("Add", ["a2", "h0"], ["h1"], f"{ffn}/output/Add"),
        helper.make_node("Cast", ["attention_mask"], ["mf"], "/Cast", to=TensorProto.FLOAT),
        helper.make_node("Unsqueeze", ["mf", "axis2"], ["m3"], "/Unsqueeze"),
        helper.make_node("Mul", ["h1", "m3"], ["hm"], "/Mul"),
        helper.make_node("ReduceSum", ["hm", "axis1"], ["s"], "/ReduceSum", keepdims=0),
        helper.make_node("ReduceSum", ["m3", "axis1"], ["n"], "/ReduceSum_1", keepdims=0),
        helper.make_node("Max", ["n", "eps"], ["nc"], "/Max"),
        helper.make_node("Div", ["s", "nc"], ["pooled"], "/Div"),
        helper.make_node("ReduceL2", ["pooled", "axis1"], ["norm"], "/ReduceL2", keepdims=1),
        helper.make_node("Div", ["pooled", "norm"], ["embedding"], "/Div_1"),
    ]
    ids = [
        helper.make_tensor_value_info(n, TensorProto.INT64, ["batch", "sequence"])
        for n in ("input_ids", "attention_mask")
    ]
    out = helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["batch", DIM])
    graph = helper.make_graph(
        nodes, "tiny", ids, [out], [numpy_helper.from_array(v, k) for k, v in inits.items()]
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 8
    onnx.save(model, str(path))


def _feeds(n: int) -> list[Feed]:
    rng = np.random.default_rng(1)
    feeds = []
    for _ in range(n):
        body = rng.integers(8, VOCAB, size=int(rng.integers(3, 20))).tolist()
        ids, mask = pad_batch([[0, *body, 2]], PAD)
        feeds.append({"input_ids": ids, "attention_mask": mask})
    return feeds


def _embed(model: Path, batch: list[list[int]]) -> npt.NDArray[np.float32]:
    session = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    ids, mask = pad_batch(batch, PAD)
    out = session.run(None, {"input_ids": ids, "attention_mask": mask})[0]
    return np.asarray(out, dtype=np.float32)


def _batch_dependence(model: Path) -> float:
    alone = _embed(model, [SHORT])[0]
    beside = _embed(model, [SHORT, NEIGHBOUR])[0]
    return float(np.abs(alone - beside).max())


@pytest.fixture(scope="module")
def fp32(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("tiny") / "fp32.onnx"
    _tiny_encoder(path)
    return path


def test_build_quantisation_is_batch_invariant(fp32: Path) -> None:
    out = fp32.parent / "int8.onnx"
    quantize_int8(fp32, out, _feeds(32), outliers=2)
    assert _batch_dependence(out) < TOLERANCE
    # and still the same encoder (a loose bound: random toy weights, not the real fidelity)
    cos = float((_embed(out, [SHORT])[0] * _embed(fp32, [SHORT])[0]).sum())
    assert cos > 0.95


def test_fp32_is_batch_invariant(fp32: Path) -> None:
    assert _batch_dependence(fp32) < TOLERANCE


def test_dynamic_int8_is_batch_dependent(fp32: Path) -> None:
    """What the test above guards against: the previous (dynamic) quantisation fails it."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    out = fp32.parent / "dynamic.onnx"
    quantize_dynamic(
        str(fp32), str(out), weight_type=QuantType.QInt8, per_channel=True, reduce_range=True
    )
    assert _batch_dependence(out) > TOLERANCE
