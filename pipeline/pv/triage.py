"""Per-mention case triage: the four minimum criteria of a valid case and seriousness.

Rules, not a model (see ``cues`` and ``lexicon``):

- **reporter**: an identifiable author -- an author handle or id came with the mention, or the
  text is written in the first person;
- **patient**: the author ("I had...", "j'ai eu...", "jsuis sous...") or an identifiable other
  person ("my mother", "my 6yo", "mon fils", "a 45-year-old woman"); "people", "patients",
  "someone" are not; a reporter who names a product and a reaction with no third party as the
  subject is taken to speak of themselves;
- **product**: a product of the tracked brands (trade name, alias or generic, matched by the
  brand matcher of :mod:`pipeline.brands`; ``company_product`` says so), or any other medicine:
  a trade name or generic of ``data/medicines.yaml`` (with the brand matcher's hashtag and
  one-edit rules) or a generic name from ``data/generics.yaml``;
- **reaction**: a lexicon reaction that is neither negated ("no nausea", "pas de fièvre"),
  hypothetical ("could cause", "risque de"), gone or the indication ("no more migraines"),
  asked, nor a figure of speech; "no side effects" denies them all. With a product and no
  lexicon reaction, "X made me ..." or a body part doing something bad ("my hands are purple")
  is an unspecified reaction;
- **serious**: a seriousness cue not negated, or a medically important reaction.

A case is valid iff all four criteria hold.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline.brands import BrandMatcher, BrandSpec, load_brands
from pipeline.pv import cues
from pipeline.pv.lexicon import Lexicon, default_lexicon, normalise

if TYPE_CHECKING:
    from models.pvhead import CaseCues

#: Input fields that identify the author of a mention (any non-empty one makes a reporter).
AUTHOR_FIELDS = ("author", "author_id", "handle", "user", "username", "screen_name", "user_id")
#: The lexicon's unspecified reaction ("a side effect"): reported only outside a question.
GENERIC_REACTION = "Adverse drug reaction"
#: The lexicon's death: a reaction only when nothing else is reported ("X killed my gran").
DEATH = "Death"
#: The disease, whose English name is French "goût" (taste) once accents are folded.
GOUT = "Gout"
DEFAULT_BRANDS = Path(__file__).resolve().parent.parent / "config" / "brands.yaml"


@dataclass(frozen=True)
class CaseAssessment:
    """The triage of one mention; :meth:`as_dict` is the ``case`` object of ``tocsin pv triage``."""

    reporter: bool
    patient: bool
    product: str | None
    reactions: tuple[str, ...]
    seriousness: tuple[str, ...]
    patient_details: dict[str, str] = field(default_factory=dict, compare=False)
    #: The product named first is one of the company's (``brands.yaml``), not another medicine.
    company_product: bool = False
    #: The text names a lexicon reaction somewhere or denies side effects ("no side effects"),
    #: whatever the rules made of it: they weighed a reaction there (see :func:`add_learned`).
    named: bool = field(default=False, compare=False)

    @property
    def criteria(self) -> dict[str, bool]:
        return {
            "reporter": self.reporter,
            "patient": self.patient,
            "product": self.product is not None,
            "reaction": bool(self.reactions),
        }

    @property
    def valid(self) -> bool:
        return all(self.criteria.values())

    @property
    def serious(self) -> bool:
        return bool(self.seriousness)

    def as_dict(self) -> dict[str, Any]:
        return {
            "valid": self.valid,
            "criteria": self.criteria,
            "product": self.product,
            "company_product": self.company_product,
            "reactions": list(self.reactions),
            "serious": self.serious,
            "seriousness": list(self.seriousness),
        }


#: Whether the heads may add a reaction only where the rules weighed none (``named`` false):
#: chosen by leave-one-writer-out, bench/pv_triage_cv.py step 3.
GATE_NAMED = False


def add_learned(
    found: CaseAssessment, learned: CaseCues, gate: bool = GATE_NAMED
) -> CaseAssessment:
    """Rule OR model: what the learned heads read in the sentence embedding added to the
    rules' assessment. A reaction only the model sees is the unspecified one (with ``gate``,
    only in a text that names no lexicon reaction, so the rules' negation, hearsay or
    indication verdicts stand); seriousness, as in the labels, needs a reaction, and the
    rules' categories win over the model's."""
    add = learned.reaction and not (gate and found.named)
    reactions = found.reactions or ((GENERIC_REACTION,) if add else ())
    seriousness = found.seriousness
    if reactions and not seriousness and learned.serious and learned.category:
        seriousness = (learned.category,)
    return replace(
        found,
        patient=found.patient or learned.patient,
        reactions=reactions,
        seriousness=seriousness,
    )


def _product_id(name: str) -> str:
    return re.sub(r"[^a-z0-9_-]", "-", normalise(name))[:40].strip("-") or "product"


def product_matcher(brands: BrandMatcher) -> tuple[BrandMatcher, dict[str, str]]:
    """A matcher whose "brands" are the catalogue's products (so fuzzy and hashtag rules apply
    to product names too), and the product name of each pseudo-brand id."""
    specs: list[BrandSpec] = []
    names: dict[str, str] = {}
    for brand in brands.brands:
        for product in brand.products:
            pid = _product_id(product.name)
            if pid in names or len(pid) < 2:
                continue
            names[pid] = product.name
            aliases = [*product.aliases, *([product.generic] if product.generic else [])]
            specs.append(BrandSpec(id=pid, name=product.name, aliases=aliases))
    return BrandMatcher.from_specs(specs), names


class Triage:
    """Assesses mentions; build once (lexicon and matchers compiled) and call :meth:`assess`."""

    def __init__(self, brands: BrandMatcher, lexicon: Lexicon | None = None) -> None:
        self.lexicon = lexicon or default_lexicon()
        self._products, self._product_names = product_matcher(brands)

    @classmethod
    def default(cls, brands_file: Path = DEFAULT_BRANDS) -> Triage:
        return cls(load_brands(brands_file))

    def assess(
        self, text: str, author: str | None = None, learned: CaseCues | None = None
    ) -> CaseAssessment:
        """The rules' assessment; with the classifier's case cues (learned heads over its
        sentence embedding, :attr:`models.classifier.Prediction.case_cues`), what they add."""
        found = self.assess_rules(text, author)
        return found if learned is None else add_learned(found, learned)

    def assess_rules(self, text: str, author: str | None = None) -> CaseAssessment:
        """The rules alone (see the module docstring)."""
        folded = normalise(text)
        found = self._product_hits(text, folded)
        reactions = self.reactions(folded, [(h[0], h[1]) for h in found])
        product, company = _first_product(found)
        starts = [h[0] for h in found]
        if not reactions and product is not None and self._unnamed_reaction(folded, starts):
            reactions = (GENERIC_REACTION,)
        if reactions and _blamed_elsewhere(folded, found):
            reactions = ()
        reporter = bool(author and author.strip()) or bool(cues.FIRST_PERSON.search(folded))
        return CaseAssessment(
            reporter=reporter,
            patient=self._patient(folded)
            or _owned(folded, product)
            or (
                reporter
                and product is not None
                and self._own_experience(folded, reactions or self._mentioned(folded))
            ),
            product=product,
            reactions=reactions,
            seriousness=self.seriousness(folded, reactions),
            patient_details=patient_details(folded),
            company_product=company,
            named=bool(cues.GLOBAL_DENIAL.search(folded) or self.lexicon.reactions.find(folded)),
        )

    def product(self, text: str, folded: str) -> str | None:
        """The first product named (see :meth:`named_product`)."""
        return self.named_product(text, folded)[0]

    def named_product(self, text: str, folded: str) -> tuple[str | None, bool]:
        """The first product named and whether it is the company's: a tracked product (any
        rule of the brand matcher), else a medicine name or a listed generic. At the same
        position the company's product wins (its generic may also be a listed medicine)."""
        return _first_product(self._product_hits(text, folded))

    def _product_hits(self, text: str, folded: str) -> list[tuple[int, int, int, str]]:
        """(start, end, 0 for the company's / 1 for another medicine, name) of every product
        named. A bare "vaccine", "jab", "vaccin" names no product (GVP VI asks for an
        identifiable one) unless a vaccine maker is named too ("@pfizer ... the vaccine")."""
        found = [
            (m.start, m.start + len(m.surface), 0, self._product_names[m.brand])
            for m in self._products.matches(text)
        ]
        if self.lexicon.medicines is not None:
            found += [
                (h.start, h.end, 1, h.label) for h in self.lexicon.medicines.find(text, folded)
            ]
        found += [(h.start, h.end, 1, h.label) for h in self.lexicon.generics.find(folded)]
        if not _VACCINE_MAKER.search(folded):
            found = [f for f in found if f[3] != UNSPECIFIED_VACCINE]
        return found

    def reactions(
        self, folded: str, products: list[tuple[int, int]] | None = None
    ) -> tuple[str, ...]:
        """Preferred terms reported (not negated, not hypothetical, not what a product named
        just before is taken for), by first appearance."""
        if cues.GLOBAL_DENIAL.search(folded) and not _has_clause_turn(folded):
            return ()
        out: list[str] = []
        treated = -1  # end of the last indication: "for anxiety and panic attacks"
        for hit in self.lexicon.reactions.find(folded):
            if treated >= 0 and _AND.fullmatch(folded[treated : hit.start]):
                treated = hit.end
                continue
            if _indication(folded, hit.start, products or []) or cues.treated(folded, hit.start):
                treated = hit.end
                continue  # "Topamax for migraines", "Skenan pour son cancer", "for my migraines"
            if hit.label in out or cues.denied(folded, hit.start, hit.end):
                continue
            if hit.label == GOUT and _taste(folded, hit.start, hit.end):
                continue  # French "goût" (taste) folds to "gout": "ce sirop a mauvais goût"
            if hit.label == GENERIC_REACTION and "?" in folded[hit.end :].split(".")[0]:
                continue  # "what are the side effects like?" asks, does not report
            if _asked(folded, hit.start, hit.end):
                continue  # "Seroplex, ça fait grossir ?" asks about others' experience
            out.append(hit.label)
        if DEATH in out and len(out) > 1:
            out.remove(DEATH)  # death is then the outcome (seriousness) of the other reactions
        return tuple(out)

    def seriousness(self, folded: str, reactions: tuple[str, ...]) -> tuple[str, ...]:
        """Seriousness categories in :data:`cues.ORDER`; needs a reported reaction."""
        if not reactions:
            return ()
        found = set()
        for name, pattern in cues.SERIOUSNESS.items():
            for m in pattern.finditer(folded):
                if not cues.in_scope(folded, m.start(), cues.NEGATION, cues.NEGATION_WINDOW):
                    found.add(name)
                    break
        if any(r in self.lexicon.congenital for r in reactions):
            found.add("congenital_anomaly")
        if any(r in self.lexicon.important for r in reactions):
            found.add("other_medically_important")
        return tuple(c for c in cues.ORDER if c in found)

    def _patient(self, folded: str) -> bool:
        if cues.RELATIVE.search(folded) or cues.AGE_SEX.search(folded):
            return True
        if cues.BARE_RELATIVE.search(folded):
            return True
        return cues.self_reference(folded)

    def _mentioned(self, folded: str) -> tuple[str, ...]:
        """Reactions named at all, even denied, gone or the indication ("no nausea", "X for my
        migraines"), unless asked or hypothetical: the writer speaks of their own treatment."""
        return tuple(
            h.label
            for h in self.lexicon.reactions.find(folded)
            if not _asked(folded, h.start, h.end)
            and not cues.in_scope(folded, h.start, cues.HYPOTHETICAL, 12)
        )

    @staticmethod
    def _unnamed_reaction(folded: str, products: list[int] | None = None) -> bool:
        """A medicine "made me ..." / "m'a fait ..." something, or a body part doing something
        bad ("my hands are purple", "mal au genou"), that the lexicon does not name: an
        unspecified reaction, unless the whole text denies side effects or it is asked."""
        if cues.GLOBAL_DENIAL.search(folded) and not _has_clause_turn(folded):
            return False
        if cues.NO_HARM.search(folded):
            return False
        frame = cues.reaction_frame(folded)
        given = frame is not None and any(
            0 <= p - frame.end() <= 12 and _DETERMINER.fullmatch(folded[frame.end() : p])
            for p in products or []
        )
        if frame is not None and not given and "?" not in folded[frame.end() :].split(".")[0]:
            return True  # "can it make me ...?" asks; "gave me amoxicillin" gives a medicine
        body = cues.body_complaint(folded)
        return body is not None and not _asked(folded, body.start(), body.end())

    @staticmethod
    def _own_experience(folded: str, reactions: tuple[str, ...]) -> bool:
        """A reporter names a product and a reaction with nobody else as the subject
        ("seroquel hangover is no joke", "Augmentin = diarrhée garantie"): people post their
        own experience that way, so the author is the patient. Third persons, groups and news
        words ("people on X", "patients", "study", "FDA") keep it from counting."""
        return bool(reactions) and not cues.THIRD_PARTY.search(cues.THEY_CARE.sub(" ", folded))


