"""Cue patterns (EN and FR) on folded text: negation, hypotheticals, patient, reporter, seriousness.

All patterns run on text folded by :func:`pipeline.pv.lexicon.normalise` (lower case, no accents).
A cue is *in scope* of a reaction when it sits in the same clause, before it, within a few words:
clauses end at ``. ! ? ;`` and at "but" / "mais" / "however" / "pourtant" / "except".
"""

from __future__ import annotations

import re

_CLAUSE_END = re.compile(
    r"[.!?;:\n]|\b(?:but|however|although|though|except|mais|pourtant|sauf|cependant|sinon)\b"
)
#: Words before a reaction that deny it ("no nausea", "never had headaches", "pas de fièvre").
NEGATION = re.compile(
    r"(?<![\w'])(?:no|not|never|without|zero|none|nor|neither|free of|don't|didn't|doesn't|"
    r"haven't|hasn't|hadn't|isn't|wasn't|aren't|weren't|won't|dont|didnt|doesnt|havent|hasnt|"
    r"pas|aucun|aucune|sans|jamais|ni|rien|n'ai|n'a|n'avons|n'ont)(?![\w'])"
)
#: Words that make a reaction possible rather than reported ("could cause", "risque de").
HYPOTHETICAL = re.compile(
    r"(?<![\w'])(?:may|might|could(?!n)|can cause|can give|can lead|would|if|in case|"
    r"risk|risks|warns?|warning|warned|worried|worry|afraid|scared|fear|fears|possible|"
    r"potential|potentially|rare|rarely|listed|leaflet|label|hope|hopefully|avoid|prevent|"
    r"peut(?!-etre)|peuvent|pourrait|pourraient|risque|risques|si|au cas|peur|crains|crainte|"
    r"eventuel|eventuels|eventuelle|notice|j'espere|evitez|eviter|est-ce que|est ce que|"
    r"attention au|attention a|attention aux|beware of|watch out for|"
    r"is it normal to|is it safe|is it true|c'est vrai que|can make|does (?:it|\w+) cause|"
    r"can (?:it|\w+) (?:cause|make|give)|"
    r"will (?:it|\w+) (?:cause|make|give)|"
    # fears of a dose to come: "terrified it'll make me gain weight"
    r"terrified|nervous|bracing|dread|dreading|it'll|itll|it will|gonna|going to make|"
    r"thought i'd|thought i would|je pensais|pensais avoir|pensais que|"
    # hearsay and claims about a medicine, not an event: "I heard X causes", "on dit que"
    r"heard|apparently|they say|people say|everyone says|everybody says|i was told|"
    r"was told|read about|i've read|ive read|causes|tout le monde dit|on dit|on m'a dit|"
    r"il parait|parait-il|parait que|paraitrait que|j'ai lu|lu que|entendu dire|swears|"
    # a dose still to come: "starting Friday and I'm anxious", "je commence lundi"
    r"(?:starting|start|starts|je commence|commence) (?:[\w']+ ){0,2}?(?:on )?(?:tomorrow|tmrw|today|tonight|"
    r"monday|tuesday|wednesday|thursday|friday|saturday|sunday|next week|soon|demain|lundi|mardi|"
    r"mercredi|jeudi|vendredi|samedi|dimanche|la semaine prochaine|bientot)|"
    # a regulator's or a paper's communication makes a reaction its topic, not a report
    r"advice on|guidance on|updates advice|mise en garde|mises en garde|"
    r"alerte sur|alerte les|warning on|warning about)(?![\w'])"
)
#: "no side effects so far": the whole text denies any reaction, whatever else it lists.
GLOBAL_DENIAL = re.compile(
    r"(?<![\w'])(?:no|zero|without|never had any|not a single|pas d'|pas de|aucun|aucune|sans)"
    r" (?:\w+ )?(?:side[- ]effects?|effets? (?:secondaires?|indesirables?))"
)
NEGATION_WINDOW = 6  # words before the reaction
#: Nothing came of it ("took a few before noticing, no issues", "j'ai rien senti"): no
#: unspecified reaction (a named one still counts).
NO_HARM = re.compile(
    r"(?<![\w'])(?:no issues|no problems|no harm|felt fine|feel fine|(?:she|he|i|they)'ll be fine|"
    r"(?:she|he|i)'s fine|rien senti|rien ressenti|pas de souci|aucun souci|sans danger|"
    r"sans gravite|ca va aller|no symptoms)(?![\w'])"
)

