from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.brands import fold, load_brands
from pipeline.errors import ConfigError

BRANDS = load_brands(Path("pipeline/config/brands.yaml"))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Brenmoor raised prices again", ["brenmoor"]),
        ("BRENMOOR!!!", ["brenmoor"]),
        ("why is #Glytera so expensive", ["brenmoor"]),
        ("$BRMR down 8% premarket", ["brenmoor"]),
        ("Brenmoor's new CEO", ["brenmoor"]),
        ("orvaglutide shortage", ["brenmoor"]),
        ("l'Ostéliq de Valmoreau", ["valmoreau"]),
        ("osteliq sans accent", ["valmoreau"]),
        ("#LaboratoiresValmoreau encore", ["valmoreau"]),
        ("Valmoreau vs Brenmoor: who is worse", ["valmoreau", "brenmoor"]),
        ("brenmoorish is not a word we track", []),
        ("nothing to see here", []),
    ],
)
def test_matcher(text: str, expected: list[str]) -> None:
    assert BRANDS.match(text) == expected


def test_fold_opens_hashtags_and_strips_accents() -> None:
    assert fold("#Ostéliq $VLMR") == " osteliq  vlmr"


def test_invalid_catalogue_names_file_and_field(tmp_path: Path) -> None:
    bad = tmp_path / "brands.yaml"
    bad.write_text("brands:\n  - id: Not Valid\n    name: X\n")
    with pytest.raises(ConfigError) as info:
        load_brands(bad)
    message = str(info.value)
    assert str(bad) in message
    assert "brands.0.id" in message
    assert "brands.0.name" in message


def test_duplicate_ids_are_refused(tmp_path: Path) -> None:
    bad = tmp_path / "brands.yaml"
    bad.write_text("brands:\n  - {id: acme, name: Acme}\n  - {id: acme, name: Acme Two}\n")
    with pytest.raises(ConfigError, match="duplicate id"):
        load_brands(bad)


def test_yaml_syntax_error_is_a_config_error(tmp_path: Path) -> None:
    bad = tmp_path / "brands.yaml"
    bad.write_text("brands: [\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_brands(bad)


@pytest.mark.parametrize(
    ("text", "brand", "kind"),
    [
        ("Glytera™ price hike", "brenmoor", "exact"),
        ("Epidra® injection day", "quillon", "exact"),
        ("#ValmoreauPrices are a scandal", "valmoreau", "exact"),
        ("#BoycottBrenmoor now", "brenmoor", "exact"),
        ("#NoMoreGLYTERA", "brenmoor", "exact"),
        ("@Quillon_UK answer your patients", "quillon", "exact"),
        ("cc @QuillonTherapeutics", "quillon", "exact"),
        ("Bren-moor again", "brenmoor", "dehyphenated"),
        ("le Neviora-induced nausea", "valmoreau", "exact"),
        ("#boycottbrenmoor", "brenmoor", "hashtag"),
        ("@somnessafrance", "valmoreau", "hashtag"),
        ("Glyetra made me sick", "brenmoor", "fuzzy"),  # swapped letters
        ("Valmorau lies", "valmoreau", "fuzzy"),  # a letter missing
        ("my cardellio dose", "brenmoor", "fuzzy"),  # a letter doubled
        ("Artivan ruined my month", "quillon", "fuzzy"),  # 8-letter name, last letter lost
    ],
)
def test_loose_spellings_match_and_say_how(text: str, brand: str, kind: str) -> None:
    found = {m.brand: m.kind for m in BRANDS.matches(text)}
    assert found == {brand: kind}


@pytest.mark.parametrize(
    "text",
    [
        "Epidrx and Epidro: a 6-letter name needs its exact spelling",
        "general cardinal respite neutral several artisan cardigan somewhat",
        "the #epidemic of misinformation, @respiratory_team",
        "brenmoorish is not a word we track",
        "Neviorama festival tickets",
    ],
)
def test_loose_rules_do_not_invent_brands(text: str) -> None:
    assert BRANDS.matches(text) == []


def test_no_corpus_word_is_mistaken_for_a_brand() -> None:
    """Every 6+ letter word of the seed corpus that is not a catalogue term stays unmatched."""
    import json

    from pipeline.brands import fold

    words: set[str] = set()
    for line in Path("models/data/seed_corpus.jsonl").read_text(encoding="utf-8").splitlines():
        words |= {w for w in fold(json.loads(line)["text"]).split() if w.isalpha()}
    loose = [(w, m.brand) for w in sorted(words) for m in BRANDS.matches(w) if m.kind != "exact"]
    assert loose == []
    assert len(words) > 3000  # the check covers a real vocabulary


def test_edit_distance_rule() -> None:
    from pipeline.brands import within_one_edit

    assert within_one_edit("glytera", "glytera")
    assert within_one_edit("glytera", "glyetra")  # neighbours swapped
    assert within_one_edit("glytera", "glitera")  # substitution
    assert within_one_edit("glytera", "glytra")  # deletion
    assert within_one_edit("glytera", "glyttera")  # insertion
    assert not within_one_edit("glytera", "gyltrea")  # two edits
    assert not within_one_edit("glytera", "glyteraxx")
    assert not within_one_edit("abcd", "badc")


def test_trademark_signs_and_camel_case_are_folded() -> None:
    assert fold("Glytera™ #BoycottBrenmoor @Quillon_UK").split() == [
        "glytera",
        "boycott",
        "brenmoor",
        "quillon",
        "uk",
    ]


_LETTERS = "abcdefghijklmnopqrstuvwxyz"


def _one_edit(term: str, op: int, at: int, letter: str) -> str:
    i = at % len(term)
    if op == 0:
        return term[:i] + letter + term[i + 1 :]  # substitution
    if op == 1:
        return term[:i] + term[i + 1 :]  # deletion
    if op == 2:
        return term[:i] + letter + term[i:]  # insertion
    j = min(i, len(term) - 2)
    return term[:j] + term[j + 1] + term[j] + term[j + 2 :]  # neighbours swapped


@settings(max_examples=300, deadline=None)
@given(
    term=st.sampled_from([t for _, t in BRANDS._fuzzy_terms]),
    edits=st.lists(
        st.tuples(st.integers(0, 3), st.integers(0, 30), st.sampled_from(_LETTERS)),
        min_size=1,
        max_size=2,
    ),
)
def test_fuzzy_index_finds_what_comparing_every_term_finds(
    term: str, edits: list[tuple[int, int, str]]
) -> None:
    """The index by first/last letter gives the same brands as comparing a word with every term,
    for words one and two edits from a term (two are mostly out of reach, some come back)."""
    from pipeline.brands import within_one_edit

    word = term
    for op, at, letter in edits:
        word = _one_edit(word, op, at, letter)
    index = BRANDS._fuzzy_index
    near = index.get((0, word[:1], len(word)), ()) + index.get((-1, word[-1:], len(word)), ())
    every = {b for b, t in BRANDS._fuzzy_terms if within_one_edit(word, t)}
    assert {b for b, t in near if within_one_edit(word, t)} == every
    if len(edits) == 1:
        assert every  # one edit from a term is always found
