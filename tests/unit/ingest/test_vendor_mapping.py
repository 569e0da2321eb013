"""Each vendor's documented JSON (samples in tests/data/vendors) mapped to the mentions.raw contract.

Every mapped item must pass the one decoder (:func:`pipeline.ingest.decoding.decode`) unchanged,
and every item that cannot map must come back refused with a reason and its own bytes.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from pipeline.ingest.decoding import Limits, decode
from pipeline.ingest.http import IngestRefused, Line
from pipeline.ingest.vendors import ADAPTERS
from pipeline.ingest.vendors.base import vendor_id

SAMPLES = Path(__file__).parents[2] / "data" / "vendors"
LIMITS = Limits(max_bytes=256 * 1024, max_text_chars=5000, max_future_s=3600)
NOW = datetime(2026, 12, 7, tzinfo=UTC)


def lines(vendor: str, sample: str, kind: str) -> list[Line]:
    return ADAPTERS[vendor].lines((SAMPLES / sample).read_bytes(), kind, 1000)


def mapped(line: Line) -> dict[str, Any]:
    assert line.refused is None, line.refused
    decode(line.payload, LIMITS, NOW)  # what the mapping makes, the decoder accepts
    out: dict[str, Any] = json.loads(line.payload)
    return out


def test_brandwatch_results_envelope() -> None:
    got = lines("brandwatch", "brandwatch.json", "application/json")
    assert [ln.n for ln in got] == [1, 2, 3]
    tweet, news = mapped(got[0]), mapped(got[1])
    assert tweet == {
        "id": "brandwatch:1862201829384732672",
        "platform": "x",
        "text": "Brenmoor tripled the price of Glytera overnight. Patients cannot afford this.",
        "created_at": "2026-11-20T08:15:03+00:00",
        "author": {
            "id": "brandwatch:88812345",
            "followers": 1520,
            "verified": True,
            "handle": "pharmawatcher",
        },
        "kind": "post",
        "engagement": {"likes": 12, "shares": 4, "replies": 2},
        "url": "https://x.com/pharmawatcher/status/1862201829384732672",
        "lang": "en",
    }
    # A news article: no author name, so the publication's domain stands for it; title + text.
    assert news["platform"] == "news"
    assert news["author"]["id"] == "brandwatch:news.example.org"
    assert news["text"].startswith("Valmoreau recalls a batch\nValmoreau recalled")
    bad = got[2].refused
    assert bad is not None and bad.reason == "missing_field" and "date" in bad.detail
    assert json.loads(got[2].payload)["guid"] == "forum-post-without-a-date"  # kept as sent


def test_talkwalker_stream_chunks_skip_control_and_map_results() -> None:
    got = lines("talkwalker", "talkwalker.ndjson", "application/x-ndjson")
    assert len(got) == 3  # the CT_CONTROL chunk is not a mention and not a dead letter
    post, article = mapped(got[0]), mapped(got[1])
    assert post["platform"] == "instagram"
    assert post["id"] == "talkwalker:https://www.instagram.com/p/Cx1quillon"
    assert post["created_at"] == "2026-11-20T09:10:00+00:00"
    assert post["author"] == {"id": "talkwalker:ig_5521", "followers": 0, "handle": "skindiary"}
    assert post["engagement"] == {"likes": 80, "shares": 0, "replies": 3}
    assert post["text"] == "Quillon cream finally cleared my eczema #Quillon"  # empty title dropped
    assert article["platform"] == "news"
    assert article["author"]["id"] == "talkwalker:example-news.com"
    bad = got[2].refused
    assert bad is not None and bad.reason == "wrong_type" and "published" in bad.detail


def test_talkwalker_search_answer_is_opened_too() -> None:
    body = {"status_code": "0", "result_content": {"data": [{"data": _tw_result()}]}}
    got = ADAPTERS["talkwalker"].lines(json.dumps(body).encode(), "application/json", 1000)
    assert mapped(got[0])["id"] == "talkwalker:https://t.example/1"


def _tw_result() -> dict[str, Any]:
    return {
        "url": "https://t.example/1",
        "published": 1795165800000,
        "content": "Brenmoor",
        "extra_author_attributes": {"id": "a"},
    }


def test_meltwater_documents() -> None:
    got = lines("meltwater", "meltwater.json", "application/json")
    reddit, press = mapped(got[0]), mapped(got[1])
    assert reddit == {
        "id": "meltwater:1763631500000_K49ugt285FchyyIqJ15D85lyR5wA",
        "platform": "reddit",
        "text": "Glytera shortage again?\nPharmacy says Brenmoor cannot ship Glytera pens until "
        "January.",
        "created_at": "2026-11-20T09:25:00+00:00",
        "author": {"id": "meltwater:needle_free", "followers": 0, "handle": "needle_free"},
        "url": "https://www.reddit.com/r/diabetes/comments/abc123/glytera_shortage/",
        "lang": "en",
    }
    assert press["platform"] == "news" and press["author"]["id"] == "meltwater:Example Press"
    bad = got[2].refused
    assert bad is not None and bad.reason == "missing_field" and "id" in bad.detail


@pytest.mark.parametrize("vendor", sorted(ADAPTERS))
@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"{not json", "invalid_json"),
        (b'[1, "two"]', "not_an_object"),
        (b"{}", "missing_field"),
        (b'{"date": 5, "published": "x", "published_date": 5, "id": 7}', None),
        (b'{"guid": "\\ud800", "id": "\\ud800", "url": "\\ud800", "date": "\\udc00"}', None),
        (b"[[[[{}]]]]", "not_an_object"),
        (b'{"chunk_type": "CT_RESULT", "result_content": {"data": [[]]}, "results": {}}', None),
    ],
)
def test_hostile_items_are_refused_with_a_reason_never_raised(
    vendor: str, body: bytes, reason: str | None
) -> None:
    got = ADAPTERS[vendor].lines(body, "application/json", 1000)
    assert got and all(ln.refused is not None for ln in got)
    if reason is not None:
        assert {ln.refused.reason for ln in got if ln.refused} == {reason}


def test_a_native_id_too_long_for_the_contract_is_hashed() -> None:
    long_id = vendor_id("talkwalker", "https://x.example/" + "a" * 300)
    assert len(long_id) <= 200 and long_id.startswith("talkwalker:sha256:")
    assert vendor_id("talkwalker", "https://x.example/1") == "talkwalker:https://x.example/1"


@pytest.mark.parametrize("vendor", sorted(ADAPTERS))
def test_a_lone_surrogate_in_a_valid_item_stays_encodable(vendor: str) -> None:
    item = json.loads((SAMPLES / "meltwater.json").read_text())["documents"][0]
    item.update(guid="g\ud800", fullText="Brenmoor \ud800", date="2026-11-20T08:15:03Z", author="a")
    item.update(content="Brenmoor \ud800", published=1795165800000)
    item["extra_author_attributes"] = {"id": "x"}
    got = ADAPTERS[vendor].lines(json.dumps(item).encode(), "application/json", 1000)
    assert len(got) == 1
    got[0].payload.decode("ascii")  # escaped, so the producer and the dead letter can take it


def test_more_items_than_the_batch_limit_are_refused_before_mapping_the_rest() -> None:
    body = json.dumps({"results": [{}] * 50}).encode()
    with pytest.raises(IngestRefused) as refused:
        ADAPTERS["brandwatch"].lines(body, "application/json", 10)
    assert refused.value.status == 413 and refused.value.code == "too_many_lines"
