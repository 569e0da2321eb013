"""models/serving.py: the model's calls run side by side, as many as TOCSIN_MODEL_WORKERS."""

from __future__ import annotations

import threading
from collections.abc import Sequence

import pytest

from models.classifier import Prediction
from models.serving import WORKERS_ENV, drive, model_workers
from tests.fakes import KeywordClassifier


def test_model_workers_reads_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(WORKERS_ENV, raising=False)
    assert model_workers() == 2
    monkeypatch.setenv(WORKERS_ENV, "3")
    assert model_workers() == 3
    monkeypatch.setenv(WORKERS_ENV, "0")
    assert model_workers() == 1


def test_drive_runs_calls_side_by_side_until_the_batches_run_out() -> None:
    """Two calls must be inside ``classify`` at once to pass the barrier: one at a time, the
    first would wait alone and time out."""
    barrier = threading.Barrier(2, timeout=10)

    class Meeting(KeywordClassifier):
        def classify(self, texts: Sequence[str]) -> list[Prediction]:
            barrier.wait()
            return super().classify(texts)

    batches = iter([["a", "b"], ["c"], ["d", "e"], ["f"]])
    model = Meeting()
    calls = drive(model, lambda: next(batches, None), workers=2)
    assert sorted(n for n, _ in calls) == [1, 1, 2, 2]
    assert all(seconds >= 0 for _, seconds in calls)
    assert sorted(t for call in model.calls for t in call) == list("abcdef")


def test_drive_with_one_worker_calls_in_order() -> None:
    batches = iter([["a"], ["b", "c"], ["d"]])
    model = KeywordClassifier()
    drive(model, lambda: next(batches, None), workers=1)
    assert model.calls == [["a"], ["b", "c"], ["d"]]
