"""Rule OR model: what the learned triage heads add to the rules (pipeline.pv.triage.add_learned),
the heads themselves (models.pvhead) and their cached build (models.pvbuild). About 1 s."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from models.artefacts import PV_HEAD_FILE
from models.batching import classified_record
from models.classifier import OnnxMentionClassifier, Prediction
from models.classify_file import Row
from models.pvbuild import attach_pv_head, copy_into, head_path, load_pv_head
from models.pvdata import WRITERS
from models.pvhead import CaseCues, PvHead, fit_pv_head
from pipeline.pv.intake import case_event
from pipeline.pv.triage import GENERIC_REACTION, Triage, add_learned
from pipeline.pv.triage_file import triage_result
from pipeline.records import Author, ClassifiedMention, Mention

HOSP = "hospitalisation"


def cues(*on: str, category: str = HOSP) -> CaseCues:
    return CaseCues("reaction" in on, "patient" in on, "serious" in on, category)


@pytest.fixture(scope="module")
def rules() -> Triage:
    return Triage.default()


def test_model_reaction_is_the_unspecified_one(rules: Triage) -> None:
    text = "Started Zoloft last week and my whole body feels wrong"
    assert rules.assess(text, "@a").reactions == ()  # no cues: the rules alone
    assert rules.assess(text, "@a", cues("reaction")).reactions == (GENERIC_REACTION,)
    assert rules.assess(text, "@a", cues()).reactions == ()


def test_rule_reactions_are_kept_and_seriousness_needs_a_reaction(rules: Triage) -> None:
    case = rules.assess("Zoloft gave me nausea", "@a", cues("serious", "patient"))
    assert case.reactions == ("Nausea",)
    assert case.seriousness == (HOSP,)
    none = rules.assess("Zoloft is on sale this week", None, cues("serious", "patient"))
    assert none.reactions == () and none.seriousness == ()
    assert none.patient  # the patient head's flag alone
    assert not rules.assess("Zoloft is on sale this week", None, cues()).patient


def test_rule_seriousness_wins_over_the_model_category(rules: Triage) -> None:
    text = "Zoloft gave me nausea so bad I ended up in the ER"
    ruled = rules.assess(text, "@a").seriousness
    assert ruled and HOSP in ruled
    assert rules.assess(text, "@a", cues("serious", category="death")).seriousness == ruled


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
    got = head.cues(emb)
    assert [c.reaction for c in got] == [lab["reaction"] for lab in labels]
    assert [c.serious for c in got] == [lab["serious"] for lab in labels]
    assert {c.category for c, lab in zip(got, labels, strict=True) if lab["serious"]} <= {
        "death",
        "disability",
    }
    assert set(head.categories) == {"death", "disability"}
    head.save(tmp_path / "h.npz")
    back = PvHead.load(tmp_path / "h.npz")
    assert np.allclose(back.proba(emb), head.proba(emb))
    assert back.categories == head.categories
    off = head.with_thresholds({"reaction": 1.01})
    assert not any(c.reaction for c in off.cues(emb))
    assert CaseCues.read(got[1]._asdict()) == got[1]
    for bad in (None, ["x"], {"reaction": True}, {**got[1]._asdict(), "serious": "yes"}):
        assert CaseCues.read(bad) is None


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


def test_triage_file_passes_the_classifier_cues(rules: Triage) -> None:
    text = "Started Zoloft last week and my whole body feels wrong"
    row = Row(line=1, text=text, id="m1", fields={"text": text, "author": "@a"})
    with_cues = Prediction(("other",), {}, "neutral", {}, "en", case_cues=cues("reaction"))
    plain = Prediction(("other",), {}, "neutral", {}, "en")
    make = triage_result(rules)
    assert make(row, with_cues)["case"]["reactions"] == [GENERIC_REACTION]
    assert make(row, plain)["case"]["reactions"] == []


def test_worker_case_reads_the_cues_of_the_classified_record(rules: Triage) -> None:
    text = "Started Zoloft last week and my whole body feels wrong"
    record = classified_record(
        Mention(
            id="x:1",
            platform="x",
            text=text,
            created_at=datetime(2026, 11, 20, 23, 0, tzinfo=UTC),
            brand="brenmoor",
            author=Author(id="9f2c" * 8, key_id="k1"),
            brands=["brenmoor"],
        ),
        Prediction(("adverse_event",), {}, "neutral", {}, "en", case_cues=cues("reaction")),
        "t",
    )
    back = ClassifiedMention.loads(record.dumps())  # as read back from the topic
    event = case_event(back, rules, ZoneInfo("UTC"))
    assert event is not None and event.case is not None
    assert event.case["reactions"] == [GENERIC_REACTION]
    record.case_cues = None
    event = case_event(record, rules, ZoneInfo("UTC"))
    assert event is not None and event.case is not None and event.case["reactions"] == []


def test_the_gate_keeps_the_rules_verdict_where_they_weighed_a_reaction(rules: Triage) -> None:
    denied = rules.assess_rules("No nausea at all on Zoloft, it just works", "@a")
    assert denied.reactions == () and denied.named
    assert add_learned(denied, cues("reaction"), gate=True).reactions == ()
    assert add_learned(denied, cues("reaction"), gate=False).reactions == (GENERIC_REACTION,)
    unnamed = rules.assess_rules("Started Zoloft last week and my whole body feels wrong", "@a")
    assert not unnamed.named
    assert add_learned(unnamed, cues("reaction"), gate=True).reactions == (GENERIC_REACTION,)


def test_an_artefact_folder_carries_its_heads_where_the_labelled_sets_are_absent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An image has the artefact folder, not tests/data/pv: the heads copied into the folder by
    `tocsin model build` are what its worker uses; attaching with nothing cached keeps them."""
    monkeypatch.setenv("TOCSIN_CACHE", str(tmp_path / "cache"))
    emb, labels = _separable()
    heads = fit_pv_head(emb, labels, l2=1.0, thresholds={"reaction": 0.5})
    folder = tmp_path / "artefact"
    folder.mkdir()
    saved = copy_into(heads, folder)
    assert saved == folder / PV_HEAD_FILE and not list(folder.glob("*.npz.*"))
    clf = OnnxMentionClassifier(
        cast("Any", Encoder()), cast("Any", None), "enc-9", PvHead.load(saved)
    )
    kept = attach_pv_head(clf, build=False)
    assert kept is clf.case_heads and kept is not None
    assert np.allclose(kept.proba(emb), heads.proba(emb))
