"""The lexicon's grouped alternation finds exactly what the flat one (longest form first) finds."""

from __future__ import annotations

import re

import pytest

from pipeline.pv import lexicon
from pipeline.pv.lexicon import NameIndex, TermIndex

FORMS = [
    "libido gone",
    "libido really",
    "libido low",
    "libido lost",
    "libido very low",
    "head ache",
    "headache",
    "heart",
    "heart attack",
    "heartburn",
    "hear",
    "he",
    "h",
    "hives",
    "dizzy",
    "dizziness",
    "dizzy spells",
]
TEXTS = [
    "my libido really gone since",
    "libido really low",
    "libido basically gone, headaches and heartburn",
    "libido very low, libido so lost",
    "heart attack? no, a heartache and a head so ache",
    "he heard hives; dizzy spells, dizziness, dizzy",
    "h h-he hearts",
]


def flat(forms: list[str]) -> re.Pattern[str]:
    """The alternation as it was before grouping: every form a branch, longest first."""
    keys = sorted({lexicon._key(f) for f in forms}, key=len, reverse=True)
    alt = "|".join(re.escape(k).replace("\\ ", lexicon._FILLER_GAP) for k in keys)
    return re.compile(rf"(?<![\w-])(?:{alt})(?:s|x|es)?(?![\w-])")


@pytest.mark.parametrize("text", TEXTS)
def test_grouped_alternation_matches_the_flat_one(text: str) -> None:
    index = TermIndex.build({f: [f] for f in FORMS})
    folded = lexicon.normalise(text)
    spans = [(m.start(), m.end()) for m in index.pattern.finditer(folded)]
    assert spans == [(m.start(), m.end()) for m in flat(FORMS).finditer(folded)]
    assert spans  # every text has a hit: the comparison is not between two empty lists


def test_filler_then_a_longer_form_wins_as_in_the_flat_alternation() -> None:
    """Grouping after a space would try "gone" behind the greedy gap before "really"."""
    index = TermIndex.build({f: [f] for f in FORMS})
    assert [(h.label, h.end) for h in index.find("libido really gone")] == [("libido really", 13)]


def test_numbered_forms_are_found_only_with_a_digit() -> None:
    index = TermIndex.build({"Fever": ["fever", "fever of <n>"]})
    assert [(h.label, h.end) for h in index.find("fever of 39 today")] == [("Fever", 11)]
    assert [(h.label, h.end) for h in index.find("fever of old")] == [("Fever", 5)]


#: 60 more names, so that a short body is cut into pieces and a long one tested name by name
FILLER = {f"Other{a}{b}": [f"other{a}{b}"] for a in "abcdef" for b in "ghijklmnop"}


@pytest.mark.parametrize(
    "body",
    ["ihatezentavoglytera", "glyteraday", "zentavo", "x" * 40 + "glyterazentavo", "nothing"],
)
def test_names_inside_a_hashtag_are_found_in_catalogue_order_short_or_long(body: str) -> None:
    forms = {"Glytera": ["glytera"], "Zentavo": ["zentavo"], "Ozempic": ["ozempic"], **FILLER}
    index = NameIndex.build(forms)
    expected = [label for name, label in index.single.items() if name in body]
    assert index._in_tag(body) == expected
    assert expected or body == "nothing"  # the names are found, not two empty lists compared
