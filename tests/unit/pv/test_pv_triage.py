"""Case triage rules: the four criteria, negation, hypotheticals, seriousness, EN and FR."""

from __future__ import annotations

import pytest

from pipeline.pv.lexicon import default_lexicon
from pipeline.pv.triage import Triage


@pytest.fixture(scope="module")
def triage() -> Triage:
    return Triage.default()


def test_lexicon_is_a_few_hundred_terms_en_and_fr() -> None:
    lex = default_lexicon()
    assert lex.size >= 150
    assert len(lex.reactions.label_of) >= 1000
    assert "Nausea" in {lex.reactions.label_of["nausee"], lex.reactions.label_of["nausea"]}


def test_valid_first_person_case(triage: Triage) -> None:
    case = triage.assess("Glytera gave me terrible nausea and I ended up in hospital")
    assert case.as_dict() == {
        "valid": True,
        "criteria": {"reporter": True, "patient": True, "product": True, "reaction": True},
        "product": "Glytera",
        "company_product": True,
        "reactions": ["Nausea"],
        "serious": True,
        "seriousness": ["hospitalisation"],
    }


def test_third_person_french_death(triage: Triage) -> None:
    case = triage.assess("Ma mère a fait une hémorragie sous Cardelio, elle est décédée")
    assert case.valid
    assert case.reactions == ("Haemorrhage",)
    assert case.seriousness == ("death",)
    assert case.patient_details == {"who": "ma mere"}


def test_age_and_sex_identify_a_patient_but_not_a_reporter(triage: Triage) -> None:
    case = triage.assess("A 67-year-old woman on Somnessa developed joint pain, case report says.")
    assert case.criteria == {
        "reporter": False,
        "patient": True,
        "product": True,
        "reaction": True,
    }
    assert not case.valid
    assert triage.assess("A 67-year-old woman on Somnessa had joint pain", "@doc").valid


@pytest.mark.parametrize(
    "text",
    [
        "I've had no side effects at all on Neviora so far",
        "Aucun effet secondaire pour moi avec Osteliq, top",
        "Three months on Glytera and I feel great, no nausea, no headaches",
        "Trois mois sous Glytera, pas de nausées, pas de vertiges",
        "I'm worried Glytera might give me pancreatitis",
        "Est-ce que Cardelio peut provoquer des saignements ? J'hésite",
        "Glytera could cause pancreatitis apparently",
    ],
)
def test_negated_and_hypothetical_reactions_are_not_reactions(triage: Triage, text: str) -> None:
    case = triage.assess(text, "@someone")
    assert case.reactions == ()
    assert not case.valid and not case.serious


def test_a_turn_after_a_denial_lets_the_reaction_through(triage: Triage) -> None:
    case = triage.assess("No side effects on Epidra except an itchy rash, I'm fine otherwise")
    assert case.reactions == ("Rash",) or "Pruritus" in case.reactions


def test_anonymous_people_are_not_a_patient(triage: Triage) -> None:
    case = triage.assess("Lots of patients on Glytera are reporting nausea lately", "@pharma")
    assert case.criteria["reporter"] and not case.criteria["patient"]
    assert case.reactions == ("Nausea",)


def test_product_from_generic_and_catalogue_generic(triage: Triage) -> None:
    assert triage.assess("metformin gave me diarrhea").product == "metformin"
    assert triage.assess("orvaglutide gave me diarrhea").product == "Glytera"
    assert triage.assess("#glytera gave me diarrhea").product == "Glytera"
    assert triage.assess("my new pills gave me diarrhea").product is None


def test_recall_news_has_no_reporter_or_patient(triage: Triage) -> None:
    case = triage.assess("Brenmoor recalls a batch of Glytera pens over a packaging fault")
    assert case.criteria == {
        "reporter": False,
        "patient": False,
        "product": True,
        "reaction": False,
    }


def test_medically_important_and_congenital(triage: Triage) -> None:
    case = triage.assess("I took Neviora while pregnant and my baby was born with a heart defect.")
    assert case.valid and "congenital_anomaly" in case.seriousness
    case = triage.assess("Mon fils de 12 ans a fait une crise convulsive sous Somnessa")
    assert case.valid and case.seriousness == ("other_medically_important",)