_RELATIVES = (
    r"mother|mom|mum|mommy|mama|dad|father|daddy|son|daughter|wife|husband|partner|sister|"
    r"brother|grandma|grandmother|granny|grandfather|grandpa|aunt|uncle|friend|best friend|"
    r"colleague|coworker|boyfriend|girlfriend|fiance|fiancee|baby|kid|kids|child|children|"
    r"toddler|cousin|neighbour|neighbor|niece|nephew|patient|mother-in-law|father-in-law|"
    r"stepdad|stepmom|twins?|newborn|grandad|granddad|gran|nan|nana|grandson|granddaughter|"
    r"hubby|hubs|bf|gf|dh|dd|ds|mil|fil|bestie|roommate|flatmate|little one|lo|bub|babe|"
    r"stepson|stepdaughter|sil|bil|sis|bro|fiancé|spouse|client|resident|mate|pal|buddy|"
    r"\d{1,2} ?(?:yo|y/o|"
    r"year old|month old|yr old|mo old)"
)
_PARENTS_FR = (
    r"mere|maman|pere|papa|fils|fille|femme|mari|compagnon|compagne|conjoint|conjointe|soeur|"
    r"frere|grand-mere|grand-pere|mamie|mamy|papi|papy|tante|oncle|ami|amie|copine|copain|"
    r"collegue|bebe|enfant|enfants|cousin|cousine|voisin|voisine|patient|patiente|belle-mere|"
    r"beau-pere|niece|neveu|petit-fils|petite-fille|nourrisson|jumeaux|homme|mec|meuf|cheri|"
    r"cherie|chere et tendre|loulou|puce|petit|petite|grand|grande|ado|gamin|gamine|pote|"
    r"belle-soeur|beau-frere|residente?|\d{1,2} ?ans|\d{1,2} ?mois"
)
#: An identifiable other person: "my mother", "our son", "ma mère", "mon fils".
RELATIVE = re.compile(
    rf"(?<![\w'])(?:(?:my|our)(?: \w+)? (?:{_RELATIVES})|(?:mon|ma|mes|notre|nos)(?: \w+)?"
    rf" (?:{_PARENTS_FR})|one of my (?:patients|clients|residents|kids|children|sons|daughters)"
    rf"|(?:un|une) de mes (?:patients|patientes|enfants|residents|residentes))(?![\w])"
)
#: A relative named by a bare kinship word, as people write of their own: "Mom (82) fell",
#: "Dad on methadone", "hubby's been on", "Mamie a pris", "Grandpa stopped breathing".
BARE_RELATIVE = re.compile(
    r"(?:^|[.!?;:,]\s*|\n)(?:mom|mum|mommy|mummy|dad|daddy|grandpa|grandma|granny|gran|nan|nana|"
    r"grandad|granddad|mamie|mamy|papi|papy|maman|papa|tonton|tata|pepe|meme|baby|baby girl|"
    r"baby boy|bebe|little one|le bebe|notre bebe|mon bebe)(?:'s)?"
    r"(?:\s*\(\d{1,3}\))?\s+(?!said|says|told|dit|always|toujours)\w|"
    r"(?<![\w'])(?:hubby|hubby's|hubs|wifey|le mari|la femme de mon)(?![\w])"
)
#: Age or sex of a described patient: "45 yo", "a 60-year-old woman", "une femme de 70 ans".
AGE_SEX = re.compile(
    r"(?<![\w'])\d{1,2}[mf](?![\w'])|\bin (?:her|his) (?:late |early )?\d0s\b|"
    r"\b(?:a|an|one|un|une|this|cette|ce) (?:teen|teenager|ado|adolescent|adolescente|toddler)\b|"
    r"(?:^|[.!?]\s*)(?:teen|teenager|ado|toddler|resident|residente|pt|elderly \w+) \w|"
    r"\b(?:elderly|older) (?:gent|gentleman|man|lady|woman|patient|customer)\b|"
    r"\b(?:friend's|mate's|neighbour's|neighbor's|sister's|brother's) (?:son|daughter|kid|baby|"
    r"mum|mom|dad|husband|wife)\b|\b(?:monsieur|madame|mme|m\.) [a-z]\.|"
    r"\b\d{1,3}[ -]?(?:yo|y/o|y\.o\.|years?[ -]old|yr old|ans|an)\b|"
    r"\b(?:a|an|one|un|une) (?:\w+ )?(?:man|woman|boy|girl|male|female|lady|guy|homme|femme|"
    r"garcon|fille|dame|patient|patiente) (?:of|aged|de|d'environ|age de|agee de) \d{1,3}\b|"
    r"\b(?:age|aged|agee?) \d{1,3}\b"
)
#: First person anywhere: the author speaks (reporter).
#: French first person as people type it: "jsuis", "chui", "jai", "jprends", "g mal" (= j'ai).
_FR_SMS = (
    r"jsuis|jsui|jss|chui|chuis|shui|jai|jme|jmen|jpeux|jpense|jdois|jvais|jfais|jprends|jprend|"
    r"jdors|jarrive|jen|jsens|jsais|jcrois|jvois|javais|jetais|jreste|jsors|jprenais|"
    r"g (?:mal|eu|pris|des|du|une|un|trop|plus|vomi|fait|grossi|perdu)"
)
FIRST_PERSON = re.compile(
    r"(?<![\w'])(?:(?:i|i'm|i've|i'd|i'll|im|ive|me|my|myself|mine|je|moi|mon|ma|mes|perso|"
    rf"our|we|we've|we're|notre|nos|{_FR_SMS})(?![\w])|[jm]')"
)
#: First person that is not about the author's body: "I read", "je pense", "my opinion".
_NOT_SELF = re.compile(
    r"(?<![\w'])(?:(?:ask|asking|asked) my (?:doc|doctor|gp|dr)|demander (?:a|au) (?:mon )?"
    r"(?:medecin|doc|generaliste)|i (?:read|heard|saw|think|wonder|guess|hope|know|believe|bet|love|hate|"
    r"want to know|just read|just saw|wonder|am thinking|'m thinking)|"
    r"(?:from what )?i've (?:seen|read|heard)|(?:from what )?ive (?:seen|read|heard)|"
    r"n'achete plus|never buying|not buying|je n'achete|my (?:opinion|view|guess|"
    r"thoughts|question)|j'ai (?:lu|entendu|vu)|j'hesite|je ne sais pas|"
    r"je (?:pense|crois|me demande|trouve|sais|lis|vois))(?![\w])"
)
SELF = re.compile(
    r"(?:^|[.!?]\s*)(?:started|starting|stopped|took|taking|been on|premiere|deuxieme|"
    r"troisieme|switching|switched|tapering|weaning|coming off|came off|upped|got my|"
    r"just got|je commence|commence|arrete|passe|sous|depuis (?:le|la|l'|que)|got prescribed|"
    r"was prescribed|on m'a prescrit)\b|\b(?:prescribed me|m'a prescrit)\b|"
    r"\b(?:in remission|en remission)\b|"
    r"(?<![\w'])(?:for|pour|contre) (?:my|ma|mon|mes) \w|"
    r"(?:^|[.!?]\s*)(?:enceinte|pregnant|breastfeeding|allaitante?)\b|(?<![\w-])-\d+ ?(?:kg|kilos|lbs)\b|"
    r"\b(?:day|jour|week|semaine) \d+\b|\bdown \d+ ?(?:kg|lbs?|pounds)\b|"
    r"(?<![\w'])(?:my|mon|ma|mes) (?:\w+ )?(?:refill|prescription|pills?|meds|medication|"
    r"injection|pen|jab|treatment|traitement|boite|cachets|comprimes|ordonnance|piqure|shots?|"
    r"vaccines?|vaccins?|doses?|boosters?|patch|implant|iud|inhaler|rappel|vaccination|"
    r"insurance|copay|script|sterilet|pilule|migraines|"
    r"headaches|pain|anxiety|depression|adhd|acne|eczema|diabetes|symptoms|symptomes|maux|"
    r"douleurs|angoisses|crises|tdah|diabete|insomnie|insomnia|arthritis|psoriasis|"
    r"asthma|asthme|thyroid|thyroide|cholesterol|bp|blood pressure)\b|"
    rf"(?<![\w'])(?:(?:i|i'm|i've|i'd|im|ive|me|myself|je|moi|{_FR_SMS})(?![\w])|[jm]')|"
    r"(?<![\w'])(?:my|mon|ma|mes) (?:\w+ )?(?:body|skin|head|stomach|heart|legs?|arms?|eyes?|"
    r"hair|liver|kidneys?|blood|sugar|bp|pressure|face|throat|joints|back|chest|period|"
    r"doctor|doc|gp|dose|peau|tete|ventre|coeur|jambes?|bras|yeux|cheveux|foie|reins|sang|"
    r"glycemie|tension|visage|gorge|dos|poitrine|regles|medecin|generaliste|dose|voice|hip|"
    r"fingers|hands|feet|knees?|jaw|gums|nose|mouth|teeth|mind|sleep|weight|periods|mood|"
    r"voix|hanche|doigts|mains|pieds|genoux|machoire|gencives|nez|bouche|dents|sommeil|poids|"
    r"humeur|achilles|tendons?|muscles|bones|ankles|wrists|shoulders?|neck|toes|lips|tongue|"
    r"ears?|brain|memory|appetite|libido|sex drive|energy|nails|gut|bowels|bladder|belly|"
    r"tummy|cheeks|thighs|breasts?|boobs|veins|arm|life|psych|psychiatrist|pdoc|neuro|"
    r"neurologist|derm|dermatologist|endo|endocrinologist|cardiologist|rheumy|"
    r"rheumatologist|pharmacist|therapist|nurse|obgyn|gyno|levres|langue|oreilles|cerveau|"
    r"memoire|appetit|ongles|intestins|vessie|bide|joues|seins|veines|epaules?|cou|nuque|"
    r"chevilles|poignets|orteils|articulations|os|vie|psy|psychiatre|neurologue|"
    r"dermato|endocrino|cardiologue|rhumato|pharmacien|pharmacienne|gyneco|sage-femme)(?![\w])"
)
#: Someone other than the author is the subject: "people on X", "patients", "a study", news.
#: A mention naming a product and a reaction with none of these is read as the author's own.
THIRD_PARTY = re.compile(
    r"(?<![\w'])(?:people|patients|users|folks|everyone|everybody|anyone who|someone|"
    r"somebody|they|them|their|theirs|he|she|his|her|him|study|studies|trial|trials|fda|ema|"
    r"ansm|mhra|regulator|regulators|reports?|reported|reporting|lawsuit|lawsuits|recall|"
    r"recalls|recalled|warning|warns|label|according|article|news|says|said|saying|claims|"
    r"les gens|des patients|mes patients|nos patients|ils|elles|leur|leurs|"
    r"(?:il|elle) (?:a|est|avait|etait|prend|prenait|fait|faisait)|"
    r"etude|etudes|essai|essais|rappel de lots?|rappel des|rappelle|alerte|agence|selon|"
    r"plainte|proces|dit que|disent|"
    r"paraitrait|parait-il|apparemment|scandale|victimes|celebrity|celeb|gens|monde|forums?|"
    r"many|most|lots of|a lot of people|la plupart|beaucoup de|beaucoup d'|utilisateurs|"
    r"plusieurs|several|friend of a friend|pote d'un pote|amie d'une amie|ami d'un ami|"
    r"someone in|quelqu'un dans|une maman|un papa|a mum|a mom|a dad|raconte|racontent|"
    r"describe|describes|parlent)(?![\w'])"
)
#: Seriousness cues per category (the "other_medically_important" cues come from the lexicon).
SERIOUSNESS: dict[str, re.Pattern[str]] = {
    "death": re.compile(
        r"(?<![\w])(?:died|dies|passed away|death of|her death|his death|killed (?:him|her|my"
        r"|our)|(?<!arm is )(?<!arm was )(?<!arm's )(?<!arms are )dead(?! arm| tired| inside)|"
        r"fatal|lost (?:my|our) (?:mother|mom|mum|father|dad|son|daughter|wife|"
        rf"husband|brother|sister|{_RELATIVES})|decede|decedee|deces|est mort|est morte|"
        r"mort d'une?|morte d'une?|mort des suites|morte des suites|"
        r"nous a quittes?|a perdu la vie|perdu la vie|s'est eteinte?|a tue (?:ma|mon|mes|notre)|"
        r"l'a tuee?|passed away|killed (?:my|our) (?:mom|mum|dad|mother|father|son|daughter|"
        r"wife|husband|brother|sister|friend))(?![\w])"
    ),
    "life_threatening": re.compile(
        r"(?<![\w])(?:life[- ]threatening|thought i was going to die|thought i would die|"
        r"cru que j'allais mourir|cru mourir|almost died|nearly died|almost killed|nearly killed|"
        r"could have died|near death|nearly lost (?:her|him|my|me)|almost lost (?:her|him|my|me)"
        r"|pronostic vital|failli mourir|failli y passer|failli (?:la|le|me|nous) perdre|"
        r"entre la vie et la mort|vie en danger|danger de mort|ventilator|intubated|intubee?|"
        r"resuscitated|reanimee?|could have killed me|failli y rester|"
        r"(?:epipen|epi-pen|epi pen|adrenaline|adrenalin|stylo d'adrenaline|paramedics|samu|"
        r"pompiers)(?: [\w']+){0,3} (?:saved|sauve|a sauve) (?:my|ma|la|sa|his|her) ?(?:life|vie))(?![\w])"
    ),
    "hospitalisation": re.compile(
        r"(?<![\w])(?:hospitali[sz](?:ed|ation)|in (?:the )?hospital|to (?:the )?hospital|"
        r"admitted|icu|intensive care|hospital stay|hopital|hospitalise|hospitalisee|"
        r"hospitalisation|reanimation|soins intensifs|en rea|the er|an er|er visit|to er|in er|"
        r"emergency room|a&e|a & e|urgences|ambulance|samu|surgery|operated on|operee?|"
        r"chirurgie|hosp|hospitalized|hospitalised|hospital|resus|kept (?:him|her|me|them|us) "
        r"(?:in|overnight)|kept in (?:for|overnight|hospital)|(?:on|in|to) (?:the|a) (?:\w+ )?ward|"
        r"en observation|gardee? (?:en observation|la nuit)|l'ont garde|grands brules|"
        r"en (?:cardio|cardiologie|pediatrie|neuro|neurologie|pneumo|hemato|service)|"
        r"admise?|transferee? (?:en|aux|a l')|on a drip|on an iv|put on a drip|iv fluids|"
        r"sous perfusion|mis sous perfusion)(?![\w])"
    ),
    "disability": re.compile(
        r"(?<![\w])(?:disabled|disability|permanent|permanently|wheelchair|can't walk anymore|"
        r"cannot walk anymore|can no longer walk|never walk again|can't work anymore|lost my job|"
        r"handicap|handicape|handicapee|invalidite|invalide|sequelles?|fauteuil roulant|"
        r"ne peut plus marcher|ne marche plus|a vie|definitive|definitif|irreversible|"
        r"can barely walk|can't walk|cant walk|couldn't walk|unable to walk|bedridden|"
        r"bed-bound|bedbound|housebound|for good|years later|on disability|"
        r"ne peux plus marcher|n'arrive plus a marcher|"
        r"ans apres|toujours pas remise?|plus jamais (?:pu|ete)|(?:it's|its|it has) been \d+ "
        r"(?:months|years)|\d+ (?:months|years) later|toujours pas guerie?|"
        r"depuis \d+ (?:mois|ans) et toujours|(?:with|avec) (?:a|une) (?:cane|canne|walking stick|"
        r"walker|deambulateur)|walking stick|on crutches|en bequilles)(?![\w])"
    ),
    "congenital_anomaly": re.compile(
        r"(?<![\w])(?:birth defects?|born with|congenital|malformations?|ne avec|nee avec|"
        r"congenitale?)(?![\w])"
    ),
}
ORDER = (
    "death",
    "life_threatening",
    "hospitalisation",
    "disability",
    "congenital_anomaly",
    "other_medically_important",
)


