"""Brand catalogue and matcher: which tracked brands a mention talks about.

The catalogue is data (``config/brands.yaml``) validated on load, so a typo in an alias fails at
start-up with the file and field named, not silently at 3 a.m. Matching is on a normalised form of
the text (lower case, accents folded, ``#hashtags``, ``@handles`` and ``$CASHTAGS`` opened up) with
word boundaries, so "Glucentra's", "#glucentra" and "GLUCENTRA" all match while "glucentrality"
does not. People do not write brand names the way the catalogue does, so, in order of trust:

- ``exact``: ™/®/© dropped, CamelCase hashtags and handles split into words (``#BoycottBrenmoor``,
  ``@Quillon_UK``), then a whole-word match of any catalogue term;
- ``dehyphenated``: the same after joining hyphenated words (``Bren-moor``);
- ``hashtag``: a term of 6+ letters inside a lower-case hashtag or handle (``#boycottbrenmoor``);
- ``fuzzy``: one edit (insertion, deletion, substitution or swap of neighbours) away from a
  single-word term of 7+ letters (``Glyetra``, ``Valmorau``), only for words of 6+ letters. Short
  names are exact-only because one edit from a 5-letter word is often another real word.

Every match records its kind, so a team can see (and silence) what the looser rules let in.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
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


#: Trademark-like signs dropped before matching (NFKD would turn ™ into "TM" glued to the name).
_SIGNS = str.maketrans("", "", "™®©℠")
_TAG = re.compile(r"[#@$](\w+)")
#: Word boundaries inside a CamelCase tag: "BoycottBrenmoor", "NoMoreGLYTERA", "Quillon2026".
_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z0-9])|(?<=[A-Z])(?=[A-Z][a-z])|(?<=[0-9])(?=[A-Za-z])")
_HYPHEN = re.compile(r"(?<=[a-z])-(?=[a-z])")
_WORD = re.compile(r"[a-z]+")
#: Shortest catalogue term found inside a lower-case hashtag or handle.
MIN_TAG_TERM = 6
#: Shortest single-word term matched with one edit, and shortest word compared with it.
MIN_FUZZY_TERM = 7
MIN_FUZZY_WORD = 6


def _open_tag(m: re.Match[str]) -> str:
    return " " + _CAMEL.sub(" ", m.group(1)).replace("_", " ")


_NON_ASCII = re.compile(r"[^\x00-\x7f]+")


def _drop_combining(run: re.Match[str]) -> str:
    return "".join(ch for ch in run.group() if not unicodedata.combining(ch))


def _strip_accents(text: str) -> str:
    # NFKD leaves ASCII as it is and no ASCII character is combining: only the non-ASCII runs
    # are looked at, character by character (a mention is mostly ASCII, even in French)
    if text.isascii():
        return text
    return _NON_ASCII.sub(_drop_combining, unicodedata.normalize("NFKD", text))


def _unsigned(text: str) -> str:
    """``text`` without ™/®/©/℠ (all non-ASCII: an ASCII text is returned as it is, unscanned)."""
    return text if text.isascii() else text.translate(_SIGNS)


def fold(text: str) -> str:
    """Lower-case, strip accents and ™/®, open hashtags/handles/cashtags (CamelCase split)."""
    text = _TAG.sub(_open_tag, _unsigned(text))
    return _strip_accents(text).casefold()


_HASH_OR_HANDLE = re.compile(r"[#@](\w+)")


def tags(text: str) -> list[str]:
    """The bodies of ``#hashtags`` and ``@handles``, folded, underscores dropped."""
    plain = _strip_accents(_unsigned(text)).casefold()
    return [m.group(1).replace("_", "") for m in _HASH_OR_HANDLE.finditer(plain)]


def within_one_edit(a: str, b: str) -> bool:
    """True when ``a`` and ``b`` differ by at most one insertion, deletion, substitution or
    swap of two neighbouring letters (optimal string alignment distance <= 1), in O(len)."""
    if a == b:
        return True
    la, lb = len(a), len(b)
    if abs(la - lb) > 1:
        return False
    if la > lb:
        a, b, la, lb = b, a, lb, la
    i = 0
    while i < la and a[i] == b[i]:
        i += 1
    if la == lb:
        if a[i + 1 :] == b[i + 1 :]:  # one substitution
            return True
        # one swap of neighbours
        return i + 1 < la and a[i] == b[i + 1] and a[i + 1] == b[i] and a[i + 2 :] == b[i + 2 :]
    return a[i:] == b[i + 1 :]  # one insertion into the shorter


@dataclass(frozen=True)
class BrandMatch:
    """One brand found in a text: how (``exact``, ``dehyphenated``, ``hashtag``, ``fuzzy``),
    where in the folded text, and the surface form that matched."""

    brand: str
    kind: str
    start: int
    surface: str