def test_negated_seriousness_does_not_count(triage: Triage) -> None:
    case = triage.assess("Cardelio gave me nosebleeds, I was not hospitalised thankfully")
    assert case.valid and not case.serious


def test_no_ae_mention(triage: Triage) -> None:
    case = triage.assess("Brenmoor annonce un partenariat avec un hôpital parisien")
    assert case.as_dict()["criteria"] == dict.fromkeys(
        ("reporter", "patient", "product", "reaction"), False
    )
    assert not case.serious


@pytest.mark.parametrize(
    ("text", "product"),
    [
        ("Lexapro has me yawning all day", "Lexapro"),
        ("2 weeks on vyvanse and my appetite is gone", "Vyvanse"),
        ("SEROQUEL hangover every morning", "Seroquel"),
        ("j'ai des vertiges depuis la Dépakine", "Depakine"),
        ("le Levothyrox nouvelle formule me donne des palpitations", "Levothyrox"),
        ("Doliprane 1000 et toujours mal au crâne", "Doliprane"),
        ("#ozempicface is real, my cheeks are hollow", "Ozempic"),
        ("humira injection day again", "Humira"),
        ("escitalopram 10mg day 3", "escitalopram"),
        ("paracétamol et ibuprofène en alternance", "paracetamol"),
        ("got my 2nd pfizer shot yesterday", "COVID-19 mRNA vaccine (Pfizer-BioNTech)"),
    ],
)
def test_real_medicine_names_en_and_fr(triage: Triage, text: str, product: str) -> None:
    case = triage.assess(text)
    assert case.product == product
    assert not case.company_product


@pytest.mark.parametrize(
    ("text", "product"),
    [
        ("Lexaprro has me yawning", "Lexapro"),  # one insertion
        ("seroqeul knocks me out", "Seroquel"),  # neighbours swapped
        ("started wellbutrn last week", "Wellbutrin"),  # one deletion
        ("le levothyrix me fatigue", "Levothyrox"),  # one substitution
    ],
)
def test_medicine_names_within_one_edit(triage: Triage, text: str, product: str) -> None:
    assert triage.assess(text).product == product


@pytest.mark.parametrize(
    "text",
    [
        "my ability to focus is great",  # Abilify
        "these lyrics hit hard",  # Lyrica
        "ambient music helps me sleep",  # Ambien
        "a singular experience",  # Singulair
        "mon voisin écoute du concerto",  # Concerta
    ],
)
def test_ordinary_words_are_not_misspelt_medicines(triage: Triage, text: str) -> None:
    assert triage.assess(text).product is None


def test_company_product_is_told_apart_from_other_medicines(triage: Triage) -> None:
    own = triage.assess("Glytera and metformin together gave me diarrhoea")
    assert own.product == "Glytera" and own.company_product
    other = triage.assess("metformin and Glytera together gave me diarrhoea")
    assert other.product == "metformin" and not other.company_product
    assert triage.assess("orvaglutide made me sick").company_product  # the company's generic


@pytest.mark.parametrize(
    ("text", "reaction"),
    [
        ("Lexapro and I can't sleep, wired at 3am", "Insomnia"),
        ("zoloft makes me feel like a zombie", "Emotional blunting"),
        ("gained 20 lbs on depakote", "Weight increased"),
        ("put on 8kg since starting seroquel", "Weight increased"),
        ("my hair is falling out since accutane", "Alopecia"),
        ("mounjaro sulfur burps are disgusting", "Eructation"),
        ("ozempic has me throwing up every morning", "Vomiting"),
        ("slept 14 hours on quetiapine", "Somnolence"),
        ("j'ai des vertiges depuis le Lyrica", "Dizziness"),
        ("le Seroplex ça me donne la nausée", "Nausea"),
        ("prise de poids énorme avec le Laroxyl", "Weight increased"),
        ("j'ai pris 10 kilos avec le Deroxat", "Weight increased"),
        ("+8kg en 3 mois sous Xeroquel", "Weight increased"),
        ("fièvre à 39,5 après le vaccin Pfizer", "Pyrexia"),
        ("chui crevée depuis le Xeroquel", "Fatigue"),
        ("le Levothyrox me fait perdre mes cheveux, ils tombent par poignées", "Alopecia"),
    ],
)
def test_colloquial_reactions_en_and_fr(triage: Triage, text: str, reaction: str) -> None:
    assert reaction in triage.assess(text, "@someone").reactions


