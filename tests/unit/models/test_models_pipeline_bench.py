"""The raw-vs-agent bench: its streams are what they claim, and the agent path really runs.

Timings are not asserted (a benchmark prints figures); what is checked is that every mention goes
through the real ``classify_mentions`` agent from its raw JSON, that reposts are answered from the
cache and that the agent's module state is restored afterwards.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from agents import classify_mentions
from models.pipeline_bench import bench_pipeline, branded, make_stream, pipeline_rate
from pipeline.ingest.decoding import Limits, decode
from tests.fakes import KeywordClassifier

TEXTS = [f"Brenmoor price hike number {i}" for i in range(40)]


def test_stream_has_the_repost_share_and_reposts_follow_their_original() -> None:
    stream = make_stream(TEXTS, 0.4, seed=3)
    kinds = [k for k, _ in stream]
    assert kinds.count("post") == 40 and kinds.count("repost") == round(40 * 0.4 / 0.6)
    seen: set[str] = set()
    limits = Limits(max_bytes=1 << 20, max_text_chars=5000, max_future_s=3600)
    for kind, payload in stream:
        mention = decode(payload, limits, datetime.now(UTC))  # the mentions.raw contract
        assert mention.kind == kind
        if kind == "post":
            seen.add(mention.text)
        else:
            assert mention.text.startswith("RT @user")
            assert mention.text.split(": ", 1)[1] in seen
    assert {json.loads(p)["text"] for k, p in stream if k == "post"} == set(TEXTS)


def test_plain_stream_is_all_originals() -> None:
    assert [k for k, _ in make_stream(TEXTS, 0.0)] == ["post"] * 40
    with pytest.raises(ValueError, match="repost_share"):
        make_stream(TEXTS, 1.0)


def test_agent_path_classifies_every_mention_and_reuses_reposts() -> None:
    fake = KeywordClassifier()
    state = vars(classify_mentions)
    saved = state["classified"], state["dead_letters"], state["_cache"]
    stats = pipeline_rate(fake, make_stream(TEXTS, 0.4), batch_size=8, within=0.05)
    assert stats["mentions"] == 67
    assert stats["cache_hits"] == 27  # every repost, none of the originals
    assert sum(len(call) for call in fake.calls) == 40  # each distinct text once
    assert max(len(call) for call in fake.calls) <= 8
    # the agent's topic and cache are the module's own again
    assert (state["classified"], state["dead_letters"], state["_cache"]) == saved


def test_bench_reports_ratios_for_both_streams_per_round() -> None:
    report = bench_pipeline(KeywordClassifier(), TEXTS, batch_size=8, within=0.05, rounds=2)
    assert report["distinct_texts"] == 40 and len(report["rounds"]) == 2
    for r in report["rounds"]:
        assert r["plain"]["mentions"] == 40 and r["plain"]["cache_hits"] == 0
        assert r["reposts"]["mentions"] == 67 and r["reposts"]["cache_hits"] == 27
        assert r["plain_over_raw"] > 0 and r["reposts_over_raw"] > 0
    assert set(report["median"]) >= {"plain_over_raw", "reposts_over_raw", "raw_texts_per_s"}


def test_only_texts_naming_a_tracked_brand_are_benched() -> None:
    """The agent filters unbranded mentions as noise: a bench stream of them would never end."""
    assert branded(["Brenmoor price", "nothing here", "Brenmoor price", "Glytera shortage"]) == [
        "Brenmoor price",
        "Glytera shortage",
    ]
