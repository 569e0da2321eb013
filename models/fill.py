"""Placeholder fill for Corpus 2.0 and the independent held-out set (models/data/GUIDELINES.md §9).

Committed rows name no company, product, INN or ticker: they carry ``{BRAND}``, ``{PRODUCT}``,
``{GENERIC}``, ``{TICKER}`` (index 1, the watched entity) and ``{BRAND2}``/``{PRODUCT2}``/... for a
second or third company. This module fills them, **deterministically per row**: the random
generator is seeded with sha256(row id + ":" + pool name), so the same row always reads the same
and a changed pool only changes the rows it must.

Two pools:

* ``fictional``: ``pipeline/config/brands.yaml`` (names, company aliases as variants, generic,
  cashtag);
* ``real``: the list of public companies and marketed drugs below. It lives here, in code, for
  the build only: filled texts are never written to the repository (they are built in memory or
  in the build cache), so no invented claim about a real company is published.

Rules (§9): same index = same company (its product, its INN, its ticker); lower-case placeholders
(``{product}``) fill lower-case; inside a hashtag spaces and hyphens are dropped; French elision
(``le {PRODUCT}`` -> ``l'Ozempic``, ``de`` -> ``d'``, ``du`` -> ``de l'``, ``au`` -> ``à l'``,
``que`` -> ``qu'``) when the name starts with a vowel or h; the optional ``area`` picks a product
of that therapeutic area for index 1 when the pool has one.
"""

from __future__ import annotations

import hashlib
import random
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

BRANDS_FILE = Path(__file__).resolve().parent.parent / "pipeline" / "config" / "brands.yaml"
POOLS = ("fictional", "real")

PLACEHOLDER = re.compile(r"\{(BRAND|PRODUCT|GENERIC|TICKER|brand|product|generic)([23]?)\}")
ANY_BRACES = re.compile(r"\{[^{}\s]{1,20}\}")

#: Share of rows whose company is written with one of its aliases ("Laboratoires Valmoreau").
ALIAS_SHARE = 0.25


@dataclass(frozen=True)
class Product:
    name: str
    generic: str
    area: str


@dataclass(frozen=True)
class Company:
    name: str
    aliases: tuple[str, ...]
    ticker: str
    products: tuple[Product, ...]


