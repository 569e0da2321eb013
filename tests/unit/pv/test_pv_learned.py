"""Rule OR model: what the learned triage heads add to the rules (pipeline.pv.triage.add_learned),
the heads themselves (models.pvhead) and their cached build (models.pvbuild). About 1 s."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from models.classifier import Prediction
from models.classify_file import Row
from models.pvbuild import WRITERS, head_path, load_pv_head
from models.pvhead import TARGETS, PvHead, fit_pv_head
from pipeline.pv.triage import GENERIC_REACTION, Triage
from pipeline.pv.triage_file import triage_result

EMB = np.zeros(4, dtype=np.float32)


@dataclass
class Flags:
    """A stand-in for the heads: fixed flags, a fixed category."""

    on: set[str] = field(default_factory=set)

    def flags(self, embedding: npt.ArrayLike) -> dict[str, bool]:
        return {t: t in self.on for t in TARGETS}

    def category(self, embedding: npt.ArrayLike) -> str:
        return "hospitalisation"


@pytest.fixture(scope="module")
def rules() -> Triage:
    return Triage.default()


def test_model_reaction_is_the_unspecified_one(rules: Triage) -> None:
    text = "Started Zoloft last week and my whole body feels wrong"
    assert rules.assess(text, "@a").reactions == ()
    rules.learned = Flags({"reaction"})
    try:
        case = rules.assess(text, "@a", EMB)
        assert case.reactions == (GENERIC_REACTION,)
        assert rules.assess(text, "@a").reactions == ()  # no embedding: the rules alone
    finally:
        rules.learned = None


def test_rule_reactions_are_kept_and_seriousness_needs_a_reaction(rules: Triage) -> None:
    rules.learned = Flags({"serious", "patient"})
    try:
        case = rules.assess("Zoloft gave me nausea", "@a", EMB)
        assert case.reactions == ("Nausea",)
        assert case.seriousness == ("hospitalisation",)
        none = rules.assess("Zoloft is on sale this week", None, EMB)
        assert none.reactions == () and none.seriousness == ()
        assert none.patient  # the patient head's flag alone
    finally:
        rules.learned = None


def test_rule_seriousness_wins_over_the_model_category(rules: Triage) -> None:
    rules.learned = Flags({"serious"})
    try:
        case = rules.assess("Zoloft gave me a seizure, I died for a minute they said", "@a", EMB)
        assert "hospitalisation" not in case.seriousness and case.serious
    finally:
        rules.learned = None


def _separable(n: int = 60) -> tuple[Any, list[dict[str, Any]]]:
    rng = np.random.default_rng(0)
    emb = rng.normal(size=(n, 8))
    labels = []
    for i in range(n):
        sign = 1.0 if i % 2 else -1.0
        emb[i, 0] += 4 * sign
        serious = bool(i % 4 == 1)
        emb[i, 1] += 4 if serious else -4
        labels.append(
            {
                "reaction": sign > 0,
                "patient": sign > 0,
                "serious": serious,
                "seriousness": ["death" if i % 8 == 1 else "disability"] if serious else [],
            }
        )
    return emb, labels


def test_head_learns_and_round_trips(tmp_path: Path) -> None:
    emb, labels = _separable()
    head = fit_pv_head(emb, labels, l2=1.0, thresholds={"reaction": 0.5})
    flags = [head.flags(e) for e in emb]
    assert [f["reaction"] for f in flags] == [lab["reaction"] for lab in labels]
    assert [f["serious"] for f in flags] == [lab["serious"] for lab in labels]
    assert set(head.categories) == {"death", "disability"}
    head.save(tmp_path / "h.npz")
    back = PvHead.load(tmp_path / "h.npz")
    assert np.allclose(back.proba(emb), head.proba(emb))
    assert back.categories == head.categories
    off = head.with_thresholds({"reaction": 1.01})
    assert not any(off.flags(e)["reaction"] for e in emb)


@dataclass
class Encoder:
    calls: int = 0

    def encode(self, texts: list[str]) -> Any:
        self.calls += 1
        return np.array([[len(t) % 7, "!" in t, 1.0] for t in texts], dtype=np.float32)


@dataclass
class Classifier:
    encoder: Encoder
    version: str = "enc-1"


def _labelled(data: Path) -> None:
    for files in WRITERS.values():
        for name in files:
            path = data / name
            path.parent.mkdir(parents=True, exist_ok=True)
            rows = [
                {
                    "text": "bad!",
                    "labels": {
                        "reaction": True,
                        "patient": True,
                        "serious": True,
                        "seriousness": ["death"],
                    },
                },
                {
                    "text": "fine",
                    "labels": {
                        "reaction": False,
                        "patient": False,
                        "serious": False,
                        "seriousness": [],
                    },
                },
            ]
            path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


def test_build_is_cached_by_encoder_and_data(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TOCSIN_CACHE", str(tmp_path / "cache"))
    data = tmp_path / "pv"
    assert load_pv_head(Classifier(Encoder()), data=data) is None  # no labelled files
    _labelled(data)
    enc = Encoder()
    first = load_pv_head(Classifier(enc), data=data)
    again = load_pv_head(Classifier(enc), data=data)
    assert first is not None and again is not None and enc.calls == 1
    assert head_path("enc-1", data).is_file()
    assert head_path("enc-2", data) != head_path("enc-1", data)
    assert load_pv_head(object(), data=data) is None  # a classifier with no encoder


def test_triage_file_passes_the_classifier_embedding(rules: Triage) -> None:
    text = "Started Zoloft last week and my whole body feels wrong"
    row = Row(line=1, text=text, id="m1", fields={"text": text, "author": "@a"})
    pred = Prediction(("other",), {}, "neutral", {}, "en", embedding=EMB)
    plain = Prediction(("other",), {}, "neutral", {}, "en")
    rules.learned = Flags({"reaction"})
    try:
        make = triage_result(rules)
        assert make(row, pred)["case"]["reactions"] == [GENERIC_REACTION]
        assert make(row, plain)["case"]["reactions"] == []
    finally:
        rules.learned = None
