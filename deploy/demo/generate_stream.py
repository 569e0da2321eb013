#!/usr/bin/env python3
"""Generate the demo replay file: two simulated days of social mentions with one injected crisis.

Why a generator and not a recorded file: real social data cannot be shipped, and a seeded generator
gives the same file on every machine, so tests and the demo can assert on exact figures.
Standard library only, so it runs before the project is installed.

Output (``stream.jsonl``) follows the raw mention input contract, one JSON object per line, sorted by
``created_at``::

    {"id": "x:000123", "platform": "x", "url": "https://x.example/u_5f3a9c/000123",
     "created_at": "2026-11-20T08:15:03Z", "text": "...", "lang": "en",
     "author": {"id": "u_5f3a9c", "handle": null, "followers": 1200, "verified": false,
                "kind": "patient"},
     "engagement": {"likes": 3, "shares": 1, "replies": 0}, "kind": "post", "repost_of": null}

Shape of the two days (2026-11-20T00:00Z to 2026-11-22T00:00Z):

- about ``--per-day`` (3000) mentions a day over the three fictional brands of
  ``pipeline/config/brands.yaml`` (Brenmoor ~50 %, Valmoreau ~30 %, Quillon ~20 %);
- a daily cycle in UTC: quiet 01:00-06:00, peaks late morning and in the evening;
- English ~65 %, French ~35 % (Valmoreau, a French company, is talked about mostly in French);
- ~25 % reposts: exact copies of an earlier text, ``kind="repost"``, ``repost_of`` = original id;
- author followers drawn log-normal; a few verified journalists and HCPs;
- background topics mostly ``other`` with a steady trickle of pricing, adverse events, advocacy,
  scandal and boycott talk;
- ONE crisis (see ``crisis.json``): day 2, 14:00-17:00 UTC, Valmoreau / Neviora, topic pricing
  ("Valmoreau tripled the price of Neviora"). It builds up over ~20 minutes to ~250x the brand's
  normal pricing volume, is amplified by a few high-reach accounts and many reposts, picks up calls
  for a boycott after ~45 minutes, then decays;
- ``--malformed`` (12) deliberately bad lines spread through the file (bad JSON, missing text,
  created_at of the wrong type, unknown platform, empty text) so the demo shows the dead-letter
  queue. They are not counted in the figures above.

The texts are composed from phrase parts written for this generator only, on purpose different
from ``models/data/seed_corpus.jsonl``, so the classifier is scored on wording it never saw.

Usage::

    python3 deploy/demo/generate_stream.py --seed 7 --out deploy/demo/stream.jsonl
"""

from __future__ import annotations

import argparse
import bisect
import hashlib
import json
import math
import random
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

START = datetime(2026, 11, 20, tzinfo=UTC)
DAYS = 2
HERE = Path(__file__).resolve().parent

# --- Catalogue: must match pipeline/config/brands.yaml (kept here so the script needs no YAML). ---


@dataclass(frozen=True)
class Product:
    name: str
    generic: str
    price_eur: int  # typical monthly price in the texts


@dataclass(frozen=True)
class Brand:
    id: str
    name: str
    aliases: tuple[str, ...]
    cashtag: str
    products: tuple[Product, ...]
    share: float  # share of all mentions
    fr_share: float  # share of this brand's mentions written in French


BRANDS: tuple[Brand, ...] = (
    Brand(
        "brenmoor",
        "Brenmoor",
        ("Brenmoor Pharmaceuticals", "Brenmoor Pharma"),
        "BRMR",
        (
            Product("Glytera", "orvaglutide", 240),
            Product("Cardelio", "zentroxaban", 85),
            Product("Respivel", "brimoterol", 45),
        ),
        0.50,
        0.25,
    ),
    Brand(
        "valmoreau",
        "Valmoreau",
        ("Laboratoires Valmoreau", "Valmoreau Santé"),
        "VLMR",
        (
            Product("Neviora", "dalsotriptan", 60),
            Product("Osteliq", "kavelumab", 180),
            Product("Somnessa", "pravorexant", 40),
        ),
        0.30,
        0.55,
    ),
    Brand(
        "quillon",
        "Quillon",
        ("Quillon Therapeutics",),
        "QLLN",
        (Product("Epidra", "zelokimab", 950), Product("Artivane", "morecitinib", 700)),
        0.20,
        0.30,
    ),
)
BRAND_BY_ID = {b.id: b for b in BRANDS}
_ELISION = re.compile(r"\b(du|le|au|Le|Du|Au) (#?[AEIOUaeiouÉé])")
_ELIDED = {"du": "de l'", "le": "l'", "au": "à l'"}
_NAMES = frozenset(
    [w for b in BRANDS for n in (b.name, b.cashtag, *b.aliases) for w in n.split()]
    + [w for b in BRANDS for p in b.products for w in (p.name, p.generic, p.name.lower())]
)