def clause_before(folded: str, start: int) -> str:
    """The text of the clause that ends at ``start`` (the words before a hit)."""
    cut = 0
    for m in _CLAUSE_END.finditer(folded, 0, start):
        cut = m.end()
    return folded[cut:start]


def in_scope(folded: str, start: int, pattern: re.Pattern[str], window: int) -> bool:
    """True when ``pattern`` occurs in the last ``window`` words of the clause before ``start``."""
    words = clause_before(folded, start).split()
    return bool(pattern.search(" ".join(words[-window:])))


#: Hedges on the cause, not on the event: "Cardelio might be why I'm so tired".
_CAUSAL_HEDGE = re.compile(
    r"(?:may|might|could) be (?:why|the cause|causing|behind|related|the reason)|"
    r"(?:peut-etre|pourrait etre) (?:la cause|a cause|pourquoi|la raison)"
)
#: Words after a hit that say it went away ("migraines gone", "headaches are way down").
_IMPROVED_AFTER = re.compile(
    r"^(?:'s|s)?(?:[ ]+[\w']+){0,2}?[ ]+(?:gone|disappeared|went away|way down|much better|disparu|"
    r"disparues?|envolees?|est tombee?|est partie?|a baisse|a disparu|went down|came down|"
    r"broke|is down|is better|va mieux)\b"
)
_IMPROVED_BEFORE = re.compile(
    r"(?<![\w'])(?:no more|plus de|plus d'|moins de|fewer|less|stopped my|cured my|"
    r"helped with|helps with|a soulage|soulage|for my|pour mes|pour ma|pour mon|for this|"
    r"for that|for the|pour ce|pour cette|pour cet|pour les|contre les|contre mes|contre ma|"
    r"sauve de|sauvee de|saved me from|got rid of|debarrasse de|debarrassee de|fini les|"
    r"sortie de|sorti de|got me out of|pulled me out of|a aide|m'a aidee?|helped my|"
    r"contre mon|contre la|contre le|since my|depuis ma|depuis mon|depuis mes)(?![\w])"
)
#: After a hit: it predates the medicine ("migraines for years before I started X", "depuis
#: l'enfance"), the medicine does not touch it ("headache is still there"), or it is what others
#: tell of ("the fainting stories"): not a reported reaction.
_BEFORE_OR_UNTOUCHED_AFTER = re.compile(
    r"^(?:'s|s)?(?:[ ,]+[\w']+){0,4}?[ ,]+(?:(?:long|well|years|way) before|before (?:i|starting|"
    r"taking|it|my)|bien avant|avant de (?:prendre|commencer)|avant (?:le|la|mon|ma) |"
    r"since my (?:teens|twenties|childhood|teenage years)|since childhood|all my life|"
    r"depuis toujours|depuis des annees|depuis mes \d+ ans|"
    r"since i was (?:a )?(?:baby|kid|child|teen|little)|depuis (?:l'enfance|mon enfance|"
    r"toute petite|tout petit|petite|petit|l'adolescence)|is still there|still there|"
    r"stories|story|horror stories|histoires)\b"
)
#: Before a hit: the medicine did not relieve it ("toujours ce mal de crâne", "used to kill my").
_UNTOUCHED_BEFORE = re.compile(
    r"(?<![\w'])(?:toujours ce|toujours cette|toujours ces|toujours aussi|used to kill my|"
    r"used to fix my|used to stop my|barely touches my|doesn't touch my|still have my|"
    r"still get my|still feel exactly as|still feel as|still feel just as|still just as|"
    r"still exactly as)(?![\w])"
)


