"""Response library: the real file loads; every broken template is refused with file/line/id/field."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from pipeline.approvals.errors import RenderError
from pipeline.approvals.library import build_library, render
from pipeline.errors import ConfigError
from pipeline.yamlfile import parse_yaml
from tests.unit.approvals.approvals_helpers import TODAY, library

TOPICS = ("adverse_event", "scandal", "pricing", "other")
SOURCE = Path("responses-test.yaml")

GOOD_REVIEW = """    review:
      approved_by: Dr Sunita Naidoo
      approved_on: 2026-09-15
      reference: MLR-2026-0412
      expires_on: 2027-09-14
"""


def load(text: str, today: date = TODAY) -> None:
    build_library(parse_yaml(text, SOURCE), today=today, topics=TOPICS)


def one(template_body: str, *, review_topics: str = "[adverse_event, scandal]") -> str:
    return (
        f"version: 1\nreview_required_topics: {review_topics}\ntemplates:\n"
        "  - id: adverse_event.test.en\n    topic: adverse_event\n    language: en\n"
        "    title: A test statement\n" + template_body
    )


def test_bundled_library_loads_with_en_and_fr_for_every_tracked_topic() -> None:
    lib = library()
    for topic in ("pricing", "scandal", "advocacy", "boycott", "adverse_event", "other"):
        for lang in ("en", "fr"):
            assert lib.candidates(topic, lang, TODAY), (topic, lang)
    reviewed = [t for t in lib.templates if t.topic in lib.review_topics]
    assert reviewed and all(t.requires_review and t.review.reference for t in reviewed)


def test_unknown_placeholder_names_file_line_template_and_field() -> None:
    text = one(
        "    text: We are aware of reports about {prodcut} and take them seriously.\n" + GOOD_REVIEW
    )
    with pytest.raises(ConfigError) as err:
        load(text)
    message = str(err.value)
    assert message.startswith("responses-test.yaml:8: template 'adverse_event.test.en'")
    assert "field 'templates[0].text'" in message
    assert "unknown placeholder {prodcut}" in message


def test_attribute_access_and_format_specs_are_refused_at_load() -> None:
    text = one(
        "    text: Statement about {brand.__class__} and {date!r} for everyone.\n" + GOOD_REVIEW
    )
    with pytest.raises(ConfigError) as err:
        load(text)
    assert "unknown placeholder {brand.__class__}" in str(err.value)
    assert "{date} takes no format spec or conversion" in str(err.value)


def test_expired_template_of_a_review_topic_is_refused() -> None:
    body = "    text: We are aware of reports about {brand} and take them seriously.\n"
    review = GOOD_REVIEW.replace("2027-09-14", "2026-11-01")
    with pytest.raises(ConfigError) as err:
        load(one(body + review))
    message = str(err.value)
    assert "template 'adverse_event.test.en' field 'templates[0].review.expires_on'" in message
    assert "approval expired on 2026-11-01" in message
    assert ":13:" in message  # the line of expires_on


def test_unreviewed_template_of_a_review_topic_is_refused_field_by_field() -> None:
    body = "    text: We are aware of reports about {brand} and take them seriously.\n"
    with pytest.raises(ConfigError) as err:
        load(one(body + "    review:\n      approved_by: Someone\n"))
    lines = str(err.value).splitlines()
    assert len(lines) == 3
    for field in ("approved_on", "reference", "expires_on"):
        assert any(
            f"review.{field}'" in line and "requires a reviewed template" in line for line in lines
        ), field


def test_unreviewed_template_allowed_for_a_topic_without_review_but_not_when_marked() -> None:
    body = "    text: We hear you about the price of {brand} medicines today.\n"
    text = one(body).replace("topic: adverse_event", "topic: pricing")
    load(text)  # pricing is not in review_required_topics: no review record needed
    with pytest.raises(ConfigError, match="requires a reviewed template"):
        load(text + "    review:\n      requires_review: true\n")


def test_expired_template_is_refused_even_without_review_requirement() -> None:
    body = "    text: We hear you about the price of {brand} medicines today.\n"
    text = one(body + "    review:\n      expires_on: 2026-01-31\n").replace(
        "topic: adverse_event", "topic: pricing"
    )
    with pytest.raises(ConfigError, match="approval expired on 2026-01-31"):
        load(text)


def test_review_dates_must_be_coherent() -> None:
    body = "    text: We are aware of reports about {brand} and take them seriously.\n"
    future = GOOD_REVIEW.replace("2026-09-15", "2026-12-15")
    with pytest.raises(ConfigError, match="2026-12-15 is in the future"):
        load(one(body + future))
    backwards = GOOD_REVIEW.replace("2027-09-14", "2026-09-01")
    with pytest.raises(ConfigError, match="expires before it was approved"):
        load(one(body + backwards), today=date(2026, 10, 1))


def test_duplicate_ids_unknown_topic_and_language_are_reported_together() -> None:
    text = (
        "version: 1\nreview_required_topics: [adverse_event]\ntemplates:\n"
        "  - {id: pricing.a.en, topic: pricing, language: en, title: One, "
        "text: 'About the price of {brand} medicines.'}\n"
        "  - {id: pricing.a.en, topic: pricng, language: de, title: Two, "
        "text: 'About the price of {brand} medicines.'}\n"
    )
    with pytest.raises(ConfigError) as err:
        load(text)
    message = str(err.value)
    assert "duplicate (first at templates[0])" in message
    assert "unknown topic 'pricng'" in message
    assert "'de' is not one of en, fr" in message
    assert message.count("responses-test.yaml:5:") == 3


def test_schema_errors_name_the_field() -> None:
    with pytest.raises(ConfigError, match=r"field 'templates\[0\]\.title'"):
        load(
            "version: 1\ntemplates:\n  - {id: other.x.en, topic: other, language: en, "
            "text: 'A long enough statement text.'}\n"
        )


def test_render_inserts_values_verbatim_and_keeps_escaped_braces() -> None:
    out = render("{brand} says {{hello}} on {date}", {"brand": "{link}", "date": "1 May"})
    assert out == "{link} says {hello} on 1 May"


def test_render_refuses_missing_values() -> None:
    with pytest.raises(RenderError, match="no value for link, product"):
        render("{product} at {link}", {"brand": "X"}, template_id="t")


def test_expired_templates_are_not_candidates_after_their_expiry_day() -> None:
    lib = library()
    scandal = lib.get("scandal.allegations.en")
    assert scandal.review.expires_on == date(2027, 2, 19)
    assert scandal in lib.candidates("scandal", "en", date(2027, 2, 18))
    assert scandal not in lib.candidates("scandal", "en", date(2027, 2, 19))
