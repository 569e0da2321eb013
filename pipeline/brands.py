"""Brand catalogue and matcher: which tracked brands a mention talks about.

The catalogue is data (``config/brands.yaml``) validated on load, so a typo in an alias fails at
start-up with the file and field named, not silently at 3 a.m. Matching is on a normalised form of
the text (lower case, accents folded, ``#hashtags`` and ``$CASHTAGS`` opened up) with word boundaries,
so "Glucentra's", "#glucentra" and "GLUCENTRA" all match while "glucentrality" does not.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from pipeline.errors import ConfigError


class ProductSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=2)
    generic: str | None = None
    aliases: list[str] = Field(default_factory=list)


class BrandSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^[a-z0-9_-]{2,40}$")
    name: str = Field(min_length=2)
    aliases: list[str] = Field(default_factory=list)
    cashtag: str | None = Field(default=None, pattern=r"^[A-Z]{1,6}$")
    products: list[ProductSpec] = Field(default_factory=list)

    def terms(self) -> list[str]:
        """Every surface form that identifies this brand, before normalisation."""
        out = [self.name, *self.aliases]
        for product in self.products:
            out += [product.name, *product.aliases]
            if product.generic:
                out.append(product.generic)
        return out


class Catalogue(BaseModel):
    model_config = ConfigDict(extra="forbid")

    brands: list[BrandSpec] = Field(min_length=1)


def fold(text: str) -> str:
    """Lower-case, strip accents and open hashtags/cashtags, so matching ignores their spelling."""
    decomposed = unicodedata.normalize("NFKD", text)
    no_marks = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return re.sub(r"[#$](\w)", r" \1", no_marks).casefold()


@dataclass(frozen=True)
class BrandMatcher:
    """Finds tracked brands in text; build it with :func:`load_brands` or :meth:`from_specs`."""

    brands: tuple[BrandSpec, ...]
    _patterns: tuple[tuple[str, re.Pattern[str]], ...]

    @classmethod
    def from_specs(cls, specs: Iterable[BrandSpec]) -> BrandMatcher:
        brands = tuple(specs)
        patterns = []
        for brand in brands:
            terms = {fold(t).strip() for t in brand.terms()}
            if brand.cashtag:
                terms.add(brand.cashtag.casefold())
            # Compact spellings ("Nova Cura" -> "novacura") are what hashtags look like.
            terms |= {t.replace(" ", "") for t in list(terms)}
            alternation = "|".join(
                sorted((re.escape(t) for t in terms if t), key=len, reverse=True)
            )
            patterns.append((brand.id, re.compile(rf"(?<!\w)(?:{alternation})(?!\w)")))
        return cls(brands, tuple(patterns))

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(b.id for b in self.brands)

    def match(self, text: str) -> list[str]:
        """Brand ids mentioned in ``text``, ordered by first appearance."""
        folded = fold(text)
        hits = []
        for brand_id, pattern in self._patterns:
            m = pattern.search(folded)
            if m:
                hits.append((m.start(), brand_id))
        return [brand_id for _, brand_id in sorted(hits)]


def load_brands(path: Path) -> BrandMatcher:
    """Load and validate the brand catalogue; errors name the file and the field."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read brand catalogue: {exc}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    try:
        catalogue = Catalogue.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        raise ConfigError(f"{path}: invalid brand catalogue: {problems}") from exc
    ids = [b.id for b in catalogue.brands]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise ConfigError(f"{path}: brands: duplicate id(s) {', '.join(dupes)}")
    return BrandMatcher.from_specs(catalogue.brands)
