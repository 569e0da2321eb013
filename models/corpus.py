"""The labelled corpus the head is trained and evaluated on (JSONL, one mention per line).

Fields: ``text``, ``lang`` (en|fr), ``topics`` (list), ``stance``, ``split`` (train|test). Lines
are validated on load with an error naming the file, line and field, because a typo in a label
would otherwise quietly become a new class or vanish from the metrics.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

DEFAULT_CORPUS = Path(__file__).parent / "data" / "seed_corpus.jsonl"

#: Canonical order for reports and heads; topics found in a corpus but not listed here are kept,
#: appended in alphabetical order, so a richer taxonomy needs no code change.
TOPIC_ORDER = (
    "pricing",
    "scandal",
    "advocacy",
    "boycott",
    "adverse_event",
    "misinformation",
    "clinical_trial",
    "regulatory",
    "conference",
    "other",
)
STANCES = ("supportive", "neutral", "critical")
SPLITS = ("train", "test")
LANGS = ("en", "fr")


class CorpusError(ValueError):
    """A corpus line is not valid JSON or has a missing or invalid field."""


@dataclass(frozen=True)
class Example:
    """One labelled mention."""

    text: str
    lang: str
    topics: tuple[str, ...]
    stance: str
    split: str


def _field_error(path: Path, line: int, name: str, why: str) -> CorpusError:
    return CorpusError(f"{path}:{line}: field {name!r}: {why}")


def parse_line(raw: str, path: Path, line: int) -> Example:
    """One validated example from one JSONL line."""
    try:
        obj = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise CorpusError(f"{path}:{line}: not valid JSON ({exc.msg})") from exc
    if not isinstance(obj, dict):
        raise CorpusError(f"{path}:{line}: expected a JSON object")
    text = obj.get("text")
    if not isinstance(text, str) or not text.strip():
        raise _field_error(path, line, "text", "must be a non-empty string")
    topics = obj.get("topics")
    if (
        not isinstance(topics, list)
        or not topics
        or not all(isinstance(t, str) and t for t in topics)
    ):
        raise _field_error(path, line, "topics", "must be a non-empty list of strings")
    for name, allowed in (("lang", LANGS), ("stance", STANCES), ("split", SPLITS)):
        if obj.get(name) not in allowed:
            raise _field_error(path, line, name, f"{obj.get(name)!r} is not one of {allowed}")
    if "other" in topics and len(topics) > 1:
        raise _field_error(path, line, "topics", "'other' cannot be combined with other topics")
    return Example(text, obj["lang"], tuple(dict.fromkeys(topics)), obj["stance"], obj["split"])


def load_corpus(path: Path = DEFAULT_CORPUS) -> list[Example]:
    """All examples of a corpus file, skipping blank lines."""
    if not path.is_file():
        raise FileNotFoundError(f"training corpus not found: {path}")
    out = []
    with path.open(encoding="utf-8") as f:
        for n, raw in enumerate(f, start=1):
            if raw.strip():
                out.append(parse_line(raw, path, n))
    if not out:
        raise CorpusError(f"{path}: no examples")
    return out


def topics_of(examples: list[Example]) -> tuple[str, ...]:
    """Topics used in ``examples``: canonical ones in canonical order, then unknown ones sorted."""
    seen = {t for e in examples for t in e.topics}
    known = [t for t in TOPIC_ORDER if t in seen]
    return (*known, *sorted(seen - set(TOPIC_ORDER)))
