"""The en/fr/other language heuristic on clear cases and edge cases."""

from __future__ import annotations

import pytest

from models.lang import detect_lang


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("The price of this drug tripled and patients can't afford it", "en"),
        ("I got a rash after my second dose, is that normal?", "en"),
        ("Depuis que je prends ce traitement j'ai des vertiges", "fr"),
        ("Le prix a doublé, c\u2019est scandaleux", "fr"),
        ("Effets indésirables graves signalés à l'ANSM", "fr"),
        ("El precio del medicamento es muy alto para los pacientes", "other"),
        ("Der Preis ist nicht mehr bezahlbar und das ist ein Skandal", "other"),
        ("この薬の副作用がひどい", "other"),
        ("", "other"),
        ("https://example.org #Brenmoor @pharma 123", "other"),
    ],
)
def test_detect_lang(text: str, lang: str) -> None:
    assert detect_lang(text) == lang