#: "won't stop shaking", "n'arrête pas de vomir": a negated "stop" affirms what follows.
_NOT_STOPPING = re.compile(
    r"(?<![\w'])(?:won't|wont|can't|cant|couldn't|couldnt|wouldn't|wouldnt|doesn't|doesnt|"
    r"don't|dont|didn't|didnt|never) stop|n'arrete (?:pas|plus|jamais)|arrete pas|arrete jamais"
)


_TREATED_BEFORE = re.compile(
    r"(?<![\w'])(?:for my|for his|for her|for this|for the|pour mes|pour ma|pour mon|pour ses|"
    r"pour son|pour sa|contre les|contre mes|contre ma|contre mon|contre la|contre le)(?![\w])"
)


def treated(folded: str, start: int) -> bool:
    """The hit is what a medicine is taken for: "for my migraines", "contre les brûlures"."""
    return in_scope(folded, start, _TREATED_BEFORE, 3)


def denied(folded: str, start: int, end: int | None = None) -> bool:
    """The hit at ``start`` is negated ("no nausea"), hypothetical ("could cause nausea") or
    gone ("no more migraines", "migraines gone")."""
    words = _NOT_STOPPING.sub(" ", clause_before(folded, start)).split()
    if NEGATION.search(" ".join(words[-NEGATION_WINDOW:])):
        return True
    if in_scope(folded, start, _IMPROVED_BEFORE, 3):
        return True
    if end is not None and _IMPROVED_AFTER.search(folded[end : end + 40]):
        return True
    if end is not None and _BEFORE_OR_UNTOUCHED_AFTER.search(folded[end : end + 60]):
        return True
    if in_scope(folded, start, _UNTOUCHED_BEFORE, 4):
        return True
    before = _CAUSAL_HEDGE.sub(" ", clause_before(folded, start))
    return bool(HYPOTHETICAL.search(" ".join(before.split()[-12:])))


