from __future__ import annotations

from pathlib import Path

import pytest

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
