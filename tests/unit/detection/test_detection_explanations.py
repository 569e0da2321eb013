"""Alert explanations: the largest-audience authors and the top mentions, bounded, in ``why``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from pipeline.counting.buckets import TOP_N, add_mention, close_due
from pipeline.detection import SeriesDetector
from pipeline.detection.stream import WHY_TEXT_CHARS, WHY_TOP, alert_for
from pipeline.records import Author, Bucket, ClassifiedMention, Mention

T0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)


def classified(mid: str, author: str, followers: int, text: str = "t") -> ClassifiedMention:
    return ClassifiedMention(
        mention=Mention(
            id=mid,
            platform="x",
            text=text,
            created_at=T0 + timedelta(seconds=len(mid)),
            brand="brenmoor",
            brands=["brenmoor"],
            author=Author(id=author, followers=followers, kind="journalist", handle=f"@{author}"),
        ),
        topics=["pricing"],
        scores={"pricing": 0.9},
        stance="critical",
        lang="en",
        model_version="t",
    )


def closed_bucket(items: list[ClassifiedMention]) -> Bucket:
    state: dict[str, Any] = {}
    for item in items:
        assert add_mention(state, item, ("pricing",), 300)
    # A mention well after the bucket moves the watermark past it.
    late = classified("zz", "nobody", 0)
    late.mention.created_at = T0 + timedelta(minutes=30)
    add_mention(state, late, ("pricing",), 300)
    (bucket, *_) = close_due(state, "brenmoor", ("pricing",), 300, 60)
    return bucket


def test_top_authors_are_the_largest_audiences_with_their_mention_counts() -> None:
    # 40 small authors, then big ones posting several times, interleaved with more small ones.
    items = [classified(f"s{i}", f"small{i}", 10 + i) for i in range(40)]
    items += [classified(f"b{i}", "big", 50_000) for i in range(3)]
    items += [classified("m1", "mid", 8_000), classified("h1", "huge", 900_000)]
    items += [classified(f"t{i}", f"tail{i}", 5) for i in range(20)]
    items += [classified("m2", "mid", 8_000)]
    bucket = closed_bucket(items)
    assert bucket.top_authors is not None and len(bucket.top_authors) == TOP_N
    assert [(a["id"], a["followers"], a["mentions"]) for a in bucket.top_authors] == [
        ("huge", 900_000, 1),
        ("big", 50_000, 3),
        ("mid", 8_000, 2),
    ]
    assert bucket.top_authors[0]["handle"] == "@huge"
    assert bucket.authors == 63


def test_alert_why_quotes_top_authors_and_mentions_bounded() -> None:
    long_text = "Brenmoor " * 100
    items = [classified(f"m{i}", f"a{i}", 1000 * (i + 1), long_text) for i in range(8)]
    bucket = closed_bucket(items)
    det = SeriesDetector()
    start = bucket.start - timedelta(days=2)
    for i in range(2 * 288):
        det.update(start + timedelta(minutes=5 * i), 2 + i % 3)
    readings = [det.update(bucket.start, 60)]
    readings.append(det.update(bucket.start + timedelta(minutes=5), 80))
    fired = next(r for r in readings if r.transition == "fired")
    alert = alert_for(bucket, fired)
    why = alert.why
    assert why is not None
    assert [a["id"] for a in why["top_authors"]] == ["a7", "a6", "a5"][:WHY_TOP]
    assert why["top_authors"][0] == {
        "id": "a7",
        "handle": "@a7",
        "kind": "journalist",
        "verified": False,
        "followers": 8000,
        "mentions": 1,
    }
    assert 1 <= len(why["top_mentions"]) <= WHY_TOP
    assert why["top_mentions"][0]["id"] == "m7"
    assert all(len(m["text"]) <= WHY_TEXT_CHARS for m in why["top_mentions"])
    assert why["top_mentions"][0]["text"].endswith("\u2026")
    # routing labels: the evidence's dominant language and author kind
    assert (why["language"], why["author_kind"]) == ("en", "journalist")


def test_bucket_without_authors_explains_with_empty_lists() -> None:
    bucket = Bucket(brand="b", topic="pricing", start=T0, end=T0 + timedelta(minutes=5), count=0)
    det = SeriesDetector()
    reading = det.update(T0, 0)
    why = alert_for(bucket, reading.__class__(**{**reading.__dict__, "episode_start": T0})).why
    assert why is not None and why["top_authors"] == [] and why["top_mentions"] == []