#: "they said", "they kept me in": the carers speaking, which does not make the text about others.
THEY_CARE = re.compile(
    r"(?<![\w'])they (?:said|say it|told|think|thought|gave|put|had to|kept|admitted|took|did|"
    r"found|ran|checked|reckon|called|sent|switched|changed|stopped|upped|lowered)(?![\w'])"
)


def self_reference(folded: str) -> bool:
    """The author writes about their own body or experience (first person, not "I read")."""
    stripped = _NOT_SELF.sub(" ", folded)
    return bool(SELF.search(stripped))


#: "X made me ...", "X has me ...", "X me donne ...", "X m'a fait ...": the medicine did something
#: to someone. Read as an unspecified reaction when the lexicon names none, unless what follows
#: is good news ("made me feel better", "me fait du bien") or nothing ("me fait rien").
AE_FRAME = re.compile(
    r"(?<![\w'])(?:(?:made|makes|making|make|gave|gives|giving|give|turned|turns) "
    r"(?:me|him|her|us|my (?:\w+ )?\w+)|(?:got|gets|has|had|having|left|leaves|leaving|keeps|"
    r"kept) (?:me|him|her|us)|"
    r"(?:me|m'|lui|l'|nous) ?(?:donne|a donne|donnait|file|a file|fait|a fait|faisait|rend|"
    r"a rendu|rendait|provoque|a provoque|cause|a cause|met|a mis|mettait|colle|a colle|"
    r"declenche|a declenche|flingue|a flingue|detraque|a detraque))(?![\w'])"
)
_GOOD_AFTER = re.compile(
    r"^[ ,]*(?:really |absolutely |just |actually |honestly |truly |vraiment |absolument |"
    r"strictement |juste |tellement |trop |hyper |super |pas )?"
    r"(?:feel |feeling |so |much |a lot |way |soo+ )?(?:better|good|great|fine|happy|"
    r"happier|calm|calmer|normal|human|alive|myself|hopeful|productive|focused|smile|laugh|"
    r"want|think|realize|realise|wonder|love|able|life back|my life back|sane|whole|less|"
    r"stable|functional|energized|energetic|motivated|confident|level|balanced|grounded|going|"
    r"du bien|bien|mieux|plaisir|rien|aucun|plus rien|effet|sourire|rire|revivre|penser|"
    r"envie de vivre|la vie|ma vie|my life|mon sourire|le sourire|ma joie|gout de vivre|"
    r"espoir|sous|on it|du sport|confiance|plus calme|zen|sur ordonnance|a jeun|"
    r"un test|une prise de sang|un bilan|ma piqure|mon injection|l'injection|la piqure|"
    r"take|taking|prendre|try|essayer|a question|an appointment|wait|pay|a prescription|"
    r"\d+|the wrong|the right|some|another|du|de la|des|une? (?:boite|ordonnance|dose)|"
    r"someone else's|somebody else's|le \w+ d'une? autre|la \w+ d'une? autre|"
    r"a (?:box|script|dose|refill|shot|jab))(?![\w'])"
)