CRISIS_BRAND = "valmoreau"
CRISIS_PRODUCT = "Neviora"
CRISIS_TOPIC = "pricing"
CRISIS_START = START + timedelta(days=1, hours=14)
CRISIS_RAMP = timedelta(minutes=20)
CRISIS_PLATEAU = timedelta(minutes=25)
CRISIS_END = START + timedelta(days=1, hours=17)
BOYCOTT_FROM = CRISIS_START + timedelta(minutes=45)

# Relative volume per UTC hour: quiet 01-06, late-morning and evening peaks.
HOURLY = (
    0.55,
    0.30,
    0.18,
    0.14,
    0.14,
    0.20,
    0.40,
    0.75,
    1.15,
    1.45,
    1.65,
    1.70,
    1.50,
    1.30,
    1.25,
    1.25,
    1.30,
    1.40,
    1.55,
    1.70,
    1.75,
    1.55,
    1.15,
    0.80,
)
BACKGROUND_TOPICS = (
    ("other", 0.84),
    ("pricing", 0.05),
    ("adverse_event", 0.05),
    ("advocacy", 0.03),
    ("scandal", 0.015),
    ("boycott", 0.015),
)
PLATFORMS = (
    ("x", 0.34),
    ("facebook", 0.13),
    ("instagram", 0.08),
    ("linkedin", 0.06),
    ("tiktok", 0.06),
    ("youtube", 0.04),
    ("reddit", 0.12),
    ("forum", 0.10),
    ("news", 0.07),
)
AUTHOR_KINDS = (
    ("unknown", 0.50),
    ("patient", 0.27),
    ("influencer", 0.08),
    ("hcp", 0.07),
    ("journalist", 0.04),
    ("ngo", 0.04),
)
REPOST_SHARE = 0.25

# --- Phrase parts. {p}: a product reference, {g}: generic name, {b}: a brand reference,
# {price}/{old}/{new}: amounts, {n}: a small number. Written for the stream only. ---