_TASTE_BEFORE = re.compile(
    r"(?:^|[\s'])(?:le|un|du|ce|cet|mauvais|bon|sale|drole de|sans|perte du|perdu le|au|leur|son|mon|"
    r"quel|petit|arriere|a un|avec un|ont un|a le|de)\s*$"
)
_TASTE_AFTER = re.compile(
    r"^\s*(?:de|du|des|d'|horrible|bizarre|amer|metallique|affreux|affreuse|degueulasse|immonde|"
    r"infect|chelou|etrange|sucre|sale|acide|special|particulier|pourri|dans la bouche|"
    r"insupportable|atroce|ignoble)(?![\w])"
)


def _taste(folded: str, start: int, end: int) -> bool:
    """ "gout" in French wording: the folded "goût" (taste), not the disease ("la goutte")."""
    return bool(
        _TASTE_BEFORE.search(folded[max(0, start - 20) : start])
        or _TASTE_AFTER.search(folded[end : end + 25])
    )


def _first_product(found: list[tuple[int, int, int, str]]) -> tuple[str | None, bool]:
    if not found:
        return None, False
    _, _, other, name = min(found)
    return name, other == 0


#: The catalogue's entry for a vaccine named by no brand, maker nor disease.
UNSPECIFIED_VACCINE = "vaccine (unspecified)"
_VACCINE_MAKER = re.compile(
    r"(?<![\w])(?:pfizer|biontech|moderna|astrazeneca|astra zeneca|janssen|novavax|sanofi|gsk|"
    r"msd|valneva|seqirus)(?![\w])"
)
#: Between a product and a hit: "X for", "X 50mg pour mes", "X contre les" -- what it treats.
_FOR = re.compile(
    r"^[\s,]*(?:\d+\s?(?:mg|mcg|ug|g|ml)?\s+)?(?:(?:daily|tablets?|pills?|injections?|shots?|"
    r"cream|gel|inhaler|xl|xr|er|sr|lp)\s+)?(?:for|pour|contre|against|to treat|to help with)"
    r"(?:\s(?:my|his|her|their|our|the|this|that|a|an|ma|mon|mes|son|sa|ses|leur|les|le|la|une|un|"
    r"ce|cette|cet|des|du|of))?(?:\s\w+)?\s*(?:l'|d')?$"
)


