from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import SecretStr

from pipeline.brands import load_brands
from pipeline.errors import InvalidMention
from pipeline.ingest.decoding import REASONS, decode_raw, normalise_text, to_mention
from pipeline.ingest.pseudonyms import Pseudonymiser

BRANDS = load_brands(Path("pipeline/config/brands.yaml"))
PSEUDONYMS = Pseudonymiser(SecretStr("unit-test-pseudonym-key-0123456789"), "t1")
LIMITS: dict[str, Any] = {"max_bytes": 64 * 1024, "max_text_chars": 2000}


def good(**changes: object) -> dict[str, object]:
    base: dict[str, object] = {
        "id": "x:1",
        "platform": "x",
        "url": "https://x.example/status/1",
        "created_at": "2026-11-20T08:15:03Z",
        "text": "Brenmoor just tripled the price of Glytera #outrage",
        "author": {"id": "u_1", "followers": 1200, "verified": False, "kind": "patient"},
        "engagement": {"likes": 3, "shares": 1, "replies": 0},
        "kind": "post",
    }
    base.update(changes)
    return base


def encode(obj: object) -> bytes:
    return json.dumps(obj).encode()


def reason_of(payload: bytes) -> str:
    with pytest.raises(InvalidMention) as info:
        decode_raw(payload, **LIMITS)
    assert info.value.reason in REASONS
    return info.value.reason


def test_valid_mention_becomes_record_with_brand() -> None:
    raw = decode_raw(encode(good()), **LIMITS)
    mention = to_mention(raw, BRANDS, PSEUDONYMS)
    assert mention is not None
    assert mention.brand == "brenmoor"
    assert mention.created_at.tzinfo is not None
    assert mention.author.followers == 1200


def test_no_brand_is_filtered_not_rejected() -> None:
    raw = decode_raw(encode(good(text="the weather is nice today")), **LIMITS)
    assert to_mention(raw, BRANDS, PSEUDONYMS) is None


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"{not json", "invalid_json"),
        (b"\xff\xfe\x00garbage", "invalid_utf8"),
        (b"[1, 2, 3]", "not_an_object"),
        (b'"just a string"', "not_an_object"),
        (encode({k: v for k, v in good().items() if k != "text"}), "missing_field"),
        (encode({k: v for k, v in good().items() if k != "author"}), "missing_field"),
        (encode(good(text=42)), "wrong_type"),
        (encode(good(created_at=1700000000)), "wrong_type"),
        (encode(good(created_at="yesterday")), "wrong_type"),
        (encode(good(created_at="2026-11-20T08:15:03")), "invalid_value"),
        (encode(good(platform="myspace")), "invalid_value"),
        (encode(good(author={"id": "u", "followers": -5})), "invalid_value"),
        (encode(good(author={"id": "u", "followers": "many"})), "wrong_type"),
        (encode(good(text="   \u200b  ")), "empty_text"),
        (encode(good(text="")), "empty_text"),
        (encode(good(text="Brenmoor " + "a" * 3000)), "text_too_long"),
        (b"x" * (64 * 1024 + 1), "oversized"),
    ],
)
def test_bad_input_is_rejected_with_reason(payload: bytes, reason: str) -> None:
    assert reason_of(payload) == reason


def test_deep_nesting_is_invalid_json_not_a_crash() -> None:
    # 10 kB of nested arrays blows Python's recursion limit inside json: a reason, not a crash.
    assert reason_of(b"[" * 5000 + b"]" * 5000) == "invalid_json"


def test_normalise_text_folds_whitespace_and_controls() -> None:
    assert normalise_text("  Brenmoor\u0000  is\n\n bad\u200b ") == "Brenmoor is bad"


def test_not_after_refuses_mentions_dated_past_it() -> None:
    limit = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
    decode_raw(encode(good(created_at="2026-11-20T09:00:00Z")), **LIMITS, not_after=limit)
    with pytest.raises(InvalidMention) as info:
        decode_raw(encode(good(created_at="2026-11-20T09:00:01Z")), **LIMITS, not_after=limit)
    assert info.value.reason == "invalid_value" and "1 s past" in info.value.detail
    # same instant in another zone is the same instant
    decode_raw(encode(good(created_at="2026-11-20T10:00:00+01:00")), **LIMITS, not_after=limit)


def test_decoder_literals_match_the_records_enums() -> None:
    """The decoder validates against the records' Literal types, whose arguments are the tuples."""
    from typing import get_args

    from pipeline import records
    from pipeline.ingest import decoding

    fields = decoding.RawMention.model_fields
    assert get_args(fields["platform"].annotation) == records.PLATFORMS
    assert get_args(fields["kind"].annotation) == records.MENTION_KINDS
    assert get_args(decoding.RawAuthor.model_fields["kind"].annotation) == records.AUTHOR_KINDS
    assert get_args(records.Platform) == records.PLATFORMS
    assert get_args(records.AuthorKind) == records.AUTHOR_KINDS
    assert get_args(records.MentionKind) == records.MENTION_KINDS


def test_decoder_accepts_exactly_the_records_vocabularies() -> None:
    """One definition (pipeline.records): each listed value decodes, an unlisted one is refused."""
    from pipeline.records import AUTHOR_KINDS, MENTION_KINDS, PLATFORMS

    for platform in PLATFORMS:
        assert decode_raw(encode(good(platform=platform)), **LIMITS).platform == platform
    for kind in MENTION_KINDS:
        assert decode_raw(encode(good(kind=kind)), **LIMITS).kind == kind
    for author_kind in AUTHOR_KINDS:
        author = {"id": "u_1", "kind": author_kind}
        assert decode_raw(encode(good(author=author)), **LIMITS).author.kind == author_kind
    assert reason_of(encode(good(platform="myspace"))) == "invalid_value"


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40))  # every category but surrogates (Hypothesis' default)
def test_normalise_text_drops_every_control_character(text: str) -> None:
    """The same text as checking every character's Unicode category (what the regular
    expressions stand for), for any text, controls and format characters included."""
    import unicodedata

    kept = "".join(
        ch
        for ch in unicodedata.normalize("NFC", text)
        if ch in "\n\t" or unicodedata.category(ch)[0] != "C"
    )
    assert normalise_text(text) == " ".join(kept.split())


def test_normalise_text_keeps_accents_and_drops_format_characters() -> None:
    assert normalise_text("Cafe\u0301\u00ad \u200dValmoreau\x7f\x1b") == "Caf\u00e9 Valmoreau"
