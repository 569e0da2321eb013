"""The build's embedding store: only missing texts are encoded, across instances and shards."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from models.embedcache import EmbeddingCache, encoder_digest


class CountingEncoder:
    """A deterministic fake encoder that records what it was asked to embed."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        self.calls.append(list(texts))
        return np.array([[len(t), t.count("a"), 1.0] for t in texts], dtype=np.float32)


def test_only_new_texts_are_encoded_and_order_is_kept(tmp_path: Path) -> None:
    enc = CountingEncoder()
    first, computed = EmbeddingCache(tmp_path).encode(["aa", "b", "aa"], enc)
    assert computed == 2 and enc.calls == [["aa", "b"]]
    again = EmbeddingCache(tmp_path)  # a later build reads the shard written by the first
    assert len(again) == 2
    second, computed = again.encode(["c", "b", "aa"], enc)
    assert computed == 1 and enc.calls[-1] == ["c"]
    np.testing.assert_array_equal(second[1:], first[[1, 0]])
    np.testing.assert_array_equal(second[0], [1, 0, 1])
    assert len(list(tmp_path.glob("*.npz"))) == 2
    _, computed = EmbeddingCache(tmp_path).encode(["c", "aa"], enc)
    assert computed == 0 and len(enc.calls) == 2


def test_a_failed_encode_leaves_no_shard(tmp_path: Path) -> None:
    def broken(texts: Sequence[str]) -> np.ndarray:
        return np.zeros((1, 3), np.float32)  # one row for two texts

    with pytest.raises(ValueError, match="1 rows for 2 texts"):
        EmbeddingCache(tmp_path).encode(["x", "y"], broken)
    assert not list(tmp_path.iterdir())


def test_the_encoder_digest_changes_with_its_files_and_settings(tmp_path: Path) -> None:
    onnx = tmp_path / "model.onnx"
    tok = tmp_path / "tok"
    tok.mkdir()
    onnx.write_bytes(b"weights")
    (tok / "tokenizer.json").write_text("{}")
    base = encoder_digest(onnx, tok, "query: ", 128)
    assert encoder_digest(onnx, tok, "query: ", 128) == base
    assert encoder_digest(onnx, tok, "passage: ", 128) != base
    assert encoder_digest(onnx, tok, "query: ", 64) != base
    (tok / "tokenizer.json").write_text('{"v": 2}')
    new_tokenizer = encoder_digest(onnx, tok, "query: ", 128)
    assert new_tokenizer != base
    onnx.write_bytes(b"other weights")
    assert encoder_digest(onnx, tok, "query: ", 128) not in (base, new_tokenizer)
