"""Due dates by seriousness and region, on an injected clock: EU 15/90 days, US 15 days only for
serious unexpected cases, a case sold in several markets due at the earliest, region time zones."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from pipeline.errors import ConfigError
from pipeline.pv.cases import apply_event, clock_for, confirmed, near_due, open_case
from pipeline.pv.lexicon import default_lexicon
from pipeline.pv.regions import EU, MARKETS_FILE, Markets, RegionRule, load_markets
from pipeline.pv.triage import CaseAssessment

UTC_ZONE = ZoneInfo("UTC")
PARIS = ZoneInfo("Europe/Paris")
US = RegionRule("us", "US (21 CFR 314.80)", 15, None, unexpected_only=True)
TOKYO_RULE = RegionRule("jp", "Japan", 15, 30, timezone="Asia/Tokyo")
FRIDAY_NIGHT = datetime(2026, 11, 20, 22, 30, tzinfo=UTC)  # Saturday 07:30 in Tokyo
MARKETS = Markets(
    regions={"eu": EU, "us": US},
    default=("eu",),
    brands={"brenmoor": ("us",)},
    products={"glytera": ("us", "eu"), "respivel": ("us",)},
    labelled={"glytera": frozenset({"nausea", "vomiting"})},
)


def assessment(
    product: str = "Glytera", reactions: tuple[str, ...] = ("Nausea",), serious: bool = True
) -> CaseAssessment:
    return CaseAssessment(
        reporter=True,
        patient=True,
        product=product,
        reactions=reactions,
        seriousness=("hospitalisation",) if serious else (),
    )


def case(a: CaseAssessment, brand: str = "brenmoor", at: datetime = FRIDAY_NIGHT) -> dict[str, Any]:
    mention = {"id": f"x:{a.product}:{a.reactions}:{a.serious}", "text": "t", "brand": brand}
    return open_case(mention=mention, assessment=a, received_at=at, tz=UTC_ZONE, markets=MARKETS)


def test_eu_runs_15_days_for_serious_and_90_for_non_serious_cases() -> None:
    serious = clock_for(FRIDAY_NIGHT, True, True, UTC_ZONE, rule=EU)
    other = clock_for(FRIDAY_NIGHT, True, False, UTC_ZONE, rule=EU)
    assert (serious.day_zero, serious.due) == (date(2026, 11, 20), date(2026, 12, 5))
    assert serious.due is not None and serious.due.weekday() == 5  # a Saturday: not moved
    assert other.due == date(2027, 2, 18)  # 90 calendar days, over the new year
    assert serious.basis == "serious: 15 calendar days"


def test_us_runs_15_days_only_for_serious_unexpected_cases() -> None:
    unexpected = clock_for(FRIDAY_NIGHT, True, True, UTC_ZONE, rule=US, expected=False)
    labelled = clock_for(FRIDAY_NIGHT, True, True, UTC_ZONE, rule=US, expected=True)
    non_serious = clock_for(FRIDAY_NIGHT, True, False, UTC_ZONE, rule=US)
    assert unexpected.due == date(2026, 12, 5)
    assert labelled.due is None and labelled.deadline is None
    assert labelled.basis == "serious, labelled reaction: periodic report, no clock"
    assert non_serious.due is None and "periodic report" in non_serious.basis


def test_a_region_counts_on_its_own_calendar() -> None:
    tokyo = clock_for(FRIDAY_NIGHT, True, True, UTC_ZONE, rule=TOKYO_RULE)
    assert tokyo.day_zero == date(2026, 11, 21)  # already Saturday in Tokyo
    assert tokyo.due == date(2026, 12, 6)
    assert tokyo.deadline == datetime(2026, 12, 6, 15, 0, tzinfo=UTC)  # midnight in Tokyo


def test_a_case_runs_every_market_clock_and_is_due_at_the_earliest() -> None:
    # Glytera: US and EU. Serious and not on the label: both 15 days, same deadline.
    c = case(assessment(reactions=("Pancreatitis",)))
    assert [(k["region"], k["due"]) for k in c["clocks"]] == [
        ("us", "2026-12-05"),
        ("eu", "2026-12-05"),
    ]
    assert c["due"] == "2026-12-05" and c["due_region"] == "us"
    # Serious but labelled: the US report is periodic, the EU clock still runs 15 days.
    c = case(assessment(reactions=("Nausea",)))
    assert [(k["region"], k["due"]) for k in c["clocks"]] == [("us", None), ("eu", "2026-12-05")]
    assert c["due_region"] == "eu"
    # Non-serious: the EU's 90 days.
    c = case(assessment(serious=False))
    assert (c["due"], c["due_region"]) == ("2027-02-18", "eu")


def test_a_us_only_non_serious_case_has_no_expedited_clock() -> None:
    c = case(assessment(product="Respivel", serious=False))
    assert c["status"] == "new" and c["valid"]
    assert c["due"] is None and c["deadline"] is None and c["due_region"] is None
    assert c["clocks"][0]["basis"] == "non-serious: periodic report, no clock"
    assert near_due([c], datetime(2030, 1, 1, tzinfo=UTC)) == []  # nothing to be late for


def test_markets_fall_back_from_product_to_brand_to_default() -> None:
    assert [r.id for r in MARKETS.rules_for("Respivel", "valmoreau")] == ["us"]
    assert [r.id for r in MARKETS.rules_for("Unknownol", "BRENMOOR")] == ["us"]
    assert [r.id for r in MARKETS.rules_for(None, None)] == ["eu"]
    assert MARKETS.expected("glytera", ["Nausea", "Vomiting"])
    assert not MARKETS.expected("Glytera", ["Nausea", "Pancreatitis"])
    assert not MARKETS.expected("Respivel", ["Nausea"])  # no label known: unexpected


def test_without_markets_a_case_runs_the_eu_rule() -> None:
    c = open_case(
        mention={"id": "x:1", "brand": "brenmoor"},
        assessment=assessment(),
        received_at=FRIDAY_NIGHT,
        tz=PARIS,  # 23:30 in Paris: still Friday
    )
    assert [k["region"] for k in c["clocks"]] == ["eu"]
    assert (c["day_zero"], c["due"]) == ("2026-11-20", "2026-12-05")
    assert c["deadline"] == "2026-12-05T23:00:00+00:00"


def test_the_shipped_markets_file_loads_and_names_lexicon_reactions() -> None:
    markets = load_markets(MARKETS_FILE)
    assert {"eu", "uk", "us"} <= set(markets.regions)
    assert markets.regions["us"].non_serious_days is None
    known = {pt.casefold() for pt in default_lexicon().reactions.label_of.values()}
    for product, label in markets.labelled.items():
        assert label <= known, (product, sorted(label - known))


def test_a_bad_markets_file_names_the_line_and_field(tmp_path: Path) -> None:
    path = tmp_path / "markets.yaml"
    path.write_text(
        "version: 1\n"
        "regions:\n"
        "  eu: {name: EU, serious_days: 15, non_serious_days: 90}\n"
        "default_markets: [eu]\n"
        "brands:\n"
        "  brenmoor: [mars]\n"
    )
    with pytest.raises(
        ConfigError, match=r"markets.yaml:\d+: field 'brands'.*not under regions: mars"
    ):
        load_markets(path)
    path.write_text(
        "version: 1\n"
        "regions:\n"
        "  eu: {name: EU, serious_days: 0, non_serious_days: 90, timezone: Mars/Olympus}\n"
        "default_markets: [eu]\n"
    )
    with pytest.raises(
        ConfigError, match=r"markets.yaml:3: field .regions.eu.serious_days."
    ) as err:
        load_markets(path)
    assert "Mars/Olympus" in str(err.value)


def test_a_possible_case_confirmed_valid_starts_its_clocks_at_confirmation() -> None:
    vague = CaseAssessment(
        reporter=True, patient=False, product="Glytera", reactions=("Nausea",), seriousness=()
    )
    opened = open_case(
        mention={"id": "x:9", "brand": "brenmoor"},
        assessment=vague,
        received_at=FRIDAY_NIGHT,
        tz=UTC_ZONE,
        markets=MARKETS,
    )
    assert opened["status"] == "possible" and opened["due"] is None
    at = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)  # the Monday after: the reporter answered
    move = {
        "kind": "move",
        "to": "new",
        "at": at.isoformat(),
        "by": "l.marchetti",
        "case": {**confirmed(opened, at, UTC_ZONE, MARKETS), "status": "sent_to_safety"},
    }
    case = apply_event(opened, move)
    assert case["status"] == "new" and case["valid"] and case["missing"] == []
    assert (case["day_zero"], case["due"], case["due_region"]) == ("2026-11-23", "2027-02-21", "eu")
    assert case["received_at"] == opened["received_at"]  # only the clock fields are taken
    # closing it as invalid carries no clock, and a move without one starts none
    closed = apply_event(opened, {**move, "to": "closed_invalid"})
    assert closed["due"] is None and not closed["valid"]
    plain = apply_event(opened, {k: v for k, v in move.items() if k != "case"})
    assert plain["status"] == "new" and plain["due"] is None
