"""Topic cue lexicon features: how often a text uses the words an analyst associates with a topic.

Why: the head learns its words from ~1,400 training lines, so a regulator, a trial term or a
rumour word it has not seen there carries no weight. The optional ``cues`` lists of
``models/taxonomy.yaml`` bring that domain knowledge as data (reviewable by people who do not
read Python); this module turns them into one small dense column per topic, appended to the
embedding and standardised with it (see ``Head.features``).

Matching, on lower-cased, accent-folded text (``models.ngrams.fold``; typographic apostrophes
become ``'``): a cue starts at a word boundary and ends at one; ``*`` ending a word makes that word
a prefix (``rembours*`` matches "remboursé" and "reimbursement" does not; ``effet* secondaire*``
matches "effets secondaires"); spaces inside a cue match any run of whitespace. Each column is
``log1p(number of matches)``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

import numpy as np
import numpy.typing as npt

from models.ngrams import fold

_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'"})


def normalise(text: str) -> str:
    """The form both texts and cues are matched in: folded, one apostrophe."""
    return fold(text).translate(_APOSTROPHES)


@lru_cache(maxsize=64)
def cue_pattern(cues: tuple[str, ...]) -> re.Pattern[str]:
    """One regex matching any of ``cues`` (syntax in the module docstring); cached, as serving
    calls it once per batch."""
    if not cues:
        raise ValueError("a topic's cue list must not be empty")
    parts = []
    # longest first, so "rappel de lot" is counted once rather than as "rappel"
    for cue in sorted({normalise(c.strip()) for c in cues}, key=len, reverse=True):
        words = []
        for word in cue.split():
            stem = word[:-1] if word.endswith("*") else word
            if "*" in stem or not re.search(r"\w", stem):
                raise ValueError(f"cue {cue!r}: each word needs a letter, '*' only at its end")
            words.append(re.escape(stem) + (r"\w*" if word.endswith("*") else ""))
        parts.append(r"(?<!\w)" + r"\s+".join(words) + r"(?!\w)")
    return re.compile("|".join(parts))


def cue_features(texts: Sequence[str], lexicon: Sequence[Sequence[str]]) -> npt.NDArray[np.float64]:
    """``(len(texts), len(lexicon))``: ``log1p`` of each cue list's matches in each text."""
    patterns = [cue_pattern(tuple(cues)) for cues in lexicon]
    out = np.zeros((len(texts), len(patterns)))
    for i, text in enumerate(texts):
        norm = normalise(text)
        for j, pattern in enumerate(patterns):
            out[i, j] = np.log1p(sum(1 for _ in pattern.finditer(norm)))
    return out
