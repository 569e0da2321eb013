"""Drafts: best-matching templates filled for an alert; an edit of a reviewed template re-opens review."""

from __future__ import annotations

from datetime import date

import pytest

from pipeline.approvals.audit import text_hash
from pipeline.approvals.drafts import Draft, draft_id, edit, language_of, propose
from tests.unit.approvals.approvals_helpers import LINK, TODAY, alert, brands, library


def test_adverse_event_with_a_product_named_gets_the_product_statement_first() -> None:
    drafts = propose(alert(), library(), brands=brands(), today=TODAY, link=LINK)
    assert [d.template_id for d in drafts][:2] == [
        "adverse_event.report.en",
        "adverse_event.report-brand.en",
    ]
    first = drafts[0]
    assert "people taking Somnessa" in first.text and LINK in first.text
    assert "{" not in first.text
    assert first.language == "en" and first.template_requires_review
    assert not first.edited and not first.needs_review
    assert first.text_hash == text_hash(first.text)
    assert first.alert_key == alert().dedup_key


def test_french_mentions_get_a_french_statement_with_a_french_date() -> None:
    texts = (
        "Depuis que je prends du Neviora j'ai des vertiges, c'est normal ?",
        "Le Neviora me donne des nausées depuis une semaine, je ne suis pas la seule ?",
        "Third week on Neviora and a bit dizzy.",
    )
    a = alert("scandal", texts=texts)
    assert language_of(a) == "fr"
    drafts = propose(a, library(), brands=brands(), today=TODAY, link=LINK)
    assert drafts[0].template_id == "scandal.allegations.fr"
    assert "depuis le 22 novembre 2026" in drafts[0].text
    assert "Valmoreau" in drafts[0].text


def test_why_language_wins_and_unknown_languages_fall_back_to_english() -> None:
    assert language_of(alert(why={"language": "fr"})) == "fr"
    assert language_of(alert(texts=("Das ist wirklich nicht gut für die Patienten",))) == "en"


def test_templates_needing_a_missing_value_are_skipped() -> None:
    no_product = alert(texts=("Valmoreau pills made me sick, no idea which one",))
    drafts = propose(no_product, library(), brands=brands(), today=TODAY, link=None)
    assert drafts[0].template_id == "adverse_event.report-brand.en"
    assert all("{" not in d.text for d in drafts)


def test_topic_without_language_template_falls_back_to_english_then_general() -> None:
    lib = library()
    # A topic with no template at all (e.g. a new taxonomy topic) gets the general statements.
    a = alert("new_topic", texts=("Brenmoor in the news again",), brand="brenmoor")
    drafts = propose(a, lib, brands=brands(), today=TODAY, link=LINK)
    assert [d.template_id for d in drafts] == ["other.holding.en"]
    assert drafts[0].text.startswith("We are aware of the conversation about Brenmoor")
    french = alert("new_topic", brand="brenmoor", why={"language": "fr"})
    drafts = propose(french, lib, brands=brands(), today=TODAY, link=LINK)
    assert [d.template_id for d in drafts] == ["other.holding.fr", "other.holding.en"]


def test_draft_ids_are_deterministic_per_alert_and_template() -> None:
    one = propose(alert(), library(), brands=brands(), today=TODAY, link=LINK)
    two = propose(alert(), library(), brands=brands(), today=TODAY, link=LINK)
    assert [d.id for d in one] == [d.id for d in two]
    assert one[0].id == draft_id(alert().dedup_key, "adverse_event.report.en")
    assert len({d.id for d in one}) == len(one)


def test_expired_templates_are_not_proposed() -> None:
    later = date(2027, 9, 20)  # after the EN adverse-event approvals expired (2027-09-14)
    drafts = propose(alert(), library(), brands=brands(), today=later, link=LINK)
    assert all(not d.template_id.startswith("adverse_event.") or d.language == "fr" for d in drafts)


def test_editing_a_reviewed_template_needs_review_and_changes_the_hash() -> None:
    draft = propose(alert(), library(), brands=brands(), today=TODAY, link=LINK)[0]
    changed = edit(draft, draft.text.replace("first priority", "absolute first priority"))
    assert changed.edited and changed.needs_review
    assert changed.text_hash != draft.text_hash
    assert changed.id == draft.id
    restored = edit(changed, draft.text + "\r\n")
    assert not restored.edited and not restored.needs_review
    assert restored.text_hash == draft.text_hash


def test_editing_a_template_without_review_marks_edited_only() -> None:
    a = alert("pricing", brand="brenmoor", texts=("Glytera went from $310 to $489 a month",))
    draft = propose(a, library(), brands=brands(), today=TODAY, link=LINK)[0]
    assert draft.template_id == "pricing.access.en" and "cost of Glytera" in draft.text
    changed = edit(draft, draft.text + " Thank you.")
    assert changed.edited and not changed.needs_review


def test_empty_or_oversized_edits_are_refused() -> None:
    draft = propose(alert(), library(), brands=brands(), today=TODAY, link=LINK)[0]
    with pytest.raises(ValueError, match="empty"):
        edit(draft, "   ")
    with pytest.raises(ValueError, match="at most"):
        edit(draft, "x" * 3001)


def test_draft_round_trips_through_a_dict() -> None:
    draft = propose(alert(), library(), brands=brands(), today=TODAY, link=LINK)[0]
    assert Draft.from_dict(draft.to_dict()) == draft
    assert draft.template_reference == "MLR-2026-0412"
    older = {k: v for k, v in draft.to_dict().items() if k != "template_reference"}
    assert Draft.from_dict(older).template_reference == ""
