"""Evaluation metrics and corpus validation (pure functions, no model)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pytest

from models.classifier import Prediction
from models.corpus import CorpusError, Example, load_corpus, topics_of
from models.evaluate import evaluate, format_report, prf, stance_metrics, topic_metrics


def test_prf_values_and_zero_division() -> None:
    assert prf(8, 2, 0) == {"precision": 0.8, "recall": 1.0, "f1": 0.8889}
    assert prf(0, 0, 0) == {"precision": 0.0, "recall": 0.0, "f1": 0.0}


def test_topic_metrics_multilabel_and_macro_over_present_topics() -> None:
    gold = [{"pricing"}, {"pricing", "scandal"}, {"other"}, {"other"}]
    pred = [{"pricing"}, {"pricing"}, {"pricing"}, {"other"}]
    m = topic_metrics(gold, pred, ["pricing", "scandal", "boycott", "other"])
    assert m["per_topic"]["pricing"] == {
        "precision": 0.6667,
        "recall": 1.0,
        "f1": 0.8,
        "support": 2,
    }
    assert m["per_topic"]["scandal"]["recall"] == 0.0
    assert m["per_topic"]["boycott"]["support"] == 0  # absent from gold: left out of the macro
    assert m["macro_f1"] == round((0.8 + 0.0 + 0.6667) / 3, 4)
    assert m["exact_match"] == 0.5


def test_stance_confusion() -> None:
    m = stance_metrics(["critical", "critical", "neutral"], ["critical", "neutral", "neutral"])
    assert m["accuracy"] == 0.6667
    assert m["confusion"]["critical"] == {"supportive": 0, "neutral": 1, "critical": 1}


class FixedClassifier:
    """Answers from a lookup table, to test ``evaluate`` without a model."""

    version = "fixed-1"

    def __init__(self, answers: dict[str, tuple[str, ...]]) -> None:
        self.answers = answers

    def classify(self, texts: Sequence[str]) -> list[Prediction]:
        return [
            Prediction(
                self.answers[t], {}, "neutral", {"neutral": 1.0}, "en" if "en" in t else "fr"
            )
            for t in texts
        ]


def test_evaluate_scores_only_the_test_split_per_language() -> None:
    ex = [
        Example("en price", "en", ("pricing",), "neutral", "test"),
        Example("en side", "en", ("adverse_event",), "neutral", "test"),
        Example("fr prix", "fr", ("pricing",), "critical", "test"),
        Example("en train only", "en", ("pricing",), "neutral", "train"),
    ]
    clf = FixedClassifier(
        {"en price": ("pricing",), "en side": ("other",), "fr prix": ("pricing",)}
    )
    report = evaluate(clf, ex, ["pricing", "adverse_event", "other"])
    assert report["n_test"] == 3 and report["en"]["n"] == 2 and report["fr"]["n"] == 1
    assert report["en"]["topics"]["per_topic"]["adverse_event"]["recall"] == 0.0
    assert report["fr"]["topics"]["macro_f1"] == 1.0
    assert report["fr"]["stance"]["accuracy"] == 0.0
    assert "fixed-1" in format_report(report)
    json.dumps(report)  # the --json output must serialise


def write(tmp_path: Path, *rows: object) -> Path:
    p = tmp_path / "c.jsonl"
    p.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows) + "\n")
    return p


GOOD = {"text": "t", "lang": "en", "topics": ["pricing"], "stance": "neutral", "split": "train"}


def test_corpus_loads_and_orders_topics(tmp_path: Path) -> None:
    p = write(tmp_path, GOOD, "", {**GOOD, "topics": ["zeta"], "split": "test"})
    ex = load_corpus(p)
    assert len(ex) == 2 and ex[0].topics == ("pricing",)
    assert topics_of(ex) == ("pricing", "zeta")


@pytest.mark.parametrize(
    ("row", "match"),
    [
        ("{not json", r"c.jsonl:2: not valid JSON"),
        ({**GOOD, "stance": "angry"}, r"c.jsonl:2: field 'stance': 'angry' is not one of"),
        ({**GOOD, "topics": []}, r"c.jsonl:2: field 'topics'"),
        ({**GOOD, "text": "  "}, r"c.jsonl:2: field 'text'"),
        ({**GOOD, "topics": ["other", "pricing"]}, r"'other' cannot be combined"),
    ],
)
def test_corpus_errors_name_file_line_and_field(tmp_path: Path, row: object, match: str) -> None:
    with pytest.raises(CorpusError, match=match):
        load_corpus(write(tmp_path, GOOD, row))


def test_the_bundled_seed_corpus_is_valid() -> None:
    ex = load_corpus()
    assert {e.split for e in ex} == {"train", "test"}
    assert {e.lang for e in ex} == {"en", "fr"}


def test_calibration_section_gives_ece_and_reliability_per_scored_topic() -> None:
    from models.evaluate import calibration_section

    gold = [{"pricing"}, {"pricing"}, {"other"}, {"other"}]
    scores = [
        {"pricing": 0.9, "scandal": 0.0},
        {"pricing": 0.9, "scandal": 0.0},
        {"pricing": 0.9, "scandal": 0.0},
        {"pricing": 0.1, "scandal": 0.0},
    ]
    cal = calibration_section(gold, scores)
    assert cal["bins"] == 15 and cal["binning"] == "equal-width"
    # pricing: bin of 0.9 holds 3 mentions, 2 positive (|2/3 - 0.9|), bin of 0.1 one negative
    assert cal["per_topic"]["pricing"]["ece"] == pytest.approx(
        0.75 * (0.9 - 2 / 3) + 0.25 * 0.1, abs=1e-4
    )
    assert cal["per_topic"]["scandal"]["ece"] == 0.0
    assert "other" not in cal["per_topic"]
    assert cal["max_ece"] == cal["per_topic"]["pricing"]["ece"]


def test_file_report_carries_ece_and_reliability_tables(tmp_path: Path) -> None:
    from models.corpus import load_labelled
    from models.evaluate import evaluate_file_rows, format_file_report

    class Scored:
        version = "scored-1"

        def classify(self, texts: Sequence[str]) -> list[Prediction]:
            return [
                Prediction(
                    ("pricing",) if "price" in t else ("other",),
                    {"pricing": 0.8 if "price" in t else 0.2},
                    "neutral",
                    {},
                    "en",
                )
                for t in texts
            ]

    path = tmp_path / "e.jsonl"
    rows = [("a", "price up", ["pricing"]), ("b", "price ok", ["other"]), ("c", "hi", ["other"])]
    path.write_text(
        "".join(json.dumps({"id": i, "text": t, "topics": tp}) + "\n" for i, t, tp in rows)
    )
    rep = evaluate_file_rows(Scored(), load_labelled(path), ["pricing", "other"], ("real",))
    cal = rep["fills"]["as_is"]["all"]["calibration"]
    # 0.8 bin: 1 of 2 positive (gap 0.3), 0.2 bin: 0 of 1 (gap 0.2)
    assert cal["per_topic"]["pricing"]["ece"] == pytest.approx(2 / 3 * 0.3 + 1 / 3 * 0.2, abs=1e-4)
    assert [b["n"] for b in cal["per_topic"]["pricing"]["bins"]] == [1, 2]
    text = format_file_report(rep)
    assert "ECE (15 equal-width bins): pricing 0.267" in text
    assert "[0.80,0.87) 2: 0.80->0.50" in text
    json.dumps(rep)


def test_reliability_plot_draws_one_panel_per_topic(tmp_path: Path) -> None:
    from models.evaluate import calibration_section
    from models.reliability_plot import plot_reliability

    gold = [{"pricing"}, {"other"}, {"scandal"}]
    scores = [
        {"pricing": 0.9, "scandal": 0.1},
        {"pricing": 0.2, "scandal": 0.1},
        {"pricing": 0.1, "scandal": 0.7},
    ]
    section = {"calibration": calibration_section(gold, scores)}
    rep = {"model_version": "m1", "n": 3, "fills": {"real": {"all": section}}}
    out = plot_reliability(rep, tmp_path / "rel.svg")
    svg = out.read_text()
    assert "pricing" in svg and "scandal" in svg and "ECE" in svg