@pytest.mark.parametrize(
    "text",
    [
        "mort de rire avec le Doliprane",  # "mort de rire" is laughter, not a death
        "ce Doliprane m'a tué la journée",  # "m'a tué" = exhausted me, no death reported
        "my libido is dead honestly, Lexapro",  # a figure of speech, not a death
    ],
)
def test_figures_of_speech_are_not_deaths(triage: Triage, text: str) -> None:
    case = triage.assess(text, "@someone")
    assert "Death" not in case.reactions
    assert "death" not in case.seriousness


@pytest.mark.parametrize(
    "text",
    [
        "jsuis sous seroplex et j'ai des nausées",
        "j'suis sous Stilnox depuis 2 semaines, des cauchemars",
        "chui sous Lyrica, vertiges",
        "g mal à la tête depuis le Kardegic",
        "jprends du Kardegic et j'ai des bleus partout",
        "i started lexapro and the nausea is rough",
        "im on prednisone and cant sleep",
    ],
)
def test_social_media_first_person_is_reporter_and_patient(triage: Triage, text: str) -> None:
    case = triage.assess(text)  # no author field: the first person alone makes the reporter
    assert case.criteria["reporter"] and case.criteria["patient"]
    assert case.valid


@pytest.mark.parametrize(
    "text",
    [
        "my 6yo has nightmares since singulair",
        "my hubby started metformin and has the runs",
        "mon mari a fait une hémorragie sous Xarelto",
        "ma fille de 8 ans fait des cauchemars depuis le Singulair",
        "Nurse here: one of my patients on amiodarone turned grey-blue",
    ],
)
def test_caregivers_and_relatives_identify_a_patient(triage: Triage, text: str) -> None:
    case = triage.assess(text, "@carer")
    assert case.criteria["patient"] and case.valid


def test_a_reporter_naming_product_and_reaction_is_the_patient(triage: Triage) -> None:
    # no "I": people write their own experience this way
    assert triage.assess("seroquel hangover is no joke, slept 14 hours", "@a").valid
    assert triage.assess("Augmentin = diarrhée garantie à chaque fois", "@b").valid
    # without an author nor a first person, nobody is identifiable
    assert not triage.assess("seroquel hangover is no joke, slept 14 hours").criteria["patient"]
    # others or news as the subject are not the author's own experience
    for text in (
        "People on Mounjaro say the sulfur burps are awful",
        "Beaucoup de gens sous Lyrica se plaignent de vertiges",
        "FDA report links Singulair to nightmares in kids",
    ):
        assert not triage.assess(text, "@news").criteria["patient"], text


def test_questions_about_a_reaction_are_not_reports(triage: Triage) -> None:
    for text in (
        "Is it normal to feel dizzy on Zoloft? starting next week",
        "Est-ce que le Seroplex fait grossir ? je commence lundi",
        "Is it true Eliquis can make you bleed more?",
    ):
        assert triage.assess(text, "@q").reactions == (), text


def test_a_medicine_that_made_me_something_is_an_unspecified_reaction(triage: Triage) -> None:
    for text in (
        "Le Stilnox me fait faire des trucs bizarres la nuit",
        "ambien made me do the weirdest stuff last night",
        "Le Mediator a tué ma grand-mère",
    ):
        assert triage.assess(text, "@a").valid, text
    for text in (
        "Lexapro made me feel better honestly",  # good news
        "Le Tramadol me fait vraiment du bien pour mon dos",
        "Le Spasfon ne me fait absolument rien",  # nothing at all: not a reaction
        "Just got my Glytera pen, the packaging is gorgeous",
        "Zoloft doesn't make me sleepy at all",  # denied
        "Can Zoloft make me gain weight?",  # asked
    ):
        assert triage.assess(text, "@a").reactions == (), text