def reaction_frame(folded: str) -> re.Match[str] | None:
    """The first "X made me ..." frame that is not denied, hypothetical, nor good news."""
    for m in AE_FRAME.finditer(folded):
        if _GOOD_AFTER.search(folded[m.end() : m.end() + 40]):
            continue
        if not denied(folded, m.start()):
            return m
    return None


_BODY = (
    r"head|stomach|tummy|belly|gut|heart|chest|legs?|arms?|hands?|feet|foot|fingers|toes|eyes?|"
    r"ears?|skin|face|lips|tongue|mouth|throat|jaw|teeth|gums|back|neck|shoulders?|knees?|"
    r"hips?|joints|muscles|bones|ankles|wrists|nose|scalp|hair|nails|bladder|bowels|breasts?|"
    r"injection site|point d'injection|"
    r"boobs|nipples|kidneys?|liver|vision|period|tete|ventre|estomac|coeur|poitrine|jambes?|"
    r"bras|mains?|pieds?|doigts|orteils|yeux|oeil|oreilles?|peau|visage|levres|langue|bouche|"
    r"gorge|machoire|dents|gencives|dos|nuque|epaules?|genoux|hanches?|articulations|muscles|"
    r"os|chevilles|poignets|nez|cuir chevelu|cheveux|ongles|vessie|seins|reins|foie|vue|regles|"
    r"periods|cycle|thyroid|gallbladder|hormones|lungs?|gums|bowel|thyroide|poumons?|"
    r"vesicule|hormones|cycles"
)
#: A body part doing something bad: "my hands are purple", "my jaw aches", "les jambes qui
#: brûlent", "mal au genou". Read as an unspecified reaction when the lexicon names none.
BODY_COMPLAINT = re.compile(
    rf"(?<![\w'])(?:my|his|her|their|the|mes|mon|ma|ses|son|sa|les|la|le|l') ?(?:\w+ )?"
    rf"(?P<body>{_BODY}) (?:is |are |was |were |feels? |felt |keeps? |kept |went |goes |got |"
    r"qui |me |lui |se |sont |est |etait |etaient )?(?:so |really |super |all |a little |"
    r"a bit |kinda |slightly |tout |toute |un peu |"
    r"tres |hyper |completement )?(?:hurts?|hurting|hurt|aches?|aching|ached|burn(?:s|ing|ed)?|"
    r"itch(?:es|ing|y)?|tingl(?:es|ing|y)|swollen|swelled|swelling|numb|throb(?:s|bing)?|sore|"
    r"killing me|on fire|purple|blue|yellow|grey|gray|bleeding|bleeds|bled|twitch(?:es|ing|y)?|"
    r"shaking|shakes|cramping|pounding|racing|weak|stiff|peeling|falling out|breaking out|"
    r"raw|stinging|stings|cracked|inflamed|irritated|flaking|flaky|"
    r"puffy|brule|brulent|bruler|gratte|grattent|fait mal|font mal|faisait mal|tremble|"
    r"tremblent|gonfle|gonflent|gonflee?s?|enfle|enflee?s?|saigne|saignent|picote|picotent|"
    r"lance|lancent|engourdie?s?|violets?|violettes?|jaunes?|gris|grise|raide|raides|"
    r"douloureux|douloureuses?|en feu|en compote|en vrac|qui pele|pelent|red|rouges?|rougi|"
    r"(?:gone|went|going|has gone) haywire|haywire|flared up|flaring|acting up|playing up|"
    r"all over the place|out of whack|messed up|detraque|detraquee?s?|deregle|dereglee?s?|"
    r"n'importe quoi|scarred|damaged|abime|abimee?s?)"
    r"(?![\w'])"
    r"|(?<![\w'])(?:j'ai |j ai |jai |g |il a |elle a |a )?mal (?:au|aux|a la|a l'|a) ?\w+"
)


def body_complaint(folded: str) -> re.Match[str] | None:
    """The first body complaint that is not denied nor hypothetical."""
    for m in BODY_COMPLAINT.finditer(folded):
        at = m.start("body") if m.group("body") else m.start()
        if not denied(folded, at, m.end()):
            return m
    return None