PHRASES: dict[str, dict[str, tuple[str, ...]]] = {
    "en": {
        "other": (
            "{p} refill sorted, the pharmacy queue was out the door this morning",
            "Who's heading to the {city} congress? {b} has a big booth again apparently",
            "{b} quarterly numbers land next Tuesday, street expects {p} to carry the quarter",
            "Week {n} on {p}. Slowly getting the routine down, alarms on my phone help",
            "Can {p} be split or crushed? The box says nothing about it",
            "Cool explainer on how {g} works, the diagrams finally made it click",
            "{b} opened {n} new roles in {city}, mostly manufacturing and QA",
            "Does the {p} patient card work abroad? Travelling next month",
            "Podcast episode with a {b} scientist on the {p} programme, pretty nerdy, loved it",
            "Ran into a {b} rep at the hospital café, surprisingly chill conversation",
            "{p} delivery came two days early for once. Small joys",
            "Anyone compared {p} with the older option? Curious what your specialist said",
            "{b} announces a partnership with a university lab in {city}",
            "Studying {g} for my pharmacology resit, wish me luck",
            "The {p} leaflet has been redesigned, much easier to read now",
            "Volunteering at the {city} run, {b} is handing out water at km {n}",
            "My GP mentioned {p} today, going to read up before deciding anything",
            "{b} investor day recap: three launches planned, {p} lifecycle plans, no surprises",
            "New {p} pen design is a bit chunkier, takes getting used to",
            "Lunch-and-learn on {g} at our clinic today, decent sandwiches",
        ),
        "pricing": (
            "{p} now costs me {price} a month out of pocket, plan stopped covering it",
            "Coverage letter says {p} moves to a higher tier next year. More money, same drug",
            "Paid {price} for {p} today, last time it was a lot less",
            "Anyone found {p} cheaper anywhere? {price} is a stretch on a pension",
            "{b} trims the {p} list price in two markets after payer pushback",
            "Why does {p} cost {price} here and a fraction of that across the border",
        ),
        "adverse_event": (
            "{n} days into {p} and the stomach cramps have not let up",
            "Headaches every afternoon since starting {p}. Doctor appointment Thursday",
            "{p} is doing its job but the rash on my neck is new and itchy",
            "Heads up: {p} left me lightheaded all weekend, had to sit down in the shower",
            "Swollen ankles after the {p} dose increase, logging it for my specialist",
            "Fine on {p} mostly, odd ringing in my ears though. Anyway, back to work",
            "Regulator update lists new reports of liver enzyme rises with {g}",
        ),
        "advocacy": (
            "Our patient network is hosting a free info night on access to {p} in {city}",
            "Sign-up open for the {city} awareness walk, {n} patient groups taking part",
            "Patient coalition asks for {p} to be available in every regional hospital",
            "We delivered our access report to lawmakers today, {p} waiting times in focus",
            "Volunteers needed to staff the helpline for people starting {p}",
        ),
        "scandal": (
            "Court filing alleges {b} paid consultants to bury a negative {p} analysis",
            "Internal audit at {b} reportedly found off-label promotion of {p}",
            "{b} executive placed on leave as ethics probe widens",
            "Whistleblower complaint against {b} now public, {p} sales practices at the centre",
        ),
        "boycott": (
            "I'm asking my clinic to drop {b} products altogether",
            "Our group will stop accepting {b} sponsorship, effective now",
            "Switch away from {p} if you can, don't reward {b}",
            "Pharmacists in our network agreed to steer patients off {p}",
        ),
        "crisis": (
            "{b} just tripled the price of {p}. Overnight. No explanation",
            "Wait. {p} went from {old} to {new}?? {b}, what is this",
            "Pharmacy just charged me {new} for {p}. It was {old} last month. Three times more",
            "{b} triples {p} price, patients scramble for refills",
            "Three times the price for the same {p} box. {b} should be ashamed",
            "So {b} decided migraine patients are an ATM. {p} price x3",
            "My neurologist is furious: {p} tripled in price and there is no equivalent alternative",
            "Price of {p} tripled by {b} today. How is this legal",
            "Rationing {p} starting today because {b} tripled the price",
            "Just read that {b} tripled the {p} price. Unreal",
        ),
        "crisis_boycott": (
            "Stop buying from {b}. They tripled {p} and they'll do it again #Boycott{B}",
            "Doctors, stop prescribing {p} until {b} reverses the price hike #Boycott{B}",
            "#Boycott{B} - drop every {b} product you can replace",
            "Our clinic will not prescribe {p} while {b} keeps this tripled price",
        ),
        "openers": (
            "",
            "",
            "",
            "Ugh. ",
            "PSA: ",
            "Honestly, ",
            "Update: ",
            "Hmm, ",
            "So ",
            "ok so ",
            "Reminder: ",
        ),
        "closers": (
            "",
            "",
            "",
            " 🙄",
            " 😡",
            " 🤷",
            " lol",
            " #pharma",
            " #health",
            " (thread)",
            " 🧵",
            " 😬",
        ),
        "cities": ("Boston", "Chicago", "Manchester", "Toronto", "Dublin", "Denver", "Leeds"),
    },
    "fr": {
        "other": (
            "Renouvellement de {p} récupéré, la file à la pharmacie débordait sur le trottoir",
            "Qui va au congrès de {city} ? {b} a encore un stand immense paraît-il",
            "Publication des comptes de {b} mardi, le marché compte sur {p}",
            "Semaine {n} avec le {p}. Je prends le rythme, les alarmes sur le téléphone aident",
            "On peut couper ou écraser le {p} ? Rien sur la boîte",
            "Super vidéo qui explique le {g}, les schémas m'ont enfin éclairé",
            "{b} ouvre {n} postes à {city}, surtout en production et qualité",
            "La carte patient {p} marche à l'étranger ? Je pars le mois prochain",
            "Épisode de podcast avec une chercheuse de {b} sur le {p}, très technique, j'ai adoré",
            "Croisé un délégué {b} à la cafétéria de l'hôpital, discussion étonnamment sympa",
            "Livraison du {p} arrivée deux jours en avance pour une fois. Petits bonheurs",
            "Quelqu'un a comparé le {p} avec l'ancien traitement ? Votre spécialiste en dit quoi",
            "{b} annonce un partenariat avec un laboratoire universitaire de {city}",
            "Je révise le {g} pour mon rattrapage de pharmaco, croisez les doigts",
            "La notice du {p} a été refaite, beaucoup plus lisible",
            "Bénévole au semi-marathon de {city}, {b} tient le ravitaillement du km {n}",
            "Ma généraliste m'a parlé du {p} aujourd'hui, je me renseigne avant de décider",
            "Résumé de la journée investisseurs {b} : trois lancements, le {p}, pas de surprise",
            "Le nouveau stylo {p} est plus épais, faut s'y habituer",
            "Déjeuner-formation sur le {g} au cabinet, sandwichs corrects",
        ),
        "pricing": (
            "Le {p} me coûte {price} par mois de ma poche, la mutuelle ne suit plus",
            "Courrier de la complémentaire : le {p} sera moins bien pris en charge l'an prochain",
            "Payé {price} pour le {p} aujourd'hui, c'était bien moins la dernière fois",
            "Quelqu'un a trouvé le {p} moins cher ? {price} avec une petite retraite c'est dur",
            "{b} revoit à la baisse le tarif du {p} dans deux pays après négociation",
            "Pourquoi le {p} coûte {price} ici et trois fois moins de l'autre côté de la frontière",
        ),
        "adverse_event": (
            "{n} jours de {p} et les crampes d'estomac ne passent pas",
            "Mal de tête tous les après-midis depuis le {p}. Rdv jeudi",
            "Le {p} fait effet mais j'ai des plaques rouges qui grattent dans le cou",
            "Attention : le {p} m'a donné des étourdissements tout le week-end",
            "Chevilles gonflées depuis l'augmentation de dose du {p}, je note pour le médecin",
            "Ça va avec le {p}, à part des acouphènes bizarres. Bref, au boulot",
            "L'agence signale de nouveaux cas d'élévation des enzymes du foie sous {g}",
        ),
        "advocacy": (
            "Notre réseau de patients organise à {city} une soirée gratuite pour aider à obtenir le {p}",
            "Inscriptions ouvertes pour la marche de sensibilisation de {city}, {n} assos participent",
            "Un collectif de patients demande que le {p} soit disponible dans tous les hôpitaux",
            "Rapport sur l'accès remis aux parlementaires aujourd'hui, délais pour le {p} en tête",
            "On cherche des bénévoles pour la ligne d'écoute des patients qui débutent le {p}",
        ),
        "scandal": (
            "Selon une plainte, {b} aurait payé des consultants pour enterrer une analyse défavorable au {p}",
            "Un audit interne chez {b} aurait relevé une promotion hors AMM du {p}",
            "Mise en retrait d'un cadre dirigeant chez {b}, l'enquête éthique s'élargit",
            "Le signalement du lanceur d'alerte contre {b} est public, "
            "les pratiques de vente du {p} en cause",
        ),
        "boycott": (
            "Je demande à ma clinique de lâcher tous les produits {b}",
            "Notre asso refuse désormais tout financement de {b}",
            "Changez de traitement si vous pouvez, ne récompensez pas {b}",
            "Dans notre réseau, les pharmaciens proposent désormais une alternative au {p}",
        ),
        "crisis": (
            "{b} vient de tripler le prix du {p}. Du jour au lendemain. Sans explication",
            "Attendez. Le {p} est passé de {old} à {new} ?? {b} c'est quoi ça",
            "La pharmacie m'a fait payer {new} le {p}. Le mois dernier c'était {old}. Trois fois plus",
            "{b} triple le prix du {p}, les patients migraineux inquiets",
            "Trois fois le prix pour la même boîte de {p}. {b} devrait avoir honte",
            "Donc {b} a décidé que les migraineux étaient des distributeurs de billets. {p} x3",
            "Ma neurologue est furieuse : le {p} a triplé et il n'y a pas d'équivalent",
            "Prix du {p} triplé par {b}. Comment c'est légal",
            "Je rationne mon {p} à partir d'aujourd'hui, {b} a triplé le prix",
            "Je viens de lire que {b} a triplé le prix du {p}. Hallucinant",
        ),
        "crisis_boycott": (
            "N'achetez plus rien chez {b}. Ils ont triplé le {p} et recommenceront #Boycott{B}",
            "Appel aux médecins : plus d'ordonnance de {p} tant que {b} maintient la hausse #Boycott{B}",
            "#Boycott{B} : remplacez tous les produits {b} que vous pouvez",
            "Notre cabinet ne prescrira plus le {p} tant que ce prix triplé reste en place",
        ),
        "openers": (
            "",
            "",
            "",
            "Bon. ",
            "Info : ",
            "Franchement, ",
            "Mise à jour : ",
            "Euh, ",
            "Alors ",
            "bref ",
            "Rappel : ",
        ),
        "closers": (
            "",
            "",
            "",
            " 🙄",
            " 😡",
            " 🤷",
            " mdr",
            " #santé",
            " #pharma",
            " (fil)",
            " 🧵",
            " 😬",
        ),
        "cities": ("Lyon", "Bordeaux", "Lille", "Nantes", "Marseille", "Genève", "Bruxelles"),
    },
}