@pytest.mark.parametrize(
    "text",
    [
        "Le Levothyrox est de nouveau en rupture, c'est l'angoisse",
        "so tired of fighting my insurance over Ozempic",
        "getting my Vyvanse refilled is a nightmare to sort out",
        "Merci le Doliprane, ma fièvre est tombée",  # gone: the reason it was taken
        "Quelqu'un prend du Seroplex ? ça fait grossir ?",  # asked, no first person
    ],
)
def test_figures_of_speech_improvements_and_questions_report_nothing(
    triage: Triage, text: str
) -> None:
    assert triage.assess(text, "@a").reactions == (), text


def test_questions_in_the_first_person_or_to_others_like_me_still_report(triage: Triage) -> None:
    assert triage.assess("anyone else get horrible heartburn from naproxen??", "@a").valid
    assert triage.assess("why am I so dizzy on Zoloft?", "@a").valid


@pytest.mark.parametrize(
    ("text", "reaction"),
    [
        ("Prednisone moon face activated", "Cushingoid"),
        ("cipralex makes me clench my jaw all night", "Bruxism"),
        ("Botox left my eyelid drooping for 2 months", "Eyelid ptosis"),
        ("Celebrex tore up my stomach, ended up with an ulcer", "Abdominal pain"),
        ("Lexomil + alcool = trou noir complet", "Memory impairment"),
        ("the new BP med (losartan) tanked my blood pressure", "Hypotension"),
    ],
)
def test_more_lay_reactions(triage: Triage, text: str, reaction: str) -> None:
    assert reaction in triage.assess(text, "@a").reactions


def test_a_body_part_doing_something_bad_is_an_unspecified_reaction(triage: Triage) -> None:
    for text in (
        "Started metoprolol and now my hands are purple",
        "depuis le Tahor j'ai mal au genou droit",
        "Mirena and my boobs are so sore",
    ):
        assert triage.assess(text, "@a").valid, text
    for text in (
        "Le Spasfon c'est magique pour les règles douloureuses",  # what it is taken for
        "Lexapro and my skin is not itchy at all",  # denied
    ):
        assert triage.assess(text, "@a").reactions == (), text


def test_ligatures_and_not_stopping(triage: Triage) -> None:
    # "cœur" is written with the ligature, which accent folding alone keeps whole
    case = triage.assess("Ma mère sous Levothyrox a le cœur qui s'emballe la nuit", "@a")
    assert case.reactions == ("Palpitations",) and case.valid
    # a negated "stop" affirms the reaction
    case = triage.assess("my Lexapro dose went up and my hands won't stop shaking", "@a")
    assert "Tremor" in case.reactions
    assert triage.assess("Lexapro and my hands don't shake anymore", "@a").reactions == ()


def test_batch_seven_wording(triage: Triage) -> None:
    case = triage.assess("finished my z pack and now I've got a yeast infection, classic", "@a")
    assert case.product == "Z pack" and case.reactions == ("Fungal infection",) and case.valid
    case = triage.assess("Le vaccin contre la grippe m'a cloué au lit 3 jours, 39 de fièvre", "@a")
    assert case.valid and "disability" not in case.seriousness  # days in bed are not lasting
    case = triage.assess("Merci au Seroplex de m'avoir sortie de la dépression", "@a")
    assert case.reactions == ()  # what it treated


@pytest.mark.parametrize(
    "text",
    [
        "I heard Lexapro causes memory loss, true?",
        "apparently Mounjaro makes you lose your hair",
        "on m'a dit que le Seroplex donnait des nausées",
        "Paraît que le Lyrica fait grossir",
        "starting Zoloft on Monday and terrified it'll make me gain weight",
        "Je commence le Seroplex demain et j'ai la boule au ventre",
        "MHRA updates advice on isotretinoin and mood changes",
    ],
)
def test_hearsay_claims_and_fears_are_not_reports(triage: Triage, text: str) -> None:
    assert triage.assess(text, "@a").reactions == (), text


def test_hearsay_about_an_identifiable_person_still_reports(triage: Triage) -> None:
    case = triage.assess("my sister said the Mirena gave her awful acne", "@a")
    assert case.reactions == ("Acne",) and case.valid
    case = triage.assess("people on the forum keep blaming Ozempic for hair loss", "@a")
    assert case.reactions and not case.patient  # events of others, nobody identifiable


