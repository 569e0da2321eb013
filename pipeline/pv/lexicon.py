"""The reaction lexicon and the generic-name list (``data/*.yaml``), compiled for matching.

Terms are folded like brand names (lower case, accents dropped, see :func:`pipeline.brands.fold`)
and matched as whole words; the last word may carry a plural ``s`` or ``x``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field

from pipeline.brands import fold

DATA = Path(__file__).parent / "data"
REACTIONS_FILE = DATA / "reactions.yaml"
GENERICS_FILE = DATA / "generics.yaml"


class ReactionSpec(BaseModel):
    """One preferred-term-like reaction with its EN and FR surface forms."""

    model_config = ConfigDict(extra="forbid")

    pt: str = Field(min_length=2)
    soc: str
    ime: bool = False
    en: list[str] = Field(min_length=1)
    fr: list[str] = Field(default_factory=list)


class _ReactionFile(BaseModel):
    reactions: list[ReactionSpec] = Field(min_length=1)


@dataclass(frozen=True)
class TermHit:
    """A lexicon term found in folded text: its label and its span."""

    label: str
    start: int
    end: int


def normalise(text: str) -> str:
    """Fold like the brand matcher, with typographic apostrophes made plain."""
    return fold(text.replace("\u2019", "'").replace("\u02bc", "'"))


def _alternation(terms: list[str]) -> str:
    folded = {" ".join(normalise(t).split()) for t in terms}
    folded.discard("")
    return "|".join(re.escape(t) for t in sorted(folded, key=len, reverse=True))


@dataclass(frozen=True)
class TermIndex:
    """Whole-word matcher from many surface forms to their labels (longest form wins)."""

    pattern: re.Pattern[str]
    label_of: dict[str, str]

    @classmethod
    def build(cls, forms: dict[str, list[str]]) -> TermIndex:
        label_of: dict[str, str] = {}
        for label, terms in forms.items():
            for t in terms:
                label_of.setdefault(" ".join(normalise(t).split()), label)
        alt = _alternation(list(label_of))
        return cls(re.compile(rf"(?<![\w-])(?:{alt})(?:s|x|es)?(?![\w-])"), label_of)

    def find(self, folded: str) -> list[TermHit]:
        """Every non-overlapping hit in ``folded`` (already :func:`normalise`-d), in order."""
        out = []
        for m in self.pattern.finditer(folded):
            label = self._label(m.group())
            if label is not None:
                out.append(TermHit(label, m.start(), m.end()))
        return out

    def _label(self, surface: str) -> str | None:
        for cut in (0, 1, 2):
            key = surface[: len(surface) - cut] if cut else surface
            if key in self.label_of:
                return self.label_of[key]
        return None


@dataclass(frozen=True)
class Lexicon:
    """Reactions (label = preferred term) and generic names (label = the generic)."""

    reactions: TermIndex
    important: frozenset[str]
    congenital: frozenset[str]
    generics: TermIndex
    size: int


def _read_yaml(path: Path) -> object:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def load_lexicon(
    reactions_file: Path = REACTIONS_FILE, generics_file: Path = GENERICS_FILE
) -> Lexicon:
    """Load and validate both files (a bad entry fails here, naming the file)."""
    specs = _ReactionFile.model_validate(_read_yaml(reactions_file)).reactions
    raw_generics = _read_yaml(generics_file)
    if not isinstance(raw_generics, dict) or not isinstance(raw_generics.get("generics"), list):
        raise ValueError(f"{generics_file}: expected a 'generics' list")
    generics = [str(g) for g in raw_generics["generics"]]
    return Lexicon(
        reactions=TermIndex.build({s.pt: [*s.en, *s.fr] for s in specs}),
        important=frozenset(s.pt for s in specs if s.ime and s.soc != "congenital"),
        congenital=frozenset(s.pt for s in specs if s.soc == "congenital"),
        generics=TermIndex.build({g: [g] for g in generics}),
        size=len(specs),
    )


@lru_cache(maxsize=1)
def default_lexicon() -> Lexicon:
    """The bundled lexicon, loaded once per process."""
    return load_lexicon()