@dataclass(frozen=True)
class BrandMatcher:
    """Finds tracked brands in text; build it with :func:`load_brands` or :meth:`from_specs`."""

    brands: tuple[BrandSpec, ...]
    _patterns: tuple[tuple[str, re.Pattern[str]], ...]
    #: (brand id, compact term) for the hashtag and fuzzy rules
    _tag_terms: tuple[tuple[str, str], ...] = ()
    _fuzzy_terms: tuple[tuple[str, str], ...] = ()

    @classmethod
    def from_specs(cls, specs: Iterable[BrandSpec]) -> BrandMatcher:
        brands = tuple(specs)
        patterns = []
        tag_terms: list[tuple[str, str]] = []
        fuzzy_terms: list[tuple[str, str]] = []
        for brand in brands:
            terms = {" ".join(fold(t).split()) for t in brand.terms()}
            if brand.cashtag:
                terms.add(brand.cashtag.casefold())
            # Compact spellings ("Nova Cura" -> "novacura") are what hashtags look like.
            terms |= {t.replace(" ", "") for t in list(terms)}
            terms.discard("")
            alternation = "|".join(sorted((re.escape(t) for t in terms), key=len, reverse=True))
            patterns.append((brand.id, re.compile(rf"(?<!\w)(?:{alternation})(?!\w)")))
            compact = {t for t in terms if " " not in t and t.isalpha()}
            tag_terms += [(brand.id, t) for t in sorted(compact) if len(t) >= MIN_TAG_TERM]
            fuzzy_terms += [(brand.id, t) for t in sorted(compact) if len(t) >= MIN_FUZZY_TERM]
        return cls(brands, tuple(patterns), tuple(tag_terms), tuple(fuzzy_terms))

    @cached_property
    def _fuzzy_lengths(self) -> frozenset[int]:
        """Word lengths that can be one edit from a fuzzy term."""
        return frozenset(len(t) + d for _, t in self._fuzzy_terms for d in (-1, 0, 1))

    @cached_property
    def _fuzzy_index(self) -> dict[tuple[int, str, int], tuple[tuple[str, str], ...]]:
        """The fuzzy terms a word may be one edit from, by the word's first and by its last letter
        and its length: ``(0, first, length)`` and ``(-1, last, length)``.

        One edit of a word of 6+ letters leaves its first or its last letter in place (a change at
        the start leaves the end alone and the other way round), so every term within one edit of
        a word is under one of the word's two keys: a word is compared with the two or three terms
        there, not with every term.
        """
        index: dict[tuple[int, str, int], list[tuple[str, str]]] = {}
        for entry in self._fuzzy_terms:
            term = entry[1]
            for length in (len(term) - 1, len(term), len(term) + 1):
                for end in (0, -1):
                    index.setdefault((end, term[end], length), []).append(entry)
        return {key: tuple(entries) for key, entries in index.items()}

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(b.id for b in self.brands)

    def match(self, text: str) -> list[str]:
        """Brand ids mentioned in ``text``, ordered by first appearance."""
        return [m.brand for m in self.matches(text)]

    def matches(self, text: str) -> list[BrandMatch]:
        """One :class:`BrandMatch` per brand found, by first appearance; the most trusted rule
        that finds a brand wins (exact, then dehyphenated, hashtag, fuzzy)."""
        folded = fold(text)
        found: dict[str, BrandMatch] = {}
        joined = _HYPHEN.sub("", folded) if "-" in folded else None
        for brand_id, pattern in self._patterns:
            m = pattern.search(folded)
            if m:
                found[brand_id] = BrandMatch(brand_id, "exact", m.start(), m.group())
            elif joined is not None and (m := pattern.search(joined)):
                found[brand_id] = BrandMatch(brand_id, "dehyphenated", m.start(), m.group())
        if len(found) < len(self.brands):
            for body in tags(text):
                for brand_id, term in self._tag_terms:
                    if brand_id not in found and term in body:
                        at = folded.find(body)
                        found[brand_id] = BrandMatch(
                            brand_id, "hashtag", at if at >= 0 else len(folded), body
                        )
            lengths, index = self._fuzzy_lengths, self._fuzzy_index
            for w in _WORD.finditer(folded):
                word = w.group()
                n = len(word)
                if n < MIN_FUZZY_WORD or n not in lengths:
                    continue  # cheap exit: no term within one letter of this length
                near = index.get((0, word[0], n), ()) + index.get((-1, word[-1], n), ())
                for brand_id, term in near:
                    if brand_id not in found and within_one_edit(word, term):
                        found[brand_id] = BrandMatch(brand_id, "fuzzy", w.start(), word)
        return sorted(found.values(), key=lambda m: (m.start, m.brand))


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