@pytest.mark.parametrize(
    "text",
    [
        "Lyrica for my nerve pain and anxiety, it helps",
        "been on propranolol for migraines for a year",
        "Inexium contre les brûlures d'estomac, top",
        "Mon père prend du Skenan pour son cancer",
        "I had headaches for years long before I started Neviora",
        "Eczéma depuis l'enfance, maintenant sous Epidra",
        "Doliprane et toujours ce mal de dos, ça sert à rien",
        "headache today but that's the wine, not my Lexapro",
        "courbatures mais rien à voir avec le Crestor, c'est le sport",
    ],
)
def test_indication_history_efficacy_and_other_causes_are_not_reactions(
    triage: Triage, text: str
) -> None:
    case = triage.assess(text, "@a")
    assert case.reactions == (), text
    assert case.patient, text  # the writer still speaks of their own treatment


def test_bare_vaccine_names_no_product_unless_a_maker_or_disease_does(triage: Triage) -> None:
    assert triage.assess("the jab gave me a fever for two days", "@a").product is None
    assert triage.assess("le vaccin m'a donné de la fièvre", "@a").product is None
    assert triage.assess("the flu jab gave me a fever", "@a").product is not None
    assert triage.assess("@pfizer the vaccine gave me a fever", "@a").product is not None
    assert triage.assess("my son had his MMR and a fever after", "@a").product == "MMR vaccine"


@pytest.mark.parametrize(
    "text",
    [
        "Mom (79) got very dizzy after they added tramadol",
        "Dad on amlodipine, his ankles are swollen",
        "hubby's on finasteride and his libido is gone",
        "Mamie a pris son Tahor et a eu des crampes toute la nuit",
        "71F on warfarin with a big bruise on her arm",
        "Bébé a eu son vaccin Infanrix et a fait de la fièvre",
    ],
)
def test_relatives_named_bare_and_age_sex_shorthand_are_patients(triage: Triage, text: str) -> None:
    case = triage.assess(text, "@a")
    assert case.patient and case.valid, text


def test_medication_errors_without_harm_report_nothing(triage: Triage) -> None:
    for text in (
        "pharmacy gave me 100mg sertraline instead of 50, took it for days, no issues",
        "Le pharmacien m'a donné du Kardégic 160 au lieu de 75, j'ai rien senti",
        "my GP gave me amoxicillin for this chest infection",
    ):
        assert triage.assess(text, "@a").reactions == (), text


def test_fillers_inside_a_reaction_and_new_lay_forms(triage: Triage) -> None:
    assert (
        "Libido decreased" in triage.assess("Paxil and my libido is basically gone", "@a").reactions
    )
    case = triage.assess("got pregnant on Nexplanon, never missed anything", "@a")
    assert case.reactions == ("Unintended pregnancy",) and case.valid
    case = triage.assess("Co-codamol has bunged me right up", "@a")
    assert case.reactions == ("Constipation",)
    assert triage.assess("NICE approves a new migraine drug, Vydura", None).reactions == ()


def test_seriousness_cues_for_carers_words(triage: Triage) -> None:
    case = triage.assess("Dad had a fit after starting tramadol, a night in resus", "@a")
    assert case.valid and "hospitalisation" in case.seriousness
    case = triage.assess("the jab gave me a dead arm for three days", "@a")
    assert "death" not in case.seriousness
    case = triage.assess("Depuis le Ciflox, une tendinite et je marche avec une canne", "@a")
    assert "disability" in case.seriousness


def test_french_gout_taste_is_not_the_disease(triage: Triage) -> None:
    assert triage.assess("ce sirop Toplexil a mauvais goût", "@a").reactions == ()
    assert triage.assess("Augmentin, le goût est immonde", "@a").reactions == ()
    assert triage.assess("le Flagyl me laisse un goût de métal", "@a").reactions == ("Dysgeusia",)
    assert triage.assess("Lasix gave me a gout attack", "@a").reactions == ("Gout",)
    assert triage.assess("sous Esidrex j'ai fait une crise de goutte", "@a").reactions == ("Gout",)