# Real public companies and some of their marketed drugs (trade name, INN, area of §10). Build-time
# data only; the text the model trains on is filled in memory.
_REAL: tuple[tuple[str, tuple[str, ...], str, tuple[tuple[str, str, str], ...]], ...] = (
    (
        "Novo Nordisk",
        ("Novo",),
        "NVO",
        (
            ("Ozempic", "semaglutide", "diabetes_obesity"),
            ("Wegovy", "semaglutide", "diabetes_obesity"),
            ("Tresiba", "insulin degludec", "diabetes_obesity"),
        ),
    ),
    (
        "Eli Lilly",
        ("Lilly",),
        "LLY",
        (
            ("Mounjaro", "tirzepatide", "diabetes_obesity"),
            ("Trulicity", "dulaglutide", "diabetes_obesity"),
            ("Taltz", "ixekizumab", "dermatology"),
            ("Verzenio", "abemaciclib", "oncology"),
            ("Emgality", "galcanezumab", "neurology"),
            ("Forteo", "teriparatide", "bone"),
        ),
    ),
    (
        "Pfizer",
        (),
        "PFE",
        (
            ("Eliquis", "apixaban", "cardiovascular"),
            ("Comirnaty", "tozinameran", "vaccines"),
            ("Paxlovid", "nirmatrelvir", "infectious"),
            ("Ibrance", "palbociclib", "oncology"),
            ("Xeljanz", "tofacitinib", "rheumatology_immunology"),
        ),
    ),
    (
        "Merck",
        ("MSD", "Merck & Co"),
        "MRK",
        (
            ("Keytruda", "pembrolizumab", "oncology"),
            ("Januvia", "sitagliptin", "diabetes_obesity"),
            ("Belsomra", "suvorexant", "psychiatry_sleep"),
            ("Gardasil", "human papillomavirus vaccine", "vaccines"),
        ),
    ),
    (
        "AstraZeneca",
        ("AZ",),
        "AZN",
        (
            ("Farxiga", "dapagliflozin", "cardiovascular"),
            ("Tagrisso", "osimertinib", "oncology"),
            ("Fasenra", "benralizumab", "respiratory"),
            ("Imfinzi", "durvalumab", "oncology"),
        ),
    ),
    (
        "Sanofi",
        ("Sanofi France",),
        "SNY",
        (
            ("Dupixent", "dupilumab", "dermatology"),
            ("Lantus", "insulin glargine", "diabetes_obesity"),
            ("Aubagio", "teriflunomide", "neurology"),
            ("Beyfortus", "nirsevimab", "vaccines"),
            ("Plavix", "clopidogrel", "cardiovascular"),
        ),
    ),
    (
        "GSK",
        ("GlaxoSmithKline",),
        "GSK",
        (
            ("Shingrix", "recombinant zoster vaccine", "vaccines"),
            ("Nucala", "mepolizumab", "respiratory"),
            ("Trelegy", "fluticasone furoate/umeclidinium/vilanterol", "respiratory"),
            ("Dovato", "dolutegravir/lamivudine", "infectious"),
        ),
    ),
    (
        "Novartis",
        (),
        "NVS",
        (
            ("Entresto", "sacubitril/valsartan", "cardiovascular"),
            ("Cosentyx", "secukinumab", "rheumatology_immunology"),
            ("Kisqali", "ribociclib", "oncology"),
            ("Kesimpta", "ofatumumab", "neurology"),
        ),
    ),
    (
        "Roche",
        ("Genentech",),
        "RHHBY",
        (
            ("Ocrevus", "ocrelizumab", "neurology"),
            ("Tecentriq", "atezolizumab", "oncology"),
            ("Xolair", "omalizumab", "respiratory"),
            ("Evrysdi", "risdiplam", "neurology"),
        ),
    ),
    (
        "AbbVie",
        (),
        "ABBV",
        (
            ("Humira", "adalimumab", "rheumatology_immunology"),
            ("Skyrizi", "risankizumab", "dermatology"),
            ("Rinvoq", "upadacitinib", "rheumatology_immunology"),
            ("Ubrelvy", "ubrogepant", "neurology"),
        ),
    ),
    (
        "Bristol Myers Squibb",
        ("BMS", "Bristol-Myers"),
        "BMY",
        (
            ("Opdivo", "nivolumab", "oncology"),
            ("Revlimid", "lenalidomide", "oncology"),
            ("Zeposia", "ozanimod", "neurology"),
        ),
    ),
    (
        "Johnson & Johnson",
        ("J&J", "Janssen"),
        "JNJ",
        (
            ("Stelara", "ustekinumab", "dermatology"),
            ("Darzalex", "daratumumab", "oncology"),
            ("Spravato", "esketamine", "psychiatry_sleep"),
        ),
    ),
    (
        "Bayer",
        (),
        "BAYRY",
        (
            ("Xarelto", "rivaroxaban", "cardiovascular"),
            ("Kerendia", "finerenone", "cardiovascular"),
            ("Nubeqa", "darolutamide", "oncology"),
        ),
    ),
    (
        "Amgen",
        (),
        "AMGN",
        (
            ("Prolia", "denosumab", "bone"),
            ("Evenity", "romosozumab", "bone"),
            ("Repatha", "evolocumab", "cardiovascular"),
            ("Otezla", "apremilast", "dermatology"),
        ),
    ),
    (
        "Gilead",
        ("Gilead Sciences",),
        "GILD",
        (
            ("Biktarvy", "bictegravir/emtricitabine/tenofovir alafenamide", "infectious"),
            ("Veklury", "remdesivir", "infectious"),
            ("Trodelvy", "sacituzumab govitecan", "oncology"),
        ),
    ),
    ("Moderna", (), "MRNA", (("Spikevax", "elasomeran", "vaccines"),)),
    (
        "Takeda",
        (),
        "TAK",
        (
            ("Entyvio", "vedolizumab", "rheumatology_immunology"),
            ("Vyvanse", "lisdexamfetamine", "psychiatry_sleep"),
        ),
    ),
    (
        "Biogen",
        (),
        "BIIB",
        (
            ("Tecfidera", "dimethyl fumarate", "neurology"),
            ("Leqembi", "lecanemab", "neurology"),
        ),
    ),
    (
        "Vertex",
        ("Vertex Pharmaceuticals",),
        "VRTX",
        (("Trikafta", "elexacaftor/tezacaftor/ivacaftor", "respiratory"),),
    ),
    (
        "Regeneron",
        (),
        "REGN",
        (
            ("Eylea", "aflibercept", "other"),
            ("Praluent", "alirocumab", "cardiovascular"),
        ),
    ),
    (
        "Teva",
        ("Teva Pharmaceuticals",),
        "TEVA",
        (
            ("Ajovy", "fremanezumab", "neurology"),
            ("Austedo", "deutetrabenazine", "neurology"),
        ),
    ),
)

# Areas of the fictional products (brands.yaml has no area field).
_FICTIONAL_AREAS = {
    "Glytera": "diabetes_obesity",
    "Cardelio": "cardiovascular",
    "Respivel": "respiratory",
    "Neviora": "neurology",
    "Osteliq": "bone",
    "Somnessa": "psychiatry_sleep",
    "Epidra": "dermatology",
    "Artivane": "rheumatology_immunology",
}


