"""Drafts: the library's holding statements filled in for one alert, ready to edit and approve.

For an alert, :func:`propose` picks templates for the alert's topic in the language of its top
mentions (a French pile-on gets a French statement), falling back to English, then to the general
``other`` templates; it fills ``{brand}``, ``{product}`` (the brand's product most named in the
top mentions), ``{date}`` and ``{link}``. A template whose placeholder has no value is skipped
rather than published with a hole in it.

A draft's id is derived from the alert's dedup key and the template id, so a redelivered alert
proposes the *same* drafts instead of new ones. :func:`edit` returns a new draft: if the text now
differs from the filled template and that template required review, ``needs_review`` is set,
because the pre-approval covered the template's words, not the responder's.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, fields, replace
from datetime import date
from typing import Any

from pipeline.approvals.audit import text_hash
from pipeline.approvals.errors import RenderError
from pipeline.approvals.library import Library, Template
from pipeline.brands import BrandSpec, fold
from pipeline.records import Alert

FALLBACK_LANGUAGE = "en"
FALLBACK_TOPIC = "other"
MAX_DRAFT_CHARS = 3000
_MONTHS = {
    "en": "January February March April May June July August September October November December",
    "fr": "janvier février mars avril mai juin juillet août septembre octobre novembre décembre",
}


@dataclass(frozen=True)
class Draft:
    """A proposed public response to one alert (JSON-able with ``to_dict``/``from_dict``)."""

    id: str
    alert_key: str
    brand: str
    topic: str
    severity: str
    template_id: str
    language: str
    text: str
    template_text: str
    template_requires_review: bool
    edited: bool = False
    template_reference: str = ""
    #: The rejected draft of the same alert and statement this one resubmits ("" for a first).
    resubmits: str = ""

    @property
    def text_hash(self) -> str:
        return text_hash(self.text)

    @property
    def needs_review(self) -> bool:
        """True when a reviewed template's words were changed: its pre-approval no longer holds."""
        return self.edited and self.template_requires_review

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Draft:
        # Fields added later have defaults, so drafts stored by an older version still load.
        return cls(**{f.name: data[f.name] for f in fields(cls) if f.name in data})


def draft_id(alert_key: str, template_id: str) -> str:
    """Stable id: the same alert and template always give the same draft id."""
    return "d" + hashlib.sha256(f"{alert_key}\x00{template_id}".encode()).hexdigest()[:15]


def format_date(day: date, language: str) -> str:
    """``22 November 2026`` / ``22 novembre 2026`` (no locale module: it is process-global)."""
    months = _MONTHS.get(language, _MONTHS["en"]).split()
    return f"{day.day} {months[day.month - 1]} {day.year}"


def language_of(alert: Alert) -> str:
    """The language most of the alert's top mentions are in (by count), ``en`` when unclear.

    ``why.language`` wins when the detector recorded it; otherwise each mention's ``lang`` field,
    else a cheap stopword detector on its text.
    """
    why = alert.why or {}
    if isinstance(why.get("language"), str) and why["language"] in _MONTHS:
        return str(why["language"])
    from models.lang import detect_lang

    votes: Counter[str] = Counter()
    for item in alert.top_mentions or []:
        lang = item.get("lang")
        if not isinstance(lang, str) or not lang:
            lang = detect_lang(str(item.get("text", "")))
        votes[lang] += 1
    known = [(n, lang) for lang, n in votes.items() if lang in _MONTHS]
    if not known:
        return FALLBACK_LANGUAGE
    best = max(n for n, _ in known)
    leaders = sorted(lang for n, lang in known if n == best)
    return FALLBACK_LANGUAGE if FALLBACK_LANGUAGE in leaders else leaders[0]


def product_of(alert: Alert, brand: BrandSpec | None) -> str | None:
    """The brand's product named most often in the top mentions (None if none is named)."""
    if brand is None:
        return None
    texts = [fold(str(m.get("text", ""))) for m in alert.top_mentions or []]
    counts: Counter[str] = Counter()
    for product in brand.products:
        terms = {fold(t).strip() for t in [product.name, *product.aliases, product.generic or ""]}
        pattern = re.compile(
            r"(?<!\w)(?:" + "|".join(re.escape(t) for t in terms if t) + r")(?!\w)"
        )
        counts[product.name] = sum(1 for text in texts if pattern.search(text))
    named = [(n, name) for name, n in counts.items() if n > 0]
    return max(named, key=lambda item: item[0])[1] if named else None


def values_for(
    alert: Alert, language: str, brands: Iterable[BrandSpec], link: str | None
) -> dict[str, str]:
    """Placeholder values for ``alert`` (a placeholder with no value is simply absent)."""
    spec = next((b for b in brands if b.id == alert.brand), None)
    values = {
        "brand": spec.name if spec else alert.brand,
        "date": format_date(alert.started_at.date(), language),
    }
    product = product_of(alert, spec)
    if product:
        values["product"] = product
    if link:
        values["link"] = link
    return values


def propose(
    alert: Alert,
    library: Library,
    *,
    brands: Iterable[BrandSpec],
    today: date,
    link: str | None = None,
    limit: int = 3,
) -> list[Draft]:
    """Up to ``limit`` filled drafts for ``alert``, best first.

    Order of preference: the alert's topic in the mentions' language, the topic in English, then
    the general ``other`` templates in either. Within one group, file order (the library's
    authors put the safest statement first). Expired templates and templates needing a value
    that is missing (no product named, no link configured) are left out.
    """
    brand_list = list(brands)
    language = language_of(alert)
    order = [(alert.topic, language), (alert.topic, FALLBACK_LANGUAGE)]
    order += [(FALLBACK_TOPIC, language), (FALLBACK_TOPIC, FALLBACK_LANGUAGE)]
    seen: set[str] = set()
    out: list[Draft] = []
    for topic, lang in order:
        values = values_for(alert, lang, brand_list, link)
        for template in library.candidates(topic, lang, today):
            if template.id in seen or len(out) >= limit:
                continue
            seen.add(template.id)
            draft = fill(alert, template, values)
            if draft is not None:
                out.append(draft)
    return out


def fill(alert: Alert, template: Template, values: Mapping[str, str]) -> Draft | None:
    """``template`` filled for ``alert``; None when a placeholder has no value."""
    try:
        text = template.render(values)
    except RenderError:
        return None
    return Draft(
        id=draft_id(alert.dedup_key, template.id),
        alert_key=alert.dedup_key,
        brand=alert.brand,
        topic=alert.topic,
        severity=alert.severity,
        template_id=template.id,
        language=template.language,
        text=text,
        template_text=text,
        template_requires_review=template.requires_review,
        template_reference=template.review.reference or "",
    )


def edit(draft: Draft, new_text: str) -> Draft:
    """The draft with ``new_text``; ``edited`` compares with the filled template, not the last
    version, so undoing an edit restores the pre-approval."""
    text = new_text.replace("\r\n", "\n").strip()
    if not text:
        raise ValueError("a draft cannot be empty")
    if len(text) > MAX_DRAFT_CHARS:
        raise ValueError(f"a draft is at most {MAX_DRAFT_CHARS} characters")
    return replace(draft, text=text, edited=text != draft.template_text)
