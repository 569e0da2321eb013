"""The response library: pre-approved holding statements per topic and language, as data.

A pharma company may only say in public what its medical, legal and regulatory reviewers approved.
The library (``config/responses.yaml``) holds those approved texts with their review record
(who approved, when, the review system reference, when the approval expires), so a responder in a
crisis starts from words that are already cleared instead of writing from scratch.

Placeholders are a closed set: ``{brand}``, ``{product}``, ``{date}``, ``{link}``. Rendering is
done here, piece by piece, never with ``str.format`` on the template: no attribute or index access
(``{brand.__class__}``), no format specs, and a value is inserted verbatim (a value containing
braces is not expanded again). An unknown placeholder is a load-time error naming the file, line,
template id and field.

Validation refuses, for a topic that requires review (``review_required_topics``) or a template
marked ``requires_review``: a missing reviewer, date or reference, an approval dated in the future
or after its expiry, and an expired approval. An expired template of any topic is refused.
"""

from __future__ import annotations

import string
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from pipeline.approvals.errors import RenderError
from pipeline.errors import ConfigError
from pipeline.yamlfile import Loc, YamlDoc, read_yaml, validate

PLACEHOLDERS = ("brand", "product", "date", "link")
LANGUAGES = ("en", "fr")
_FORMATTER = string.Formatter()


class ReviewSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    approved_by: str | None = None
    approved_on: date | None = None
    reference: str | None = None
    expires_on: date | None = None
    requires_review: bool = False


class TemplateSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]{2,80}$")
    topic: str = Field(pattern=r"^[a-z][a-z0-9_]{0,39}$")
    language: str = Field(pattern=r"^[a-z]{2}$")
    title: str = Field(min_length=3, max_length=120)
    text: str = Field(min_length=20, max_length=3000)
    review: ReviewSpec = Field(default_factory=ReviewSpec)


class LibraryFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: int = Field(ge=1)
    review_required_topics: list[str] = Field(default_factory=list)
    templates: list[TemplateSpec] = Field(min_length=1)


@dataclass(frozen=True)
class Review:
    """The review record of one template (empty fields for an unreviewed template)."""

    approved_by: str | None
    approved_on: date | None
    reference: str | None
    expires_on: date | None


@dataclass(frozen=True)
class Template:
    """A holding statement; ``requires_review`` means an edit of it must be reviewed again."""

    id: str
    topic: str
    language: str
    title: str
    text: str
    placeholders: frozenset[str]
    review: Review
    requires_review: bool

    def usable_on(self, day: date) -> bool:
        """False once the approval has expired (the day of expiry is no longer usable)."""
        return self.review.expires_on is None or day < self.review.expires_on

    def render(self, values: Mapping[str, str]) -> str:
        return render(self.text, values, template_id=self.id)


@dataclass(frozen=True)
class Library:
    """All templates, looked up by id or by topic and language."""

    templates: tuple[Template, ...]
    review_topics: frozenset[str]

    def get(self, template_id: str) -> Template:
        for template in self.templates:
            if template.id == template_id:
                return template
        raise KeyError(template_id)

    def candidates(self, topic: str, language: str, day: date) -> list[Template]:
        """Unexpired templates for ``topic`` in ``language``, in file order."""
        return [
            t
            for t in self.templates
            if t.topic == topic and t.language == language and t.usable_on(day)
        ]

    def languages(self) -> frozenset[str]:
        return frozenset(t.language for t in self.templates)


def placeholders_of(text: str) -> tuple[list[str], list[str]]:
    """(placeholder names used, problems) in ``text``; problems are human-readable."""
    names: list[str] = []
    problems: list[str] = []
    try:
        parts = list(_FORMATTER.parse(text))
    except ValueError as exc:
        return names, [f"unbalanced braces ({exc}); write {{{{ and }}}} for literal braces"]
    for _literal, field, spec, conversion in parts:
        if field is None:
            continue
        if field not in PLACEHOLDERS:
            problems.append(
                f"unknown placeholder {{{field}}}; allowed: "
                + ", ".join(f"{{{p}}}" for p in PLACEHOLDERS)
            )
        elif spec or conversion:
            problems.append(f"placeholder {{{field}}} takes no format spec or conversion")
        else:
            names.append(field)
    return names, problems


