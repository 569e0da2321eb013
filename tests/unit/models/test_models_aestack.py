"""The adverse_event stack of v9 artefacts (models/aestack.py): its fit, what it replaces, when
it runs the rules, and that the classifier's one classify path applies it. Under a second."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from models.aestack import AeStack, fit_stack, stack_inputs
from models.classifier import OnnxMentionClassifier
from models.head import train_head
from models.optim import sigmoid
from tests.unit.models.test_models_head import STANCES, TOPICS, synthetic

D = 16


def stack(w: Sequence[float], b: float, threshold: float, calls: list[list[str]]) -> AeStack:
    """A stack over a reaction head that reads the embedding's second direction; its rules
    flag the texts containing "rash" and record what they were asked."""

    def rules(texts: Sequence[str]) -> list[tuple[bool, bool]]:
        calls.append(list(texts))
        return [("rash" in t, "rash" in t or "no " in t) for t in texts]

    react_w = np.zeros(D)
    react_w[1] = 4.0
    return AeStack(
        mean=np.zeros(D),
        scale=np.ones(D),
        react_w=react_w,
        react_b=-1.0,
        w=np.array(w, dtype=np.float64),
        b=b,
        threshold=threshold,
        gate=0.02,
        rules_factory=lambda: rules,
    )


def test_the_fit_keeps_the_recall_floor_and_weighs_an_informative_flag() -> None:
    rng = np.random.default_rng(3)
    y = (rng.random(2000) < 0.2).astype(np.float64)
    topic = sigmoid(rng.normal(0, 1, 2000) + 1.2 * (2 * y - 1))
    react = sigmoid(rng.normal(0, 1, 2000))  # says nothing
    flags = ((y > 0) & (rng.random(2000) < 0.7)) | (rng.random(2000) < 0.05)
    readings = {"topic": topic, "reaction": react, "rules": flags.astype(float)}
    w, b, thr = fit_stack(readings, y, beta=1.5, floor=0.95)
    assert w[2] > 1.0 and abs(w[1]) < 0.3  # the flag separates, the noise does not
    on = sigmoid(stack_inputs(topic, react, flags.astype(float)) @ w + b) >= thr
    assert (on & (y > 0)).sum() / y.sum() >= 0.95


def test_apply_replaces_only_the_adverse_event_column_and_threshold() -> None:
    calls: list[list[str]] = []
    s = stack([1.0, 0.5, 2.0], -1.0, 0.3, calls)
    topics = ("pricing", "adverse_event")
    p = np.array([[0.9, 0.01], [0.1, 0.4], [0.2, 0.4]])
    vectors = np.zeros((3, D))
    texts = ["price up", "a rash since", "fine so far"]
    got, thr = s.apply(p, np.array([0.5, 0.16]), topics, vectors, texts)
    np.testing.assert_array_equal(got[:, 0], p[:, 0])
    assert thr.tolist() == [0.5, 0.3]
    react = s.reaction_proba(vectors)
    expected = s.score({"topic": p[:, 1], "reaction": react, "rules": np.array([0.0, 1.0, 0.0])})
    np.testing.assert_allclose(got[:, 1], expected)
    assert got[1, 1] > got[2, 1]  # same topic score, the rules' flag raises it
    assert calls == [["a rash since", "fine so far"]]  # below the gate the rules do not run


def test_a_saved_stack_loads_and_scores_the_same(tmp_path: Path) -> None:
    s = stack([0.8, 0.2, 2.0], -0.9, 0.12, [])
    s.save(tmp_path / "aestack.npz")
    again = AeStack.load(tmp_path / "aestack.npz")
    again = replace(again, rules_factory=s.rules_factory)
    assert (again.threshold, again.gate, again.b) == (0.12, 0.02, -0.9)
    vectors = np.random.default_rng(0).normal(0, 1, (4, D))
    p = np.array([[0.5, 0.3], [0.5, 0.01], [0.5, 0.9], [0.5, 0.2]])
    texts = ["rash", "rash", "ok", "ok"]
    for a, b in zip(
        s.apply(p, np.zeros(2), ("x", "adverse_event"), vectors, texts),
        again.apply(p, np.zeros(2), ("x", "adverse_event"), vectors, texts),
        strict=True,
    ):
        np.testing.assert_allclose(a, b)


def test_the_classifier_labels_and_scores_with_the_stack() -> None:
    x, t, s = synthetic(300, seed=6)
    head, _ = train_head(x, t, s, topics=TOPICS, stances=STANCES, l2_grid=(1.0,))

    class FakeEncoder:
        def encode(self, batch: list[str]) -> np.ndarray:
            return x[: len(batch)]

    texts = ["a rash" if i % 2 else "nothing" for i in range(60)]
    plain = OnnxMentionClassifier(FakeEncoder(), head, "v8")  # type: ignore[arg-type]
    calls: list[list[str]] = []
    stacked = OnnxMentionClassifier(
        FakeEncoder(),  # type: ignore[arg-type]
        head,
        "v9",
        ae_stack=stack([1.0, 0.0, 4.0], -2.0, 0.5, calls),
    )
    before, after = plain.classify(texts), stacked.classify(texts)
    j = head.topics.index("adverse_event")
    p_ae = head.topic_proba(x[:60])[:, j]
    flags = np.array([("rash" in tx) and p >= 0.02 for tx, p in zip(texts, p_ae, strict=True)])
    want = sigmoid(
        np.log(np.clip(p_ae, 1e-6, 1 - 1e-6) / np.clip(1 - p_ae, 1e-6, 1)) - 2.0 + 4.0 * flags
    )
    for b, a, w in zip(before, after, want, strict=True):
        assert a.scores["adverse_event"] == pytest.approx(w, abs=1e-9)
        assert a.scores["pricing"] == b.scores["pricing"]
        assert ("adverse_event" in a.topics) == (w >= 0.5)
        assert set(a.scores) == set(b.scores) and a.stance == b.stance and a.lang == b.lang
    flipped = [
        i for i, (b, a) in enumerate(zip(before, after, strict=True)) if b.topics != a.topics
    ]
    assert flipped and all(flags[i] for i in flipped if "adverse_event" in after[i].topics)


def test_the_worker_warms_the_rules_before_it_says_the_model_is_loaded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``services.classifier`` (``load_model_at_start``) builds v9's PV rules, so the first
    adverse-event batch does not pay the lexicon; ``/readyz`` says loaded only after."""
    import models.classifier as classifier_module
    import models.pvbuild
    from pipeline import services

    loaded_while_building: list[bool] = []
    calls: list[list[str]] = []
    s = stack([1.0, 1.0, 1.0], 0.0, 0.5, calls)

    def rules_factory() -> Callable[[Sequence[str]], list[tuple[bool, bool]]]:
        loaded_while_building.append(services.classifier_loaded())
        return lambda texts: [(False, False)] * len(texts)

    s = replace(s, rules_factory=rules_factory)
    model = OnnxMentionClassifier.__new__(OnnxMentionClassifier)
    model.ae_stack = s
    monkeypatch.setattr(classifier_module, "load_classifier", lambda folder: model)
    monkeypatch.setattr(models.pvbuild, "attach_pv_head", lambda c, build: None)
    services.reset()
    try:
        assert services.classifier() is model
        assert loaded_while_building == [False] and services.classifier_loaded()
        s.rules(["a rash"], np.array([0.9]))  # the first batch at the gate builds nothing more
        assert loaded_while_building == [False]
    finally:
        services.reset()


