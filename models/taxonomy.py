"""The topic taxonomy (``models/taxonomy.yaml``): what the classifier labels, as validated data.

Why data and not code: the topics a comms team cares about change (a new product line, a market
where misinformation matters), and a label set is reviewed by people who do not read Python. Why
strict validation with file, line and field in every error: a typo in a topic id would otherwise
silently become a topic with no training data, or drop a topic from the metrics.

Line numbers come from PyYAML's composed node tree (``yaml.compose`` keeps each node's start mark),
so an error on ``topics[3].description`` points at the line of that description, or of the
enclosing mapping when the field is missing.

Exceptions::

    ValueError
     └── TaxonomyError   -- the file is not valid YAML or breaks the schema; message is
                            "<file>:<line>: field '<path>': <why>" (one line per problem)
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
)

from models.cues import check_cue, normalise
from pipeline.errors import TocsinError

DEFAULT_TAXONOMY = Path(__file__).parent / "taxonomy.yaml"

TopicId = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,39}$")]
NonEmpty = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
LangCode = Annotated[str, StringConstraints(pattern=r"^[a-z]{2}$")]


#: A cue (models/cues.py): a word stem or short phrase; ``*`` ending a word makes it a prefix.
Cue = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=60),
    AfterValidator(check_cue),
]

Loc = tuple[str | int, ...]


class TaxonomyError(TocsinError, ValueError):
    """The taxonomy file is unreadable, not YAML, or breaks the schema (file, line, field named)."""


class Topic(BaseModel):
    """One topic: a stable id, a description for labellers and readers, a few examples."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: TopicId
    description: NonEmpty
    examples: list[NonEmpty] = Field(min_length=1)
    threshold_beta: float = Field(default=1.0, gt=0, le=10)
    #: Recall the threshold must reach on cross-validated training scores before F-beta is
    #: maximised (for topics where a miss is the costly error, e.g. adverse events).
    min_recall: float | None = Field(default=None, gt=0, le=1)
    #: Optional cue lexicon per language (``{en: [...], fr: [...]}``): word stems and short
    #: phrases an analyst associates with the topic, turned into features by models/cues.py.
    cues: dict[LangCode, list[Cue]] | None = None


class Taxonomy(BaseModel):
    """The whole file. ``fallback`` names the topic given when no other topic applies."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: int = Field(ge=1)
    fallback: TopicId
    topics: list[Topic] = Field(min_length=2)

    @property
    def ids(self) -> tuple[str, ...]:
        """All topic ids in file order, the fallback included."""
        return tuple(t.id for t in self.topics)

    @property
    def trained(self) -> tuple[str, ...]:
        """Topics with a trained head (every topic but the fallback)."""
        return tuple(t.id for t in self.topics if t.id != self.fallback)

    @property
    def betas(self) -> dict[str, float]:
        """Per-topic F-beta for threshold choice, only where it differs from 1."""
        return {t.id: t.threshold_beta for t in self.topics if t.threshold_beta != 1.0}

    @property
    def min_recalls(self) -> dict[str, float]:
        """Per-topic recall floor for threshold choice, only where one is set."""
        return {t.id: t.min_recall for t in self.topics if t.min_recall is not None}

    @property
    def cue_lexicon(self) -> dict[str, tuple[str, ...]]:
        """Topics with cues, in file order: every language's cues merged (a text may mix them)."""
        return {
            t.id: tuple(c for lang in sorted(t.cues) for c in t.cues[lang])
            for t in self.topics
            if t.cues
        }


def _node_at(root: yaml.Node, loc: Loc) -> yaml.Node:
    """The deepest node along ``loc`` (a missing key stops at its parent mapping)."""
    node = root
    for part in loc:
        if isinstance(node, yaml.MappingNode) and isinstance(part, str):
            match = [v for k, v in node.value if isinstance(k, yaml.ScalarNode) and k.value == part]
            if not match:
                return node
            node = match[0]
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if not 0 <= part < len(node.value):
                return node
            node = node.value[part]
        else:
            return node
    return node


def _field(loc: Loc) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out or "(top level)"


def _problem(path: Path, root: yaml.Node | None, loc: Loc, why: str) -> str:
    line = _node_at(root, loc).start_mark.line + 1 if root is not None else 1
    return f"{path}:{line}: field {_field(loc)!r}: {why}"


def _semantic_problems(tax: Taxonomy) -> list[tuple[Loc, str]]:
    """Rules across fields that pydantic's per-field checks cannot express."""
    problems: list[tuple[Loc, str]] = []
    seen: dict[str, int] = {}
    for i, topic in enumerate(tax.topics):
        if topic.id in seen:
            problems.append(
                (
                    ("topics", i, "id"),
                    f"duplicate topic {topic.id!r} (first at topics[{seen[topic.id]}])",
                )
            )
        seen.setdefault(topic.id, i)
    for i, topic in enumerate(tax.topics):
        for lang, cues in (topic.cues or {}).items():
            loc: Loc = ("topics", i, "cues", lang)
            if not cues:
                problems.append((loc, "empty cue list (leave the language out instead)"))
            first: dict[str, int] = {}
            for k, cue in enumerate(cues):
                norm = normalise(cue)
                if norm in first:
                    problems.append(
                        ((*loc, k), f"duplicate cue {cue!r} (first at {lang}[{first[norm]}])")
                    )
                first.setdefault(norm, k)
    if tax.fallback not in seen:
        problems.append((("fallback",), f"{tax.fallback!r} is not one of the topic ids"))
    return problems


def parse_taxonomy(text: str, path: Path = DEFAULT_TAXONOMY) -> Taxonomy:
    """Validate taxonomy YAML ``text``; ``path`` is only used in error messages."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        why = getattr(exc, "problem", None) or str(exc)
        raise TaxonomyError(f"{path}:{line}: not valid YAML ({why})") from exc
    if not isinstance(data, dict):
        raise TaxonomyError(f"{path}:1: field '(top level)': expected a mapping with 'topics'")
    try:
        tax = Taxonomy.model_validate(data)
    except ValidationError as exc:
        lines = [_problem(path, root, tuple(e["loc"]), e["msg"]) for e in exc.errors()]
        raise TaxonomyError("\n".join(lines)) from None
    problems = _semantic_problems(tax)
    if problems:
        raise TaxonomyError("\n".join(_problem(path, root, loc, why) for loc, why in problems))
    return tax


def load_taxonomy(path: Path = DEFAULT_TAXONOMY) -> Taxonomy:
    """Read and validate a taxonomy file (default: the one bundled with ``models/``)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise TaxonomyError(f"{path}: cannot read taxonomy ({exc.strerror})") from exc
    return parse_taxonomy(text, path)


def check_labels(tax: Taxonomy, used: Sequence[str], source: str) -> None:
    """Fail when a corpus uses topics the taxonomy does not define (a typo or a stale corpus)."""
    unknown = sorted(set(used) - set(tax.ids))
    if unknown:
        raise TaxonomyError(f"{source}: topics {unknown} are not in the taxonomy {list(tax.ids)}")
