"""What the triage takes from a learned model: flags per criterion from a sentence embedding.

The rules of this package read words; a model over the classifier encoder's sentence embedding
(:class:`models.pvhead.PvHead`) reads meaning, and so carries over better to wording no list
holds yet. The triage adds its flags to the rules' findings (rule OR model, see
:func:`pipeline.pv.triage.add_learned`): a reaction the rules did not find is reported as the
unspecified ``Adverse drug reaction``, a serious one under the nearest seriousness category.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
import numpy.typing as npt

#: One mention's sentence embedding, as the classifier's encoder gives it.
Embedding = npt.NDArray[np.float32]


class LearnedCues(Protocol):
    """Per-target flags (``reaction``, ``patient``, ``serious``) and a seriousness category."""

    def flags(self, embedding: npt.ArrayLike) -> dict[str, bool]: ...

    def category(self, embedding: npt.ArrayLike) -> str: ...