_DETERMINER = re.compile(
    r"\s*(?:(?:le|la|les|l'|du|de la|des|the|my|his|her|some|a|an|un|une|more|plus de)\s*)?"
)
_AND = re.compile(r"\s*(?:,|and|et|&|/|or|ou|plus)?\s*(?:my|mes|ma|mon|les|the|des)?\s*")
_BLAME = re.compile(r"(?<![\w'])(?:blam\w*|accus\w*|reproch\w*|sued|suing|poursui\w*)(?![\w'])")


def _indication(folded: str, start: int, products: list[tuple[int, int]]) -> bool:
    """The hit follows a product and "for" / "pour" / "contre": the indication (unless the
    product is blamed for it: "blaming Mounjaro for hair loss")."""
    return any(
        0 <= start - end <= 40
        and _FOR.search(folded[end:start])
        and not _BLAME.search(folded[max(0, begin - 25) : begin])
        for begin, end in products
    )


#: "that's the tequila, not my Lexapro", "rien à voir avec le Crestor": blamed on something else.
_NOT_THE = re.compile(
    r"(?:(?<![\w'])(?:not|pas|nothing to do with|rien a voir avec|unrelated to|"
    r"sans rapport avec|not because of|not from)(?:\s(?:my|the|his|her|le|la|les|mon|ma|mes|du|"
    r"de la|des|avec le|avec la))?\s*(?:l')?)$"
)