def real_pool() -> tuple[Company, ...]:
    return tuple(
        Company(name, aliases, ticker, tuple(Product(*p) for p in products))
        for name, aliases, ticker, products in _REAL
    )


@lru_cache(maxsize=4)
def fictional_pool(path: Path = BRANDS_FILE) -> tuple[Company, ...]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    out = []
    for b in data["brands"]:
        prods = tuple(
            Product(p["name"], p["generic"], _FICTIONAL_AREAS.get(p["name"], "other"))
            for p in b.get("products", [])
        )
        out.append(Company(b["name"], tuple(b.get("aliases") or ()), b["cashtag"], prods))
    return tuple(out)


def pool(name: str) -> tuple[Company, ...]:
    if name == "fictional":
        return fictional_pool()
    if name == "real":
        return real_pool()
    raise ValueError(f"unknown pool {name!r}; expected one of {POOLS}")


def has_placeholders(text: str) -> bool:
    return PLACEHOLDER.search(text) is not None


def _rng(row_id: str, pool_name: str) -> random.Random:
    seed = hashlib.sha256(f"{row_id}:{pool_name}".encode()).digest()
    return random.Random(int.from_bytes(seed[:8], "big"))


def _starts_with_vowel(name: str) -> bool:
    first = unicodedata.normalize("NFKD", name[:1]).encode("ascii", "ignore").decode().lower()
    return first in tuple("aeiouh")


_ELISION = re.compile(r"(?:^|(?<=[\s(\"«'’]))(le|la|de|du|au|que)\s+$", re.IGNORECASE)
_ELIDED = {"le": "l'", "la": "l'", "de": "d'", "du": "de l'", "au": "à l'", "que": "qu'"}


def _elide(before: str, name: str) -> str:
    """``before`` with a trailing French article/preposition elided if ``name`` needs it."""
    if not _starts_with_vowel(name):
        return before
    m = _ELISION.search(before)
    if not m:
        return before
    word = m.group(1)
    repl = _ELIDED[word.lower()]
    if word[0].isupper():
        repl = repl[0].upper() + repl[1:]
    return before[: m.start()] + repl


def _pick(companies: tuple[Company, ...], rng: random.Random, area: str | None, n: int):
    """``n`` distinct (company, product, company surface name) triples; index 1 first."""
    order = list(range(len(companies)))
    rng.shuffle(order)
    first = order[0]
    if area:
        with_area = [i for i in order if any(p.area == area for p in companies[i].products)]
        if with_area:
            first = with_area[0]
    chosen = [first] + [i for i in order if i != first][: max(n - 1, 0)]
    out = []
    for k, i in enumerate(chosen):
        c = companies[i]
        prods = list(c.products)
        if k == 0 and area and any(p.area == area for p in prods):
            prods = [p for p in prods if p.area == area]
        product = prods[rng.randrange(len(prods))]
        surface = c.name
        if c.aliases and rng.random() < ALIAS_SHARE:
            surface = c.aliases[rng.randrange(len(c.aliases))]
        out.append((c, product, surface))
    return out


def fill(text: str, row_id: str, pool_name: str, area: str | None = None) -> str:
    """``text`` with every §9 placeholder filled from ``pool_name``, deterministic in ``row_id``."""
    matches = list(PLACEHOLDER.finditer(text))
    if not matches:
        return text
    companies = pool(pool_name)
    if area == "other":  # no area in particular: any product (else one product takes them all)
        area = None
    n = max(int(m.group(2) or 1) for m in matches)
    rng = _rng(row_id, pool_name)
    picks = _pick(companies, rng, area, min(n, len(companies)))
    out: list[str] = []
    last = 0
    for m in matches:
        before = text[last : m.start()]
        kind, idx = m.group(1), int(m.group(2) or 1)
        company, product, surface = picks[min(idx, len(picks)) - 1]
        value = {
            "brand": surface,
            "product": product.name,
            "generic": product.generic,
            "ticker": company.ticker,
        }[kind.lower()]
        if kind.islower():
            value = value.lower()
        done = "".join(out) + before
        token = re.search(r"#[^\s#]*$", done)
        if token is not None:  # inside a hashtag: no spaces or hyphens
            value = value.replace(" ", "").replace("-", "").replace("/", "")
        elif kind.lower() != "ticker":
            done = _elide(done, value)
        out = [done, value]
        last = m.end()
    return "".join(out) + text[last:]


def training_pool(row_id: str) -> str:
    """The pool a training row is filled from: half fictional, half real, by id hash."""
    h = hashlib.sha256(f"pool:{row_id}".encode()).digest()
    return POOLS[h[0] % 2]