@dataclass
class Author:
    id: str
    followers: int
    verified: bool
    kind: str

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "handle": None,
            "followers": self.followers,
            "verified": self.verified,
            "kind": self.kind,
        }


@dataclass
class Event:
    """One mention before ids are assigned (ids follow the final time order)."""

    at: datetime
    seq: int
    brand: str
    lang: str
    topic: str
    text: str
    platform: str
    author: Author
    kind: str
    crisis: bool = False
    original: Event | None = None
    engagement: dict[str, int] = field(default_factory=dict)


def _pick(rng: random.Random, weighted: tuple[tuple[str, float], ...]) -> str:
    x = rng.random() * sum(w for _, w in weighted)
    for value, w in weighted:
        x -= w
        if x <= 0:
            return value
    return weighted[-1][0]


def _poisson(rng: random.Random, lam: float) -> int:
    """Knuth's method; lam stays small (per-minute rates) so this is exact and fast."""
    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


class Generator:
    def __init__(self, seed: int, per_day: int, crisis_multiplier: float) -> None:
        self.rng = random.Random(seed)
        self.seed = seed
        self.per_day = per_day
        self.crisis_multiplier = crisis_multiplier
        self.events: list[Event] = []
        self.seq = 0
        self.authors = [self._author(i) for i in range(12000)]
        # Zipf-like reuse: a few authors post a lot, most post once or twice.
        cum, total = [], 0.0
        for i in range(len(self.authors)):
            total += 1.0 / (i + 10) ** 0.9
            cum.append(total)
        self._author_cum = cum
        self.amplifiers = [
            Author(self._author_id("amp-journalist"), 480_000, True, "journalist"),
            Author(self._author_id("amp-influencer"), 1_250_000, True, "influencer"),
            Author(self._author_id("amp-hcp"), 96_000, True, "hcp"),
        ]

    # -- authors -----------------------------------------------------------------------------
    def _author_id(self, key: str) -> str:
        return "u_" + hashlib.sha256(f"{self.seed}:{key}".encode()).hexdigest()[:6]

    def _author(self, i: int) -> Author:
        kind = _pick(self.rng, AUTHOR_KINDS)
        mu = {"journalist": 8.0, "influencer": 9.0, "hcp": 6.5, "ngo": 7.0}.get(kind, 5.0)
        followers = int(self.rng.lognormvariate(mu, 1.6))
        verified = followers > 20_000 and self.rng.random() < (
            {"journalist": 0.6, "hcp": 0.5, "ngo": 0.4, "influencer": 0.15}.get(kind, 0.0)
        )
        return Author(self._author_id(str(i)), followers, verified, kind)

    def _any_author(self) -> Author:
        x = self.rng.random() * self._author_cum[-1]
        return self.authors[bisect.bisect_left(self._author_cum, x)]

    # -- texts --------------------------------------------------------------------------------
    def _product_ref(self, product: Product) -> str:
        r = self.rng.random()
        if r < 0.72:
            return product.name
        if r < 0.84:
            return product.generic
        if r < 0.94:
            return "#" + product.name
        return product.name.lower()

    def _brand_ref(self, brand: Brand) -> str:
        r = self.rng.random()
        if r < 0.62:
            return brand.name
        if r < 0.78:
            return self.rng.choice(brand.aliases)
        if r < 0.90:
            return "#" + brand.name
        return "$" + brand.cashtag

    def _compose(
        self, lang: str, topic: str, brand: Brand, product: Product, headline: bool = False
    ) -> str:
        parts = PHRASES[lang]
        core = self.rng.choice(parts[topic])
        money = (
            "€{}"
            if lang == "en" and brand.id == "valmoreau"
            else ("{} €" if lang == "fr" else "${}")
        )
        old = product.price_eur
        text = core.format(
            p=self._product_ref(product)
            if topic not in ("crisis", "crisis_boycott")
            else product.name,
            g=product.generic,
            b=self._brand_ref(brand)
            if topic not in ("crisis", "crisis_boycott")
            else (brand.name if self.rng.random() < 0.8 else self.rng.choice(brand.aliases)),
            B=brand.name,
            n=self.rng.randint(2, 14),
            price=money.format(int(old * self.rng.uniform(0.9, 1.6))),
            old=money.format(old),
            new=money.format(old * 3),
            city=self.rng.choice(parts["cities"]),
        )
        if lang == "fr":  # elision before a vowel: "du Osteliq" -> "de l'Osteliq"
            text = _ELISION.sub(lambda m: _ELIDED[m.group(1).lower()] + m.group(2), text)
        if headline:  # news items carry no chatty opener or emoji
            return text[0].upper() + text[1:]
        opener = self.rng.choice(parts["openers"])
        first = text.split(" ", 1)[0].strip("#$.,:!?")
        if opener and first not in _NAMES and first not in ("I", "I'm", "J'ai"):
            text = text[0].lower() + text[1:]
        return opener + text + self.rng.choice(parts["closers"])

    # -- events -------------------------------------------------------------------------------
    def _engagement(self, author: Author, boost: float = 1.0) -> dict[str, int]:
        base = max(0.2, math.log10(author.followers + 10) ** 2 / 3) * boost
        return {
            "likes": _poisson(self.rng, min(base * 2, 400)),
            "shares": _poisson(self.rng, min(base / 2, 150)),
            "replies": _poisson(self.rng, min(base / 3, 100)),
        }

    def _emit(
        self,
        at: datetime,
        brand: Brand,
        topic: str,
        *,
        crisis: bool = False,
        author: Author | None = None,
        lang: str | None = None,
    ) -> Event:
        if lang is None:
            lang = "fr" if self.rng.random() < brand.fr_share else "en"
        product = (
            next(p for p in brand.products if p.name == CRISIS_PRODUCT)
            if crisis
            else self.rng.choice(brand.products)
        )
        author = author or self._any_author()
        platform = (
            "news"
            if author.kind == "journalist" and self.rng.random() < 0.5
            else (_pick(self.rng, PLATFORMS))
        )
        kind = (
            "post"
            if platform == "news"
            else _pick(self.rng, (("post", 0.76), ("reply", 0.18), ("quote", 0.06)))
        )
        self.seq += 1
        text = self._compose(lang, topic, brand, product, headline=platform == "news")
        ev = Event(at, self.seq, brand.id, lang, topic, text, platform, author, kind, crisis)
        ev.engagement = self._engagement(author, 4.0 if crisis else 1.0)
        self.events.append(ev)
        return ev

    def _repost(self, original: Event, at: datetime) -> Event:
        self.seq += 1
        author = self._any_author()
        platform = original.platform if original.platform != "news" else "x"
        ev = Event(
            at,
            self.seq,
            original.brand,
            original.lang,
            original.topic,
            original.text,
            platform,
            author,
            "repost",
            original.crisis,
            original,
            {"likes": _poisson(self.rng, 0.8), "shares": _poisson(self.rng, 0.2), "replies": 0},
        )
        self.events.append(ev)
        return ev

    def _schedule_reposts(
        self, original: Event, mean: float, delay_minutes: float, until: datetime
    ) -> None:
        for _ in range(_poisson(self.rng, mean)):
            delay = timedelta(seconds=1 + self.rng.expovariate(1 / (delay_minutes * 60)))
            if original.at + delay < until:
                self._repost(original, original.at + delay)

    def crisis_factor(self, at: datetime) -> float:
        """Multiplier on the crisis brand's normal pricing rate (1.0 outside the crisis)."""
        if not CRISIS_START <= at < CRISIS_END:
            return 1.0
        peak = self.crisis_multiplier
        t = (at - CRISIS_START).total_seconds()
        ramp, plateau = CRISIS_RAMP.total_seconds(), CRISIS_PLATEAU.total_seconds()
        if t < ramp:  # exponential build-up from 1x to the peak
            return float(peak ** (t / ramp))
        if t < ramp + plateau:
            return peak
        half_life = 35 * 60.0
        return 1.0 + (peak - 1.0) * float(0.5 ** ((t - ramp - plateau) / half_life))

    def run(self) -> None:
        end = START + timedelta(days=DAYS)
        hourly_total = sum(HOURLY)
        originals_per_day = self.per_day * (1 - REPOST_SHARE)
        # mean reposts per original that give REPOST_SHARE overall (some fall past the end)
        repost_mean = REPOST_SHARE / (1 - REPOST_SHARE) * 1.03
        crisis_brand = BRAND_BY_ID[CRISIS_BRAND]
        crisis_originals: list[Event] = []
        # High-reach accounts pick the story up early in the build-up.
        for offset, amp, lang in (
            (9, self.amplifiers[0], "en"),
            (16, self.amplifiers[1], "fr"),
            (31, self.amplifiers[2], "en"),
        ):
            at = CRISIS_START + timedelta(minutes=offset, seconds=17)
            ev = self._emit(at, crisis_brand, "crisis", crisis=True, author=amp, lang=lang)
            ev.engagement = {
                "likes": 2000 + offset * 90,
                "shares": 600 + offset * 20,
                "replies": 300 + offset * 5,
            }
            crisis_originals.append(ev)
            self._schedule_reposts(ev, 12, 12, CRISIS_END)
        minute = START
        while minute < end:
            rate = originals_per_day * HOURLY[minute.hour] / hourly_total / 60
            for brand in BRANDS:
                for _ in range(_poisson(self.rng, rate * brand.share)):
                    at = minute + timedelta(seconds=self.rng.randrange(60))
                    ev = self._emit(at, brand, _pick(self.rng, BACKGROUND_TOPICS))
                    self._schedule_reposts(ev, repost_mean, 45, end)
            factor = self.crisis_factor(minute)
            if factor > 1.0:
                # Total extra pricing volume (originals + reposts) the crisis adds this minute.
                pricing_share = dict(BACKGROUND_TOPICS)["pricing"]
                base = self.per_day * HOURLY[minute.hour] / hourly_total / 60
                extra = base * crisis_brand.share * pricing_share * (factor - 1.0)
                for _ in range(_poisson(self.rng, extra)):
                    at = minute + timedelta(seconds=self.rng.randrange(60))
                    if crisis_originals and self.rng.random() < 0.5:
                        # amplified posts get most reposts
                        weights = [1 + 10 * (o.author in self.amplifiers) for o in crisis_originals]
                        src = self.rng.choices(crisis_originals, weights)[0]
                        if src.at < at:
                            self._repost(src, at)
                            continue
                    topic = "crisis"
                    if at >= BOYCOTT_FROM and self.rng.random() < min(
                        0.5, (at - BOYCOTT_FROM).total_seconds() / 1800
                    ):
                        topic = "crisis_boycott"
                    lang = "fr" if self.rng.random() < 0.5 else "en"
                    crisis_originals.append(
                        self._emit(at, crisis_brand, topic, crisis=True, lang=lang)
                    )
            minute += timedelta(minutes=1)