def _blamed_elsewhere(folded: str, found: list[tuple[int, int, int, str]]) -> bool:
    return any(_NOT_THE.search(folded[max(0, start - 30) : start]) for start, *_ in found)


def _owned(folded: str, product: str | None) -> bool:
    """ "my Eliquis", "mon Levothyrox": the author (or someone they name) takes it."""
    if product is None:
        return False
    name = re.escape(normalise(product))
    return bool(re.search(rf"(?<![\w'])(?:my|mon|ma|mes) (?:\w+ )?{name}(?![\w])", folded))


_SENTENCE_END = re.compile(r"[.!?\n]")
_ELSE = re.compile(r"\b(?:else|d'autre|d'autres|aussi|too|also|normal|normale)\b")


def _asked(folded: str, start: int, end: int) -> bool:
    """The hit sits in a question with no first person ("ça fait grossir ?", "does it cause
    hair loss?"); "anyone else get X?" and "why am I so tired?" still report."""
    rest = folded[end:]
    q = rest.find("?")
    if q < 0 or re.search(r"[.!,;\n]", rest[:q]):
        return False
    cut = 0
    for m in _SENTENCE_END.finditer(folded, 0, start):
        cut = m.end()
    sentence = folded[cut : end + q]
    return not (cues.FIRST_PERSON.search(sentence) or _ELSE.search(sentence))


def _has_clause_turn(folded: str) -> bool:
    """ "No side effects except nausea": a turn after the denial lets reactions through."""
    return bool(re.search(r"\b(?:except|but|apart from|sauf|mais|a part)\b", folded))


def patient_details(folded: str) -> dict[str, str]:
    """Who the patient is, and age where given (for the case record; not a criterion)."""
    out: dict[str, str] = {}
    rel = cues.RELATIVE.search(folded)
    if rel:
        out["who"] = rel.group()
    age = re.search(r"\b(\d{1,3}) ?(?:yo|y/o|years? old|year-old|ans)\b", folded)
    if age:
        out["age"] = age.group(1)
    return out
