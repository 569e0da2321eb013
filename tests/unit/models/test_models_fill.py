"""Corpus 2.0 placeholder fill (GUIDELINES §9), loader, id-hash split and `model eval --input`."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pytest

from models.classifier import Prediction
from models.corpus import (
    CORPUS2_FILES,
    DEFAULT_CORPUS,
    CorpusError,
    load_corpus2,
    load_labelled,
    training_inputs,
    training_key_config,
    validation_split,
)
from models.evaluate import evaluate_file_rows, format_file_report
from models.fill import PLACEHOLDER, fictional_pool, fill, has_placeholders, real_pool


def test_fill_is_deterministic_per_row_and_pool() -> None:
    text = "{BRAND} raises the price of {PRODUCT} ({GENERIC}), ${TICKER} up"
    assert fill(text, "c2s-0001", "real") == fill(text, "c2s-0001", "real")
    assert not has_placeholders(fill(text, "c2s-0001", "real"))
    outs = {fill(text, f"r{i}", "real") for i in range(40)}
    assert len(outs) > 5  # different rows, different names


@pytest.mark.parametrize("pool", ["fictional", "real"])
def test_same_index_is_one_company(pool: str) -> None:
    companies = fictional_pool() if pool == "fictional" else real_pool()
    for i in range(30):
        out = fill("{BRAND}|{PRODUCT}|{GENERIC}|{TICKER}|{BRAND2}|{PRODUCT2}", f"x{i}", pool)
        brand, product, generic, ticker, brand2, product2 = out.split("|")
        c = next(c for c in companies if c.ticker == ticker)
        assert brand in (c.name, *c.aliases)
        assert (product, generic) in [(p.name, p.generic) for p in c.products]
        c2 = next(c for c in companies if brand2 in (c.name, *c.aliases))
        assert c2 is not c and product2 in [p.name for p in c2.products]


def test_fictional_pool_uses_brands_yaml() -> None:
    names = {c.name for c in fictional_pool()}
    assert {"Brenmoor", "Valmoreau", "Quillon"} <= names


def test_lower_case_hashtag_and_area() -> None:
    for i in range(20):
        out = fill("{product} lol #Boycott{BRAND} #{PRODUCT}Shortage", f"h{i}", "real", "bone")
        word, _, tag1, tag2 = out.split(" ")
        assert word == word.lower()
        assert " " not in tag1 and "-" not in tag1 and tag2.endswith("Shortage")
        assert word in {"prolia", "evenity", "forteo"}


def test_french_elision() -> None:
    companies = real_pool()
    vowel = [
        (i, c) for i in range(200) for c in [fill("{PRODUCT}", f"e{i}", "real")] if c[0] in "AEIOUH"
    ]
    assert vowel and companies
    i, name = vowel[0]
    assert fill("le {PRODUCT} et", f"e{i}", "real") == f"l'{name} et"
    assert fill("Prix du {PRODUCT}", f"e{i}", "real") == f"Prix de l'{name}"
    assert fill("au {PRODUCT}", f"e{i}", "real") == f"à l'{name}"
    assert fill("parce que {PRODUCT}", f"e{i}", "real") == f"parce qu'{name}"
    assert fill("De {PRODUCT}", f"e{i}", "real") == f"D'{name}"
    consonant = next(
        (i, c) for i in range(200) for c in [fill("{PRODUCT}", f"e{i}", "real")] if c[0] in "BCDKPT"
    )
    assert fill("du {PRODUCT}", f"e{consonant[0]}", "real") == f"du {consonant[1]}"


def test_split_by_id_hash_is_stable_and_about_15_percent() -> None:
    ids = [f"c2s-{i:04d}" for i in range(2000)]
    share = sum(validation_split(i) == "validation" for i in ids) / len(ids)
    assert 0.12 < share < 0.18
    assert [validation_split(i) for i in ids] == [validation_split(i) for i in ids]


def test_rows_of_one_split_group_share_their_split(tmp_path: Path) -> None:
    base = {"topics": ["other"], "stance": "neutral", "platform": "x", "area": "other"}
    ids = [f"g{i:03d}" for i in range(200)]
    rows = [
        {**base, "id": f"{i}-en", "lang": "en", "text": f"{{PRODUCT}} en {i}", "split_group": i}
        for i in ids
    ] + [
        {**base, "id": f"{i}-fr", "lang": "fr", "text": f"{{PRODUCT}} fr {i}", "split_group": i}
        for i in ids
    ]
    path = tmp_path / "pairs.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    examples = load_corpus2(path)
    en, fr = examples[: len(ids)], examples[len(ids) :]
    assert [e.split for e in en] == [e.split for e in fr] == [validation_split(i) for i in ids]
    assert {e.split for e in en} == {"train", "validation"}


def test_corpus2_files_load_filled_with_known_labels() -> None:
    for path in CORPUS2_FILES:
        rows = load_corpus2(path)
        assert rows and all(not PLACEHOLDER.search(e.text) for e in rows)
        assert {e.split for e in rows} == {"train", "validation"}


def test_key_inputs_unchanged_without_corpus2() -> None:
    assert training_inputs(DEFAULT_CORPUS, ()) == (DEFAULT_CORPUS,)
    cfg = {"a": 1}
    assert training_key_config(cfg, ()) is cfg
    with_c2 = training_inputs(DEFAULT_CORPUS, CORPUS2_FILES)
    assert set(CORPUS2_FILES) <= set(with_c2) and any(p.name == "fill.py" for p in with_c2)
    assert dict(training_key_config(cfg, CORPUS2_FILES)) != cfg


def test_load_labelled_csv_and_errors(tmp_path: Path) -> None:
    csv = tmp_path / "x.csv"
    csv.write_text('id,text,topics,lang\na1,"{PRODUCT} too pricey, boycott",pricing;boycott,en\n')
    (row,) = load_labelled(csv)
    assert row.topics == ("pricing", "boycott") and row.lang == "en" and row.stance is None
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"text": "x", "topics": ["other", "pricing"]}) + "\n")
    with pytest.raises(CorpusError, match=r"bad\.jsonl:1"):
        load_labelled(bad)


class _Fake:
    version = "fake"

    def classify(self, texts: Sequence[str]) -> list[Prediction]:
        out = []
        for t in texts:
            topics = ("pricing",) if "$" in t else ("adverse_event",) if "sick" in t else ("other",)
            out.append(Prediction(topics, {}, "neutral", {}, "en"))
        return out


def test_evaluate_file_rows_per_fill_and_language(tmp_path: Path) -> None:
    path = tmp_path / "e.jsonl"
    rows = [
        {"id": "a", "text": "{PRODUCT} is $500", "topics": ["pricing"], "lang": "en"},
        {"id": "b", "text": "{PRODUCT} made me sick", "topics": ["adverse_event"], "lang": "en"},
        {"id": "c", "text": "{PRODUCT} c'est bien", "topics": ["adverse_event"], "lang": "fr"},
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    topics = ["pricing", "adverse_event", "other"]
    rep = evaluate_file_rows(_Fake(), load_labelled(path), topics, ("fictional", "real"))
    assert set(rep["fills"]) == {"fictional", "real"}
    real = rep["fills"]["real"]
    assert real["en"]["macro_f1"] == 1.0
    assert real["all"]["adverse_event"] == {"precision": 1.0, "recall": 0.5, "support": 2}
    assert "macro-F1" in format_file_report(rep)
    plain = tmp_path / "p.jsonl"
    plain.write_text(json.dumps({"text": "Glytera is $5", "topics": ["pricing"]}) + "\n")
    rep = evaluate_file_rows(_Fake(), load_labelled(plain), topics, ("real",))
    assert list(rep["fills"]) == ["as_is"]
