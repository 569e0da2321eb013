"""The X filtered stream's rules, built from the brand catalogue."""

from __future__ import annotations

from pipeline.brands import load_brands
from pipeline.settings import make_settings
from pipeline.sources.x_stream import build_rules


def test_x_rules_are_one_per_brand_and_split_when_too_long() -> None:
    brands = list(load_brands(make_settings().brands_file).brands)
    rules = build_rules(brands, "tocsin", 64)
    assert all(len(rule["value"]) <= 64 for rule in rules)
    assert {rule["tag"] for rule in rules} == {f"tocsin:{brand.id}" for brand in brands}
    assert len(rules) > len(brands)  # 64 characters cannot hold a whole brand
    wide = build_rules(brands, "tocsin", 512)
    assert len(wide) == len(brands)
    brenmoor = next(rule["value"] for rule in wide if rule["tag"] == "tocsin:brenmoor")
    assert (
        '"Brenmoor Pharmaceuticals"' in brenmoor and "Glytera" in brenmoor and "$BRMR" in brenmoor
    )
