"""bench.model_compare: same texts, alternating rounds, CPU time per text, candidate / base."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from bench import model_compare


class Burner:
    """A stand-in classifier that spends ``loops`` of CPU per text and records what it saw."""

    def __init__(self, version: str, loops: int) -> None:
        self.version = version
        self.loops = loops
        self.seen: list[int] = []

    def classify(self, texts: Sequence[str]) -> list[Any]:
        self.seen.append(len(texts))
        sum(i * i for i in range(self.loops * len(texts)))
        return [None] * len(texts)


def test_a_candidate_three_times_as_costly_reports_about_a_third_of_the_throughput(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    fakes = {"base": Burner("v-base", 2_000), "cand": Burner("v-cand", 6_000)}
    monkeypatch.setattr(model_compare, "load_classifier", lambda path, threads: fakes[path.name])
    model_compare.main(["base", "cand", "--texts", "96", "--rounds", "3"])
    report = json.loads(capsys.readouterr().out)
    assert report["versions"] == {"base": "v-base", "candidate": "v-cand"}
    assert report["texts"] == 96
    assert all(len(v) == 3 for v in report["cpu_ms_per_text_rounds"].values())
    assert 0.2 < report["candidate_throughput_over_base"] < 0.55
    # one warm-up batch, then 3 rounds of 96 texts in batches of 32, for each model
    assert fakes["base"].seen == [32] + [32] * 9 == fakes["cand"].seen


def test_paths_are_given_to_the_loader_as_paths(monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[Path] = []

    def load(path: Path, threads: int) -> Burner:
        asked.append(path)
        return Burner(str(path), 1)

    monkeypatch.setattr(model_compare, "load_classifier", load)
    model_compare.main(["a/b", "c/d", "--texts", "32", "--rounds", "1"])
    assert asked == [Path("a/b"), Path("c/d")]
