"""Length-sorted batching: every index once, batches bounded, less padding than input order."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from models.encoder import pad_batch, padded_tokens, plan_batches


@given(st.lists(st.integers(1, 128), max_size=200), st.integers(1, 40))
def test_plan_covers_every_index_once(lengths: list[int], batch_size: int) -> None:
    plan = plan_batches(lengths, batch_size)
    flat = [i for b in plan for i in b]
    assert sorted(flat) == list(range(len(lengths)))
    assert all(1 <= len(b) <= batch_size for b in plan)
    # sorted: each batch's longest is no longer than the next batch's shortest
    for a, b in itertools.pairwise(plan):
        assert max(lengths[i] for i in a) <= min(lengths[i] for i in b)


@given(st.lists(st.integers(1, 128), min_size=1, max_size=200), st.integers(1, 40))
def test_sorted_plan_never_pads_more_than_input_order(lengths: list[int], batch_size: int) -> None:
    # With full batches, length-sorted chunks minimise the padded total (the sum of batch maxima
    # is smallest when each batch holds neighbours in sorted order). With a partial last batch
    # that is not true in general (Hypothesis found [2, 2, 1] at batch size 2), so the property
    # is stated for full batches only.
    lengths = lengths[: len(lengths) - len(lengths) % batch_size]
    assume(lengths)
    naive = [
        list(range(i, min(i + batch_size, len(lengths))))
        for i in range(0, len(lengths), batch_size)
    ]
    assert padded_tokens(lengths, plan_batches(lengths, batch_size)) <= padded_tokens(
        lengths, naive
    )


def test_sorting_cuts_padding_on_mixed_lengths() -> None:
    lengths = [5, 120] * 32
    naive = [list(range(i, i + 8)) for i in range(0, 64, 8)]
    assert padded_tokens(lengths, plan_batches(lengths, 8)) < 0.6 * padded_tokens(lengths, naive)


def test_plan_rejects_bad_batch_size() -> None:
    with pytest.raises(ValueError):
        plan_batches([1, 2], 0)


def test_pad_batch_right_pads_with_mask() -> None:
    ids, mask = pad_batch([[0, 5, 2], [0, 2]], pad_id=1)
    assert ids.tolist() == [[0, 5, 2], [0, 2, 1]]
    assert mask.tolist() == [[1, 1, 1], [1, 1, 0]]
    assert ids.dtype == np.int64 and mask.dtype == np.int64