def render(text: str, values: Mapping[str, str], *, template_id: str = "?") -> str:
    """Fill ``text``'s placeholders with ``values`` verbatim; RenderError if one is missing."""
    names, problems = placeholders_of(text)
    if problems:
        raise RenderError(f"template {template_id!r}: {problems[0]}")
    missing = sorted({n for n in names if not values.get(n)})
    if missing:
        raise RenderError(f"template {template_id!r}: no value for {', '.join(missing)}")
    out: list[str] = []
    for literal, field, _spec, _conv in _FORMATTER.parse(text):
        out.append(literal)
        if field is not None:
            out.append(values[field])
    return "".join(out)


def _check_review(
    doc: YamlDoc, i: int, spec: TemplateSpec, required: bool, today: date
) -> list[str]:
    loc: Loc = ("templates", i, "review")
    subject = f"template {spec.id!r}"
    review = spec.review
    problems: list[str] = []
    if required:
        for name in ("approved_by", "approved_on", "reference", "expires_on"):
            value = getattr(review, name)
            if value is None or (isinstance(value, str) and not value.strip()):
                problems.append(
                    doc.problem(
                        (*loc, name),
                        "missing: this topic or template requires a reviewed template",
                        subject=subject,
                    )
                )
    if review.approved_on and review.approved_on > today:
        problems.append(
            doc.problem(
                (*loc, "approved_on"), f"{review.approved_on} is in the future", subject=subject
            )
        )
    if review.approved_on and review.expires_on and review.expires_on <= review.approved_on:
        problems.append(
            doc.problem((*loc, "expires_on"), "expires before it was approved", subject=subject)
        )
    if review.expires_on and review.expires_on <= today:
        problems.append(
            doc.problem(
                (*loc, "expires_on"), f"approval expired on {review.expires_on}", subject=subject
            )
        )
    return problems


def build_library(doc: YamlDoc, *, today: date, topics: Iterable[str] | None = None) -> Library:
    """Validate a parsed library file; every problem is listed in one ConfigError."""
    spec = validate(doc, LibraryFile)
    known = frozenset(topics) if topics is not None else None
    problems: list[str] = []
    for j, topic in enumerate(spec.review_required_topics):
        if known is not None and topic not in known:
            problems.append(doc.problem(("review_required_topics", j), f"unknown topic {topic!r}"))
    review_topics = frozenset(spec.review_required_topics)
    templates: list[Template] = []
    seen: dict[str, int] = {}
    for i, t in enumerate(spec.templates):
        subject = f"template {t.id!r}"
        if t.id in seen:
            problems.append(
                doc.problem(
                    ("templates", i, "id"),
                    f"duplicate (first at templates[{seen[t.id]}])",
                    subject=subject,
                )
            )
        seen.setdefault(t.id, i)
        if known is not None and t.topic not in known:
            problems.append(
                doc.problem(
                    ("templates", i, "topic"), f"unknown topic {t.topic!r}", subject=subject
                )
            )
        if t.language not in LANGUAGES:
            problems.append(
                doc.problem(
                    ("templates", i, "language"),
                    f"{t.language!r} is not one of {', '.join(LANGUAGES)}",
                    subject=subject,
                )
            )
        names, text_problems = placeholders_of(t.text)
        problems += [
            doc.problem(("templates", i, "text"), p, subject=subject) for p in text_problems
        ]
        required = t.review.requires_review or t.topic in review_topics
        problems += _check_review(doc, i, t, required, today)
        r = t.review
        templates.append(
            Template(
                id=t.id,
                topic=t.topic,
                language=t.language,
                title=t.title,
                text=t.text.strip(),
                placeholders=frozenset(names),
                review=Review(r.approved_by, r.approved_on, r.reference, r.expires_on),
                requires_review=required,
            )
        )
    if problems:
        raise ConfigError("\n".join(problems))
    return Library(tuple(templates), review_topics)


def load_library(path: Path, *, today: date, topics: Iterable[str] | None = None) -> Library:
    """Read and validate the library; ``topics`` (taxonomy ids) are checked when given."""
    return build_library(read_yaml(path), today=today, topics=topics)
