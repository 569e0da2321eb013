"""The fine-tune option: test split never used, its config keys the artefact, selection metric."""

from __future__ import annotations

import numpy as np
import pytest

from models.artefacts import (
    DEFAULT_BACKBONE,
    FINETUNE_CONFIG,
    HEAD_CONFIG,
    artefact_key,
    build_config,
    inputs_sha256,
    key_backbone,
)
from models.corpus import DEFAULT_CORPUS, Example
from models.finetune import label_matrix, macro_f1, split_validation
from models.taxonomy import DEFAULT_TAXONOMY


def _ex(i: int, split: str = "train", topics: tuple[str, ...] = ("pricing",)) -> Example:
    return Example(text=f"t{i}", lang="en", topics=topics, stance="neutral", split=split)


def test_split_validation_refuses_test_rows() -> None:
    with pytest.raises(ValueError, match="train split"):
        split_validation([_ex(0), _ex(1, split="test")], 0.5, 0)


def test_split_validation_is_seeded_disjoint_and_complete() -> None:
    rows = [_ex(i) for i in range(100)]
    fit, val = split_validation(rows, 0.15, 0)
    assert len(val) == 15 and len(fit) == 85
    assert {e.text for e in fit}.isdisjoint({e.text for e in val})
    again = split_validation(rows, 0.15, 0)
    assert [e.text for e in again[1]] == [e.text for e in val]
    assert [e.text for e in split_validation(rows, 0.15, 1)[1]] != [e.text for e in val]


def test_label_matrix_ignores_topics_without_a_column() -> None:
    y = label_matrix(
        [_ex(0, topics=("pricing", "other")), _ex(1, topics=("scandal",))], ("pricing", "scandal")
    )
    assert y.tolist() == [[1.0, 0.0], [0.0, 1.0]]


def test_macro_f1_skips_columns_without_positives() -> None:
    y = np.array([[1, 0], [0, 0], [1, 0]], np.float32)
    p = np.array([[0.9, 0.9], [0.1, 0.1], [0.2, 0.1]], np.float32)
    # column 0: tp=1 fn=1 -> 2/3; column 1 has no positive and is not averaged in
    assert macro_f1(y, p) == pytest.approx(2 / 3)


def test_finetuned_artefacts_never_share_the_plain_key() -> None:
    assert build_config(False) == HEAD_CONFIG
    plain = artefact_key(
        key_backbone(DEFAULT_BACKBONE, False),
        inputs_sha256(DEFAULT_CORPUS, DEFAULT_TAXONOMY, config=build_config(False)),
    )
    tuned = artefact_key(
        key_backbone(DEFAULT_BACKBONE, True),
        inputs_sha256(DEFAULT_CORPUS, DEFAULT_TAXONOMY, config=build_config(True)),
    )
    assert plain != tuned
    changed = {**build_config(True), "finetune": {**FINETUNE_CONFIG, "epochs": 1}}
    assert inputs_sha256(DEFAULT_CORPUS, DEFAULT_TAXONOMY, config=changed) != inputs_sha256(
        DEFAULT_CORPUS, DEFAULT_TAXONOMY, config=build_config(True)
    )
