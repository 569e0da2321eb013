"""Writes ``triage_labelled.jsonl``: the labelled set for ``bench/pv_triage_eval.py``.

The mentions are composed from hand-written EN and FR sentence frames, product names, reaction
phrases (written as people write them, not copied from the reaction lexicon) and outcome clauses;
every label follows from how the mention was built (a frame that names no patient gives
``patient: false``, an outcome clause gives its seriousness category, a reaction marked
``ime`` gives ``other_medically_important``). Nothing here comes from the classifier's training
corpus. Each row gets ``split`` = ``dev`` or ``test`` from a fixed seed, drawn once when the set
was written and before any rule was tuned: tune on ``dev`` only.

Run from the repository root: ``python tests/data/pv/make_triage_labelled.py``.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

from handwritten import HANDWRITTEN  # type: ignore[import-not-found]

OUT = Path(__file__).with_name("triage_labelled.jsonl")
SPLIT_SEED = 20
PRODUCTS = [
    "Glytera",
    "Cardelio",
    "Respivel",
    "Neviora",
    "Osteliq",
    "Somnessa",
    "Epidra",
    "Artivane",
    "orvaglutide",
    "zentroxaban",
    "dalsotriptan",
    "morecitinib",
    "metformin",
    "sertraline",
    "ibuprofen",
    "atorvastatin",
    "levothyroxine",
    "amoxicillin",
    "apixaban",
    "isotretinoin",
]
# (phrase, ime): EN reactions as noun phrases that follow "I got" / "has had"
R_EN = [
    ("terrible nausea", False),
    ("constant headaches", False),
    ("awful diarrhoea", False),
    ("dizzy spells", False),
    ("an itchy rash all over", False),
    ("hair loss", False),
    ("insomnia", False),
    ("heart palpitations", False),
    ("swollen ankles", False),
    ("brain fog", False),
    ("massive weight gain", False),
    ("horrible heartburn", False),
    ("blurry vision", False),
    ("muscle cramps", False),
    ("joint pain", False),
    ("vivid nightmares", False),
    ("a metallic taste in the mouth", False),
    ("ringing in the ears", False),
    ("pins and needles in the hands", False),
    ("a nasty dry cough", False),
    ("nosebleeds", False),
    ("mood swings", False),
    ("exhaustion", False),
    ("stomach cramps", False),
    ("bloating", False),
    ("a really dry mouth", False),
    ("acne breakouts", False),
    ("night sweats", False),
    ("shaky hands", False),
    ("vomiting", False),
    ("hives", False),
    ("constipation", False),
    ("pancreatitis", True),
    ("a seizure", True),
    ("a blood clot in the lung", True),
    ("liver failure", True),
    ("anaphylaxis", True),
    ("a stroke", True),
    ("suicidal thoughts", True),
    ("a heart attack", True),
    ("kidney failure", True),
    ("Stevens-Johnson syndrome", True),
    ("a GI bleed", True),
    ("severe low platelets", True),
]
R_FR = [
    ("des nausées terribles", False),
    ("des maux de tête constants", False),
    ("une diarrhée horrible", False),
    ("des vertiges", False),
    ("une éruption cutanée", False),
    ("des démangeaisons partout", False),
    ("une grosse perte de cheveux", False),
    ("des insomnies", False),
    ("des palpitations", False),
    ("les chevilles gonflées", False),
    ("une fatigue écrasante", False),
    ("une prise de poids énorme", False),
    ("des crampes dans les jambes", False),
    ("des douleurs articulaires", False),
    ("des cauchemars", False),
    ("un goût métallique dans la bouche", False),
    ("des acouphènes", False),
    ("des fourmillements dans les mains", False),
    ("une toux sèche", False),
    ("des saignements de nez", False),
    ("des sautes d'humeur", False),
    ("la bouche sèche", False),
    ("des brûlures d'estomac", False),
    ("la vue floue", False),
    ("des bouffées de chaleur", False),
    ("des vomissements", False),
    ("de l'urticaire", False),
    ("mal au ventre", False),
    ("une pancréatite", True),
    ("une crise convulsive", True),
    ("une embolie pulmonaire", True),
    ("une hépatite", True),
    ("un choc anaphylactique", True),
    ("un AVC", True),
    ("des idées suicidaires", True),
    ("un infarctus", True),
    ("une insuffisance rénale", True),
    ("un syndrome de Lyell", True),
    ("une hémorragie digestive", True),
    ("une thrombopénie sévère", True),
]
REL_EN = [
    "mother",
    "mum",
    "dad",
    "son",
    "daughter",
    "wife",
    "husband",
    "sister",
    "brother",
    "grandmother",
    "best friend",
    "uncle",
    "aunt",
    "partner",
    "grandpa",
]
REL_FR = [
    ("mère", "f"),
    ("fille", "f"),
    ("femme", "f"),
    ("soeur", "f"),
    ("grand-mère", "f"),
    ("copine", "f"),
    ("tante", "f"),
    ("père", "m"),
    ("fils", "m"),
    ("mari", "m"),
    ("frère", "m"),
    ("grand-père", "m"),
    ("copain", "m"),
    ("oncle", "m"),
]
SELF_EN = [
    "Been on {P} for 3 weeks and I've had {R} pretty much every day.",
    "{P} gave me {R}. Not fun.",
    "Started {P} last month, now I have {R}. Anyone else?",
    "Week 2 of {P} and I'm dealing with {R}, ugh",
    "I took my first dose of {P} and got {R} within hours",
    "Honestly {P} works for me but the {R} is brutal",
    "Since switching to {P} I get {R} all the time",
    "My doctor put me on {P} and I developed {R}",
    "Day 5 on {P}. {R} again today. I'm so done with this",
    "Stopped {P} yesterday because of {R}, I couldn't take it anymore",
]
THIRD_EN = [
    "My {REL} started {P} and developed {R}.",
    "My {REL} ({AGE} yo) has had {R} since starting {P}",
    "Worried about my {REL}: {R} after the {P} dose last week",
    "My {REL} is on {P} and got {R} two days in",
]
SELF_FR = [
    "Depuis que je prends {P}, j'ai {R}.",
    "{P} m'a donné {R}, c'est horrible",
    "J'ai commencé {P} le mois dernier et j'ai {R}",
    "Troisième semaine sous {P} et j'ai toujours {R}",
    "Mon médecin m'a mis sous {P} et depuis j'ai {R}",
    "J'ai arrêté {P} à cause de {R}, impossible de continuer",
    "Deuxième prise de {P} et encore {R} pour moi, j'en peux plus",
    "Je suis sous {P} depuis mars et j'ai {R} tous les jours",
]
THIRD_FR = [
    "{MA} {REL} a {R} depuis qu'{PRON} prend {P}",
    "{MA} {REL} de {AGE} ans a eu {R} sous {P}",
    "{MA} {REL} est sous {P} et a fait {R} au bout de deux jours",
    "Inquiète pour {MA_L} {REL} : {R} après l'injection de {P}",
]
OUT_EN = [
    ("Ended up hospitalised for 4 days.", "hospitalisation"),
    ("Spent two nights in intensive care.", "hospitalisation"),
    ("Was admitted to hospital on Friday.", "hospitalisation"),
    ("The doctors said it was life-threatening.", "life_threatening"),
    ("Nearly died, honestly.", "life_threatening"),
    ("Left permanently disabled, can't work anymore.", "disability"),
]
OUT_FR = [
    ("Hospitalisation de 4 jours.", "hospitalisation"),
    ("Deux nuits en réanimation.", "hospitalisation"),
    ("Hospitalisé en urgence vendredi.", "hospitalisation"),
    ("Pronostic vital engagé selon les médecins.", "life_threatening"),
    ("On a failli y passer.", "life_threatening"),
    ("Des séquelles à vie, handicap reconnu.", "disability"),
]
DEATH_EN = "My {REL} was on {P}, got {R} and died three days later."
DEATH_FR = "{MA} {REL} prenait {P}, a fait {R} et est {DEC} une semaine après."
CONGENITAL = [
    ("en", "I took {P} while pregnant and my baby was born with a heart defect."),
    (
        "fr",
        "J'ai pris {P} pendant ma grossesse et mon bébé est né avec une malformation cardiaque.",
    ),
]
NO_PATIENT_EN = [
    "So many people on {P} complain about {R}, wild",
    "Lots of patients on {P} are reporting {R} lately",
    "Pharmacist here: users of {P} keep coming in with {R}",
]
NO_PATIENT_FR = [
    "Beaucoup de gens sous {P} se plaignent de {R}",
    "Des patients sous {P} signalent {R} en ce moment",
    "Sur les forums, plein de monde sous {P} parle de {R}",
]
NO_REPORTER_EN = [
    "A {AGE}-year-old woman on {P} developed {R}, case report says.",
    "Case: {AGE} year old man, {P}, presented with {R}.",
]
NO_REPORTER_FR = [
    "Une femme de {AGE} ans sous {P} a présenté {R}, selon le rapport.",
    "Cas clinique : homme de {AGE} ans, traité par {P}, {R}.",
]
NO_PRODUCT_EN = [
    "Been on my new pills for 3 weeks and I've had {R} every day.",
    "My {REL} started a new medication and developed {R}.",
    "Whatever the doctor gave me last week is causing me {R}",
]
NO_PRODUCT_FR = [
    "Depuis mon nouveau traitement, j'ai {R}.",
    "{MA} {REL} a {R} depuis son nouveau médicament",
    "Le médecin m'a changé de cachets et maintenant j'ai {R}",
]
NO_REACTION_EN = [
    "Started {P} today, fingers crossed!",
    "My {REL} takes {P} every morning",
    "I've had no side effects at all on {P} so far",
    "Three months on {P} and I feel great, no nausea, no headaches",
    "I'm worried {P} might give me {R}, my GP says it's rare",
    "Does {P} cause {R}? Thinking of starting it",
    "I read that {P} could cause {R}, is that true?",
    "Picked up my {P} refill, price went up again",
]
NO_REACTION_FR = [
    "J'ai commencé {P} aujourd'hui, on croise les doigts",
    "{MA} {REL} prend {P} tous les matins",
    "Aucun effet secondaire pour moi avec {P}, top",
    "Trois mois sous {P} et je me sens bien, pas de nausées, pas de vertiges",
    "J'ai peur que {P} me donne {R}, mon médecin dit que c'est rare",
    "Est-ce que {P} peut provoquer {R} ? J'hésite à commencer",
    "Je ne sais pas si {P} risque de donner {R}, quelqu'un sait ?",
    "J'ai récupéré ma boîte de {P}, encore plus chère",
]
NEWS_EN = [
    ("Brenmoor recalls a batch of {P} pens over a packaging fault", False),
    ("Regulator opens review of {P} after reports of {R}", True),
    ("{P} sales beat expectations in Q3, says Valmoreau", False),
    ("Study links {P} to higher risk of {R}", False),
]
NEWS_FR = [
    ("Valmoreau rappelle un lot de {P} suite à un défaut d'emballage", False),
    ("L'agence enquête sur {P} après des signalements de {R}", True),
    ("Les ventes de {P} dépassent les attentes, selon Brenmoor", False),
    ("Une étude associe {P} à un risque accru de {R}", False),
]
NO_AE = [
    ("en", "Brenmoor shares up 4% after the earnings call"),
    ("en", "Love the new Glytera pen design, so much easier"),
    ("en", "Quillon announces new CEO"),
    ("en", "Is Cardelio covered by my insurance?"),
    ("en", "Valmoreau opens a new plant in Lyon"),
    ("fr", "Valmoreau ouvre une nouvelle usine près de Lyon"),
    ("fr", "Le Neviora est-il remboursé par la sécu ?"),
    ("fr", "Brenmoor annonce un partenariat avec un hôpital parisien"),
    ("fr", "Rupture de stock d'Osteliq dans ma pharmacie, quelqu'un sait quand ça revient ?"),
    ("fr", "Quillon nomme une nouvelle directrice générale"),
]
HANDLES = ["@mara_k", "@jdoe1987", "u/lilypad", "@claire.b", "@tomtom", "user 88231", "@nina_fr"]
ALL_CATS = [
    "death",
    "life_threatening",
    "hospitalisation",
    "disability",
    "congenital_anomaly",
    "other_medically_important",
]


def _row(
    text: str, lang: str, kind: str, author: str | None, crit: dict[str, bool], cats: set[str]
) -> dict[str, Any]:
    return {
        "text": text,
        "author": author,
        "lang": lang,
        "kind": kind,
        "labels": {
            **crit,
            "valid": all(crit.values()),
            "serious": bool(cats),
            "seriousness": [c for c in ALL_CATS if c in cats],
        },
    }


def _fr_slots(rng: random.Random) -> dict[str, str]:
    rel, g = rng.choice(REL_FR)
    return {
        "REL": rel,
        "MA": "Ma" if g == "f" else "Mon",
        "MA_L": "ma" if g == "f" else "mon",
        "PRON": "elle" if g == "f" else "il",
        "DEC": "décédée" if g == "f" else "décédé",
        "AGE": str(rng.randint(6, 88)),
    }


def _valid(rng: random.Random, lang: str, third: bool, serious: bool) -> dict[str, Any]:
    r, ime = rng.choice(R_EN if lang == "en" else R_FR)
    slots = (
        _fr_slots(rng)
        if lang == "fr"
        else {"REL": rng.choice(REL_EN), "AGE": str(rng.randint(6, 88))}
    )
    frames = {
        ("en", False): SELF_EN,
        ("en", True): THIRD_EN,
        ("fr", False): SELF_FR,
        ("fr", True): THIRD_FR,
    }[(lang, third)]
    text = rng.choice(frames).format(P=rng.choice(PRODUCTS), R=r, **slots)
    cats = {"other_medically_important"} if ime else set()
    if serious:
        clause, cat = rng.choice(OUT_EN if lang == "en" else OUT_FR)
        text, cats = f"{text} {clause}", cats | {cat}
    author = rng.choice(HANDLES) if rng.random() < 0.6 else None
    crit = {"reporter": True, "patient": True, "product": True, "reaction": True}
    return _row(text, lang, "third" if third else "self", author, crit, cats)


def _death(rng: random.Random, lang: str) -> dict[str, Any]:
    r, ime = rng.choice(R_EN if lang == "en" else R_FR)
    slots = _fr_slots(rng) if lang == "fr" else {"REL": rng.choice(REL_EN)}
    text = (DEATH_EN if lang == "en" else DEATH_FR).format(P=rng.choice(PRODUCTS), R=r, **slots)
    cats = {"death"} | ({"other_medically_important"} if ime else set())
    crit = {"reporter": True, "patient": True, "product": True, "reaction": True}
    return _row(text, lang, "death", rng.choice(HANDLES), crit, cats)


def _missing(rng: random.Random, lang: str, which: str) -> dict[str, Any]:
    en = lang == "en"
    r, ime = rng.choice(R_EN if en else R_FR)
    slots = (
        _fr_slots(rng) if not en else {"REL": rng.choice(REL_EN), "AGE": str(rng.randint(18, 88))}
    )
    frames = {
        "patient": NO_PATIENT_EN if en else NO_PATIENT_FR,
        "reporter": NO_REPORTER_EN if en else NO_REPORTER_FR,
        "product": NO_PRODUCT_EN if en else NO_PRODUCT_FR,
    }[which]
    text = rng.choice(frames).format(P=rng.choice(PRODUCTS), R=r, **slots)
    crit = {"reporter": True, "patient": True, "product": True, "reaction": True, which: False}
    author = None if which == "reporter" else rng.choice(HANDLES)
    cats = {"other_medically_important"} if ime else set()
    return _row(text, lang, f"no_{which}", author, crit, cats)


def _no_reaction(rng: random.Random, lang: str) -> dict[str, Any]:
    en = lang == "en"
    frames = NO_REACTION_EN if en else NO_REACTION_FR
    i = rng.randrange(len(frames))
    r, _ = rng.choice(R_EN if en else R_FR)
    slots = _fr_slots(rng) if not en else {"REL": rng.choice(REL_EN)}
    text = frames[i].format(P=rng.choice(PRODUCTS), R=r, **slots)
    kind = [
        "plain",
        "plain",
        "negation",
        "negation",
        "hypothetical",
        "hypothetical",
        "hypothetical",
        "plain",
    ][i]
    # frames 5 and 6 ask about a product nobody is said to take: no identifiable patient
    crit = {"reporter": True, "patient": i not in (5, 6), "product": True, "reaction": False}
    if "{REL}" in frames[i]:
        kind = "plain_third"
    return _row(text, lang, f"no_reaction_{kind}", rng.choice(HANDLES), crit, set())


def _news(rng: random.Random, lang: str) -> dict[str, Any]:
    frame, has_r = rng.choice(NEWS_EN if lang == "en" else NEWS_FR)
    r, ime = rng.choice(R_EN if lang == "en" else R_FR)
    text = frame.format(P=rng.choice(PRODUCTS[:8]), R=r)
    crit = {"reporter": False, "patient": False, "product": True, "reaction": has_r}
    cats = {"other_medically_important"} if has_r and ime else set()
    return _row(text, lang, "news", None, crit, cats)


def build(seed: int = 2020) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    rows: list[dict[str, Any]] = []
    for lang in ("en", "fr"):
        for _ in range(40):
            rows.append(_valid(rng, lang, third=False, serious=False))
        for _ in range(22):
            rows.append(_valid(rng, lang, third=True, serious=False))
        for _ in range(24):
            rows.append(_valid(rng, lang, third=rng.random() < 0.5, serious=True))
        for _ in range(8):
            rows.append(_death(rng, lang))
        for which in ("patient", "reporter", "product"):
            for _ in range(15):
                rows.append(_missing(rng, lang, which))
        for _ in range(40):
            rows.append(_no_reaction(rng, lang))
        for _ in range(16):
            rows.append(_news(rng, lang))
    for lang, tmpl in CONGENITAL:
        for p in rng.sample(PRODUCTS, 4):
            crit = {"reporter": True, "patient": True, "product": True, "reaction": True}
            rows.append(
                _row(
                    tmpl.format(P=p),
                    lang,
                    "congenital",
                    rng.choice(HANDLES),
                    crit,
                    {"congenital_anomaly"},
                )
            )
    for lang, text in NO_AE:
        crit = {"reporter": False, "patient": False, "product": False, "reaction": False}
        rows.append(_row(text, lang, "no_ae", None, crit, set()))
    return rows


def _fix_no_ae(row: dict[str, Any]) -> None:
    """No-AE rows: their criteria depend on the sentence; set by hand here."""
    t = row["text"]
    first = any(w in t for w in ("my ", "ma pharmacie", "Is Cardelio covered by my"))
    row["labels"]["reporter"] = first
    row["labels"]["product"] = any(p in t for p in PRODUCTS)


def main() -> None:
    rows = build()
    for row in rows:
        if row["kind"] == "no_ae":
            _fix_no_ae(row)
    split = random.Random(SPLIT_SEED)
    order = list(range(len(rows)))
    split.shuffle(order)
    dev = set(order[: len(rows) // 2])
    with OUT.open("w", encoding="utf-8") as f:
        for i, row in enumerate(rows):
            row = {"id": f"pv{i:04d}", "split": "dev" if i in dev else "test", **row}
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    # Hand-written rows came second: their own split (seed 21), so the rows above keep theirs.
    hand = [
        _row(
            text,
            lang,
            "handwritten",
            author,
            dict(
                zip(
                    ("reporter", "patient", "product", "reaction"),
                    (c == "1" for c in crit),
                    strict=True,
                )
            ),
            set(cats),
        )
        for lang, text, author, crit, cats in HANDWRITTEN
    ]
    order = list(range(len(hand)))
    random.Random(SPLIT_SEED + 1).shuffle(order)
    hdev = set(order[: len(hand) // 2])
    with OUT.open("a", encoding="utf-8") as f:
        for i, row in enumerate(hand):
            row = {"id": f"pvh{i:03d}", "split": "dev" if i in hdev else "test", **row}
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    rows += hand
    fr = sum(r["lang"] == "fr" for r in rows)
    print(f"{len(rows)} rows ({fr / len(rows):.0%} FR) -> {OUT}")


if __name__ == "__main__":
    main()
