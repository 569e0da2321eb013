"""Reporting rules by region and the markets each brand and product is sold in.

A valid case is due to every authority of the markets its product is sold in, each by its own
rule; the case's due date is the earliest of them. The rules and markets are data
(``pipeline/config/pv_markets.yaml``, ``TOCSIN_PV_MARKETS_FILE``), checked on load with errors
naming the file, line and field:

* **EU** (GVP module VI): serious cases within 15 calendar days, non-serious within 90.
* **US** (21 CFR 314.80): a 15-day alert report only for a case both serious and *unexpected*
  (its reactions not on the product's label); every other case goes in the periodic report, so
  it gets no clock here. A post cannot say whether a reaction is labelled: a serious case is
  taken as unexpected unless the product's ``labelled`` reactions (lexicon preferred terms) cover
  all of its reactions; a safety reviewer decides the rest.

Each region counts calendar days on the calendar of its own time zone when it names one (else the
safety department's, ``TOCSIN_PV_TIMEZONE``); weekends and holidays never pause a clock.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from pipeline.yamlfile import read_yaml, validate

MARKETS_FILE = Path(__file__).resolve().parents[1] / "config" / "pv_markets.yaml"


class _Region(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    serious_days: int = Field(ge=1, le=365)
    non_serious_days: int | None = Field(default=None, ge=1, le=365)
    unexpected_only: bool = False
    timezone: str | None = None

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                ZoneInfo(value)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError(f"unknown time zone {value!r} (an IANA name)") from None
        return value


class _Product(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    markets: list[str] = Field(min_length=1)
    labelled: list[str] = Field(default_factory=list)


class _MarketsFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: int = Field(ge=1)
    regions: dict[str, _Region] = Field(min_length=1)
    default_markets: list[str] = Field(min_length=1)
    brands: dict[str, list[str]] = Field(default_factory=dict)
    products: dict[str, _Product] = Field(default_factory=dict)

    @field_validator("default_markets", "brands", "products")
    @classmethod
    def _known_markets(cls, value: Any, info: ValidationInfo) -> Any:
        """Every market named is a region of the file (regions are read first)."""
        regions = info.data.get("regions") or {}
        if isinstance(value, dict):
            named = [
                m for v in value.values() for m in (v.markets if isinstance(v, _Product) else v)
            ]
        else:
            named = list(value)
        unknown = sorted(set(named) - set(regions))
        if unknown:
            raise ValueError(f"markets not under regions: {', '.join(unknown)}")
        return value


@dataclass(frozen=True)
class RegionRule:
    """One authority's rule: days for a serious case (only unexpected ones when
    ``unexpected_only``) and for a non-serious one (None: periodic report, no clock)."""

    id: str
    name: str
    serious_days: int
    non_serious_days: int | None = None
    unexpected_only: bool = False
    timezone: str | None = None

    def days(self, *, serious: bool, expected: bool) -> int | None:
        """Calendar days to report a valid case in, or None when it goes in a periodic report."""
        if serious and not (self.unexpected_only and expected):
            return self.serious_days
        return self.non_serious_days

    def basis(self, *, serious: bool, expected: bool) -> str:
        """Why the clock is what it is, in words for the safety page and the export."""
        days = self.days(serious=serious, expected=expected)
        kind = "serious" if serious else "non-serious"
        if serious and self.unexpected_only:
            kind = "serious, labelled reaction" if expected else "serious, not known to be labelled"
        return f"{kind}: " + (f"{days} calendar days" if days else "periodic report, no clock")


#: The rule when no markets file is given: EU GVP VI everywhere (15 / 90 days).
EU = RegionRule("eu", "EU (GVP module VI)", 15, 90)


def _key(name: str) -> str:
    return name.strip().casefold()


@dataclass(frozen=True)
class Markets:
    """Where brands and products are sold, and each region's rule."""

    regions: Mapping[str, RegionRule] = field(default_factory=lambda: {"eu": EU})
    default: tuple[str, ...] = ("eu",)
    brands: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    products: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    labelled: Mapping[str, frozenset[str]] = field(default_factory=dict)

    def rules_for(self, product: str | None, brand: str | None) -> tuple[RegionRule, ...]:
        """The rules of the product's markets, else its brand's, else the default markets."""
        ids = (
            self.products.get(_key(product or ""))
            or self.brands.get(_key(brand or ""))
            or self.default
        )
        return tuple(self.regions[i] for i in ids)

    def expected(self, product: str | None, reactions: Iterable[str]) -> bool:
        """Whether every reaction is on the product's label (False when nothing is known)."""
        label = self.labelled.get(_key(product or ""), frozenset())
        found = [_key(r) for r in reactions]
        return bool(found) and bool(label) and all(r in label for r in found)


def load_markets(path: Path = MARKETS_FILE) -> Markets:
    """Read and check the markets file (a ConfigError names the file, line and field)."""
    spec = validate(read_yaml(path), _MarketsFile)
    regions = {
        rid: RegionRule(
            rid, r.name, r.serious_days, r.non_serious_days, r.unexpected_only, r.timezone
        )
        for rid, r in spec.regions.items()
    }
    return Markets(
        regions=regions,
        default=tuple(spec.default_markets),
        brands={_key(b): tuple(m) for b, m in spec.brands.items()},
        products={_key(p): tuple(s.markets) for p, s in spec.products.items()},
        labelled={
            _key(p): frozenset(_key(r) for r in s.labelled) for p, s in spec.products.items()
        },
    )


@cache
def markets_from(path: Path) -> Markets:
    """The markets file at ``path``, read once per process."""
    return load_markets(path)