def _iso(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


def _to_json(ev: Event, ids: dict[int, str]) -> dict[str, Any]:
    mid = ids[ev.seq]
    return {
        "id": mid,
        "platform": ev.platform,
        "url": f"https://{ev.platform}.example/{ev.author.id}/{mid.split(':')[1]}",
        "created_at": _iso(ev.at),
        "text": ev.text,
        "lang": ev.lang,
        "author": ev.author.as_json(),
        "engagement": ev.engagement,
        "kind": ev.kind,
        "repost_of": ids[ev.original.seq] if ev.original else None,
    }


def _malformed(i: int, neighbour: dict[str, Any]) -> str:
    """Five kinds of bad input, cycled, each built from a real neighbouring line."""
    kind = i % 5
    bad = dict(neighbour, id=f"bad:{i:03d}", repost_of=None, kind="post")
    if kind == 0:
        return json.dumps(bad, ensure_ascii=False)[: 40 + 7 * i]  # truncated JSON
    if kind == 1:
        del bad["text"]
    elif kind == 2:
        bad["created_at"] = 1795000000 + i  # epoch number instead of an ISO string
    elif kind == 3:
        bad["platform"] = "myspace"
    else:
        bad["text"] = "   "
    return json.dumps(bad, ensure_ascii=False)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seed", type=int, default=20261120)
    ap.add_argument("--per-day", type=int, default=3000, help="baseline mentions per day")
    ap.add_argument(
        "--crisis-multiplier",
        type=float,
        default=250.0,
        help="peak crisis pricing volume as a multiple of the brand's normal",
    )
    ap.add_argument("--malformed", type=int, default=12, help="bad lines to insert")
    ap.add_argument("--out", type=Path, default=HERE / "stream.jsonl")
    ap.add_argument("--crisis-out", type=Path, default=HERE / "crisis.json")
    args = ap.parse_args(argv)

    gen = Generator(args.seed, args.per_day, args.crisis_multiplier)
    gen.run()
    events = sorted(gen.events, key=lambda e: (e.at, e.seq))
    ids = {ev.seq: f"{ev.platform}:{n:06d}" for n, ev in enumerate(events, 1)}
    rows = [_to_json(ev, ids) for ev in events]

    lines = [json.dumps(r, ensure_ascii=False) for r in rows]
    step = len(lines) // (args.malformed + 1) if args.malformed else 0
    for i in range(args.malformed, 0, -1):  # from the end so earlier positions stay valid
        pos = i * step
        lines.insert(pos, _malformed(i, rows[pos - 1]))
    args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")

    crisis = [ev for ev in events if ev.crisis]
    peak_at = CRISIS_START + CRISIS_RAMP
    # The brand's pricing volume (background + crisis) per 5-minute bucket, against what the
    # generator expects normally at that hour: the ratio the detector should see.
    buckets = Counter(
        ev.at.replace(minute=ev.at.minute // 5 * 5, second=0)
        for ev in events
        if ev.brand == CRISIS_BRAND and (ev.crisis or ev.topic == CRISIS_TOPIC)
    )
    peak_bucket, peak_count = max(
        ((k, v) for k, v in buckets.items() if CRISIS_START <= k < CRISIS_END),
        key=lambda kv: (kv[1], -kv[0].timestamp()),
    )
    normal_per_5min = (
        args.per_day
        * HOURLY[peak_bucket.hour]
        / sum(HOURLY)
        / 12
        * BRAND_BY_ID[CRISIS_BRAND].share
        * dict(BACKGROUND_TOPICS)[CRISIS_TOPIC]
    )
    summary = {
        "brand": CRISIS_BRAND,
        "product": CRISIS_PRODUCT,
        "topic": CRISIS_TOPIC,
        "secondary_topic": "boycott",
        "start": _iso(CRISIS_START),
        "peak": _iso(peak_at),
        "peak_until": _iso(peak_at + CRISIS_PLATEAU),
        "end": _iso(CRISIS_END),
        "boycott_calls_from": _iso(BOYCOTT_FROM),
        "multiplier": args.crisis_multiplier,
        "normal_per_5min": round(normal_per_5min, 3),
        "peak_bucket": _iso(peak_bucket),
        "peak_bucket_count": peak_count,
        "mentions": len(crisis),
        "reposts": sum(ev.kind == "repost" for ev in crisis),
        "boycott_mentions": sum(ev.topic == "crisis_boycott" for ev in crisis),
        "by_lang": dict(sorted(Counter(ev.lang for ev in crisis).items())),
        "high_reach_authors": [a.id for a in gen.amplifiers],
        "seed": args.seed,
        "mention_ids": [ids[ev.seq] for ev in crisis],
    }
    args.crisis_out.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")

    print(f"wrote {len(lines)} lines to {args.out} ({args.out.stat().st_size / 1e6:.2f} MB)")
    print("per day:", dict(sorted(Counter(r["created_at"][:10] for r in rows).items())))
    print("per brand:", dict(Counter(ev.brand for ev in events).most_common()))
    print("per lang:", dict(Counter(r["lang"] for r in rows).most_common()))
    print("per kind:", dict(Counter(r["kind"] for r in rows).most_common()))
    print(
        "background topics:",
        dict(Counter(ev.topic for ev in events if not ev.crisis).most_common()),
    )
    print(
        f"crisis: {summary['brand']}/{summary['topic']} {summary['start']}..{summary['end']}"
        f" mentions={summary['mentions']} reposts={summary['reposts']}"
        f" boycott={summary['boycott_mentions']} peak 5-min bucket {peak_count}"
        f" at {summary['peak_bucket']} vs normal {normal_per_5min:.2f}"
    )
    print(f"malformed lines: {args.malformed}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
