"""The reaction lexicon, the medicine names and the generic-name list (``data/*.yaml``), compiled
for matching.

Terms are folded like brand names (lower case, accents dropped, see :func:`pipeline.brands.fold`)
and matched as whole words; the last word may carry a plural ``s`` or ``x``. Medicine names are
also found inside lower-case hashtags (6+ letters) and one edit away (names and words of 6+
letters, unless the word is an ordinary word listed in ``not_misspellings``), like brand names.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from pipeline.brands import fold, tags, within_one_edit

DATA = Path(__file__).parent / "data"
REACTIONS_FILE = DATA / "reactions.yaml"
GENERICS_FILE = DATA / "generics.yaml"
MEDICINES_FILE = DATA / "medicines.yaml"
#: Shortest medicine name found inside a lower-case hashtag, or matched with one edit (and
#: shortest word compared with it), as for brand names (:mod:`pipeline.brands`).
MIN_TAG_NAME = 6
MIN_FUZZY_NAME = 6
MIN_FUZZY_WORD = 6


class ReactionSpec(BaseModel):
    """One preferred-term-like reaction with its EN and FR surface forms."""

    model_config = ConfigDict(extra="forbid")

    pt: str = Field(min_length=2)
    soc: str
    ime: bool = False
    en: list[str] = Field(min_length=1)
    fr: list[str] = Field(default_factory=list)


class _ReactionFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reactions: list[ReactionSpec] = Field(min_length=1)
    #: figures of speech that contain a reaction term ("mort de rire", "sick and tired of")
    not_reactions: list[str] = Field(default_factory=list)


#: The label of a figure of speech: matched so that its words are not read as a reaction.
IGNORED = ""


class MedicineSpec(BaseModel):
    """One generic with its other spellings and its trade names (EN and FR markets)."""

    model_config = ConfigDict(extra="forbid")

    generic: str = Field(min_length=2)
    also: list[str] = Field(default_factory=list)
    en: list[str] = Field(default_factory=list)
    fr: list[str] = Field(default_factory=list)


class _MedicineFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    medicines: list[MedicineSpec] = Field(min_length=1)
    not_misspellings: list[str] = Field(default_factory=list)


@dataclass(frozen=True)
class TermHit:
    """A lexicon term found in folded text: its label and its span."""

    label: str
    start: int
    end: int


def normalise(text: str) -> str:
    """Fold like the brand matcher, with typographic apostrophes made plain."""
    text = text.replace("\u2019", "'").replace("\u02bc", "'")
    # NFKD keeps the ligatures whole: "cœur" must fold to "coeur" like the lexicon spells it
    return fold(text.replace("œ", "oe").replace("Œ", "OE").replace("æ", "ae").replace("Æ", "AE"))


#: A number in a term ("gained <n> lbs", "+<n>kg", "fievre a <n>"): digits, maybe a decimal part.
NUMBER = "<n>"
_NUMBER_RE = r"\d{1,3}(?:[.,]\d{1,2})?"
_DIGIT = re.compile(r"\d")


def _key(term: str) -> str:
    return " ".join(normalise(term).split())


#: Words people slip between the words of a reaction ("libido is *basically* gone", "the room
#: *keeps* spinning", "j'ai la tête *complètement* dans le coton"): a multi-word form still
#: matches with one of them between two of its words, and is looked up without it.
FILLERS = (
    "really|so|basically|completely|totally|super|very|just|constantly|literally|kinda|"
    "pretty|keeps|kept|still|absolutely|seriously|actually|always|all|even|"
    "tres|trop|hyper|vraiment|completement|tellement|toujours|encore|grave|carrement|"
    "deja|souvent|un peu|tout|toute|tous|toutes"
)
_FILLER_GAP = rf"\ (?:(?:{FILLERS})\ )?"
_FILLER_IN = re.compile(rf" (?:{FILLERS})(?= )")


def _alternation(terms: list[str]) -> str:
    """The forms, longest first, as one alternation grouped by shared leading letters.

    ``re`` tries the branches of ``a|b|c`` one after another at every position of the text, so
    a flat alternation of thousands of forms cost about 1 ms per mention (most of triage's time).
    Grouped, a position tries one branch per distinct first letter and then only the forms that
    start with it: ``ab|ac|b`` becomes ``a(?:b|c)|b``. The result is the same match: branches
    that differ in a letter cannot both match at one position, the forms of a group keep their
    longest-first order, a form that ends where others go on comes after them, and grouping stops
    at a space (the filler gap there is a choice point, and a group after it would change which
    form wins when backtracking).
    """
    folded = {_key(t) for t in terms}
    folded.discard("")
    return _grouped(sorted(folded, key=len, reverse=True))


def _escaped(form: str) -> str:
    return re.escape(form).replace("\\ ", _FILLER_GAP)


def _grouped(forms: list[str]) -> str:
    """``forms`` (in the order ``re`` must try them) as an alternation with shared first letters
    factored out, recursively; see :func:`_alternation` for why the match is unchanged."""
    if len(forms) < 4:
        return "|".join(_escaped(f) for f in forms)
    groups: dict[str, list[str]] = {}
    whole: list[str] = []  # forms starting with a space: a filler gap, not factored
    ends = False  # the empty form: a form that ends here, tried after every longer one
    for form in forms:
        if not form:
            ends = True
        elif form[0] == " ":
            whole.append(form)
        else:
            groups.setdefault(form[0], []).append(form[1:])
    branches = [
        _escaped(first) + (f"(?:{_grouped(rest)})" if rest != [""] else "")
        for first, rest in groups.items()
    ]
    branches += [_escaped(f) for f in whole]
    return "|".join([*branches, ""] if ends else branches)


@dataclass(frozen=True)
class TermIndex:
    """Whole-word matcher from many surface forms to their labels (longest form wins); a form
    may hold ``<n>`` for a number ("gained <n> lbs")."""

    pattern: re.Pattern[str]
    label_of: dict[str, str]
    #: forms with a number, each compiled on its own (tried where no plain form matched)
    numbered: tuple[tuple[re.Pattern[str], str], ...] = ()
    #: the literal text around each numbered form's number: a text lacking one of them cannot
    #: match that form, so its pattern is not run
    numbered_parts: tuple[tuple[str, ...], ...] = ()

    @classmethod
    def build(cls, forms: dict[str, list[str]]) -> TermIndex:
        label_of: dict[str, str] = {}
        numbered: list[tuple[re.Pattern[str], str]] = []
        numbered_parts: list[tuple[str, ...]] = []
        for label, terms in forms.items():
            for t in terms:
                if NUMBER in t:
                    parts = [re.sub(r"\s+", " ", normalise(p)) for p in t.strip().split(NUMBER)]
                    body = _NUMBER_RE.join(re.escape(p) for p in parts)
                    numbered.append((re.compile(rf"(?<![\w-]){body}(?![\w-])"), label))
                    numbered_parts.append(tuple(p for p in parts if p))
                else:
                    label_of.setdefault(_key(t), label)
        alt = _alternation(list(label_of))
        return cls(
            re.compile(rf"(?<![\w-])(?:{alt})(?:s|x|es)?(?![\w-])"),
            label_of,
            tuple(numbered),
            tuple(numbered_parts),
        )

    def find(self, folded: str) -> list[TermHit]:
        """Every non-overlapping hit in ``folded`` (already :func:`normalise`-d), in order; a
        form with a number wins over a plain form it overlaps ("fievre a 39" over "fievre")."""
        out: list[TermHit] = []
        # every numbered form holds a digit (``_NUMBER_RE``): a text with none skips the 100-odd
        # patterns, a third of a reaction search
        numbered_forms = self.numbered if _DIGIT.search(folded) else ()
        for (pattern, with_number), parts in zip(numbered_forms, self.numbered_parts, strict=False):
            if not all(p in folded for p in parts):
                continue  # a literal part of the form is missing: the pattern cannot match
            for m in pattern.finditer(folded):
                if not any(h.start < m.end() and m.start() < h.end for h in out):
                    out.append(TermHit(with_number, m.start(), m.end()))
        numbered = list(out)
        for m in self.pattern.finditer(folded):
            label = self._label(m.group())
            overlaps = any(h.start < m.end() and m.start() < h.end for h in numbered)
            if label is not None and not overlaps:
                out.append(TermHit(label, m.start(), m.end()))
        return sorted((h for h in out if h.label != IGNORED), key=lambda h: h.start)

    def _label(self, surface: str) -> str | None:
        for text in (surface, _FILLER_IN.sub("", surface)):
            for cut in (0, 1, 2):
                key = text[: len(text) - cut] if cut else text
                if key in self.label_of:
                    return self.label_of[key]
        return None


@dataclass(frozen=True)
class NameIndex:
    """Medicine names: whole words (:class:`TermIndex`), inside lower-case hashtags, and one
    edit away from a single-word name (``Lexaprro``, ``seroquell``), the looser rules only for
    names of 6+ letters and never for a word listed as an ordinary word."""

    exact: TermIndex
    #: compact single-word name -> label, for the hashtag and one-edit rules
    single: dict[str, str]
    #: each single-word name and each of its one-letter deletions -> the names it comes from
    deletions: dict[str, tuple[str, ...]]
    not_misspellings: frozenset[str]

    @classmethod
    def build(cls, forms: dict[str, list[str]], not_misspellings: Iterable[str] = ()) -> NameIndex:
        single: dict[str, str] = {}
        for label, terms in forms.items():
            for t in terms:
                key = normalise(t).strip()
                if key.isalpha() and len(key) >= MIN_FUZZY_NAME:
                    single.setdefault(key, label)
        deletions: dict[str, list[str]] = {}
        for name in single:
            for variant in {name, *_deletions(name)}:
                deletions.setdefault(variant, []).append(name)
        return cls(
            TermIndex.build(forms),
            single,
            {k: tuple(v) for k, v in deletions.items()},
            frozenset(normalise(w).strip() for w in not_misspellings),
        )

    def find(self, text: str, folded: str) -> list[TermHit]:
        """Every name in ``text`` (``folded`` is its :func:`normalise`-d form), by position."""
        hits = self.exact.find(folded)
        seen = {h.label for h in hits}
        for body in tags(text):
            for label in self._in_tag(body):
                if label not in seen:
                    at = folded.find(body)
                    hits.append(TermHit(label, at if at >= 0 else len(folded), len(folded)))
                    seen.add(label)
        for w in _WORD.finditer(folded):
            word = w.group()
            if len(word) < MIN_FUZZY_WORD or word in self.not_misspellings:
                continue
            if word in self.single or word in self.exact.label_of:
                continue  # an exact name, already found (or a form the exact rule refused)
            near = self.near(word)
            if near is not None and near not in seen:
                hits.append(TermHit(near, w.start(), w.end()))
                seen.add(near)
        return sorted(hits, key=lambda h: h.start)

    @cached_property
    def _tag_places(self) -> dict[str, tuple[int, str]]:
        """Each name of ``MIN_TAG_NAME``+ letters -> its place in ``single`` (the order the
        names are tried in) and its label."""
        return {
            n: (i, label)
            for i, (n, label) in enumerate(self.single.items())
            if len(n) >= MIN_TAG_NAME
        }

    def _in_tag(self, body: str) -> list[str]:
        """The labels of the names of ``single`` found inside the hashtag ``body``, in
        ``single``'s order. A short body is cut into its pieces of ``MIN_TAG_NAME``+ letters,
        each looked up (a few dozen lookups instead of a test per name: a mention's
        ``@handle`` cost ~0.3 ms); a long one is tested against each name, as both find the
        same names."""
        places = self._tag_places
        size = len(body)
        if size * (size + 1) // 2 > len(places):
            return [label for n, (_, label) in places.items() if n in body]
        found = {
            places[piece]
            for i in range(size)
            for j in range(i + MIN_TAG_NAME, size + 1)
            if (piece := body[i:j]) in places
        }
        return [label for _, label in sorted(found)]

    def near(self, word: str) -> str | None:
        """The name one edit from ``word`` (of 6+ letters), if any."""
        for variant in (word, *_deletions(word)):
            for name in self.deletions.get(variant, ()):
                if within_one_edit(word, name):
                    return self.single[name]
        return None


_WORD = re.compile(r"[a-z]+")


def _deletions(word: str) -> set[str]:
    return {word[:i] + word[i + 1 :] for i in range(len(word))}


@dataclass(frozen=True)
class Lexicon:
    """Reactions (label = preferred term), generic names (label = the generic) and medicine
    names (label = the trade name as listed, or the generic for its spellings)."""

    reactions: TermIndex
    important: frozenset[str]
    congenital: frozenset[str]
    generics: TermIndex
    size: int
    medicines: NameIndex | None = None


def _read_yaml(path: Path) -> object:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _invalid(path: Path, exc: ValidationError) -> ValueError:
    problems = "; ".join(
        f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
    )
    return ValueError(f"{path}: {problems}")


def load_medicines(path: Path = MEDICINES_FILE) -> NameIndex:
    """Trade names and generic spellings of ``path``, validated (errors name file and field)."""
    try:
        spec = _MedicineFile.model_validate(_read_yaml(path))
    except ValidationError as exc:
        raise _invalid(path, exc) from exc
    forms: dict[str, list[str]] = {}
    for med in spec.medicines:
        forms.setdefault(med.generic, []).extend([med.generic, *med.also])
        for name in [*med.en, *med.fr]:
            forms.setdefault(name, []).append(name)
    return NameIndex.build(forms, spec.not_misspellings)


def load_lexicon(
    reactions_file: Path = REACTIONS_FILE,
    generics_file: Path = GENERICS_FILE,
    medicines_file: Path | None = MEDICINES_FILE,
) -> Lexicon:
    """Load and validate the files (a bad entry fails here, naming the file)."""
    try:
        reaction_file = _ReactionFile.model_validate(_read_yaml(reactions_file))
    except ValidationError as exc:
        raise _invalid(reactions_file, exc) from exc
    specs = reaction_file.reactions
    forms = {IGNORED: reaction_file.not_reactions, **{s.pt: [*s.en, *s.fr] for s in specs}}
    raw_generics = _read_yaml(generics_file)
    if not isinstance(raw_generics, dict) or not isinstance(raw_generics.get("generics"), list):
        raise ValueError(f"{generics_file}: expected a 'generics' list")
    generics = [str(g) for g in raw_generics["generics"]]
    return Lexicon(
        reactions=TermIndex.build(forms),
        important=frozenset(s.pt for s in specs if s.ime and s.soc != "congenital"),
        congenital=frozenset(s.pt for s in specs if s.soc == "congenital"),
        generics=TermIndex.build({g: [g] for g in generics}),
        size=len(specs),
        medicines=load_medicines(medicines_file) if medicines_file is not None else None,
    )


_default_lock = threading.Lock()
#: The bundled lexicon once built (empty before).
_default: list[Lexicon] = []


def default_lexicon() -> Lexicon:
    """The bundled lexicon, loaded once per process (~5 s of CPU) and shared by every triage:
    the PV agent's and the classifier's (v9's stack). Under a lock, so two threads that ask at
    once (both build theirs on a model thread at start-up) build it once."""
    with _default_lock:
        if not _default:
            _default.append(load_lexicon())
        return _default[0]