def test_a_stack_reads_the_named_flag_the_patient_head_and_the_other_topics(
    tmp_path: Path,
) -> None:
    calls: list[list[str]] = []
    base = stack([1.0, 0.0, 2.0, -1.5, 0.5, -0.7], -1.0, 0.3, calls)
    patient_w = np.zeros(D)
    patient_w[2] = 3.0
    inputs = ("topic", "reaction", "rules", "named", "patient", "others")
    s = replace(base, inputs=inputs, patient_w=patient_w, patient_b=0.5)
    s.save(tmp_path / "aestack.npz")
    again = replace(AeStack.load(tmp_path / "aestack.npz"), rules_factory=s.rules_factory)
    assert again.inputs == inputs and again.patient_b == 0.5
    topics = ("pricing", "adverse_event")
    p = np.array([[0.9, 0.3], [0.1, 0.3], [0.1, 0.3]])
    vectors = np.zeros((3, D))
    texts = ["a rash", "no rash here", "no fever"]
    got, _ = again.apply(p, np.array([0.5, 0.16]), topics, vectors, texts)
    z = (
        np.log(0.3 / 0.7)
        + 0.0
        + 2.0 * np.array([1, 1, 0])
        - 1.5 * np.array([1, 1, 1])
        + 0.5 * 0.5  # the patient head's log-odds on a zero vector: its bias
        - 0.7 * np.log(np.array([0.9, 0.1, 0.1]) / np.array([0.1, 0.9, 0.9]))
        - 1.0
    )
    np.testing.assert_allclose(got[:, 1], sigmoid(z))
    assert got[0, 1] < got[1, 1]  # same flags: the other topic's high score lowers it


def test_an_older_stack_file_reads_as_v9s_three_inputs(tmp_path: Path) -> None:
    s = stack([0.8, 0.2, 2.0], -0.9, 0.12, [])
    np.savez(
        tmp_path / "old.npz",
        mean=s.mean,
        scale=s.scale,
        react_w=s.react_w,
        react_b=np.array(s.react_b),
        w=s.w,
        b=np.array(s.b),
        threshold=np.array(s.threshold),
        gate=np.array(s.gate),
    )
    old = AeStack.load(tmp_path / "old.npz")
    assert old.inputs == ("topic", "reaction", "rules") and old.patient_w is None
