"""Language of a mention (``en``, ``fr`` or ``other``) from stopwords and letters, not the model.

Why a heuristic rather than a head on embeddings: the training corpus only has English and French,
so a trained head could never answer ``other`` -- and multilingual-e5 embeds a Spanish or German
post close to its English meaning, which is what we want for topics but the opposite of what
language detection needs. Function words and accents are a strong, cheap, explainable signal for
telling two languages apart; the score is only used to route drafts and split metrics.
"""

from __future__ import annotations

import re
import unicodedata

LANGS = ("en", "fr", "other")


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_EN = _words(
    "the a an and or but of to in on for with is are was were be been this that these those "
    "it its my your our their i you he she we they me him her us them not no do does did "
    "have has had will would can could should just so very what why how when who about from "
    "after at by if as than then there here all any im i'm don't can't won't it's gonna got"
)
_FR = _words(
    "le la les un une des du de d l et ou mais est sont été être ce cet cette ces il elle "
    "ils elles je tu nous vous on mon ma mes ton ta tes son sa ses notre nos votre vos leur "
    "leurs pas ne n plus que qui quoi quand comment pourquoi dans sur pour avec sans par chez "
    "au aux y en très c'est j'ai qu'il n'est aussi encore toujours moi toi lui eux ça ca"
)
#: Function words of other common Latin-script languages (es, pt, it, de) that are *not* English
#: or French words, so "other" can win for them instead of the nearer of en/fr.
_OTHER = _words(
    "el los las del y es por con una para al lo como más pero muy sin también hay donde "
    "não uma com os também muito mas isso está "
    "il gli della che è non per sono anche questo molto "
    "der die das und ist nicht mit sich auch auf für ein eine dem den von zu ich wir sehr"
)
_FR_ELIDED = frozenset(("l", "d", "j", "c", "n", "qu", "s", "m", "t"))
_FR_CHARS = frozenset("éèêëàâçîïôûùœ")
_WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?", re.UNICODE)
_URL = re.compile(r"https?://\S+|[@#$]\w+")


def detect_lang(text: str) -> str:
    """``en``, ``fr`` or ``other`` for one text.

    Mostly non-Latin letters -> ``other``; else whichever language's stopwords (plus French
    accented letters, worth half a stopword each) score higher, with at least one hit needed.
    """
    cleaned = _URL.sub(" ", text.lower().replace("\u2019", "'"))
    letters = [c for c in cleaned if c.isalpha()]
    if not letters:
        return "other"
    latin = sum(1 for c in letters if "LATIN" in unicodedata.name(c, ""))
    if latin < 0.6 * len(letters):
        return "other"
    words = _WORD.findall(cleaned)
    en = sum(1 for w in words if w in _EN)
    fr = sum(1 for w in words if w in _FR or w.split("'")[0] in _FR_ELIDED)
    fr_accents = sum(1 for c in letters if c in _FR_CHARS)
    fr_score = fr + 0.5 * min(fr_accents, 4)
    other = sum(1 for w in words if w in _OTHER)
    if (en == 0 and fr_score < 1) or other > max(en, fr_score):
        return "other"
    return "fr" if fr_score > en else "en"
