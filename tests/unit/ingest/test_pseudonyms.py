"""Authors pseudonymised at ingest: keyed hash, key id recorded, handles only where allowed."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from pipeline import services
from pipeline.brands import load_brands
from pipeline.ingest.decoding import Limits
from pipeline.ingest.intake import intake
from pipeline.ingest.pseudonyms import EPHEMERAL, Pseudonymiser, configured
from pipeline.records import Mention
from pipeline.settings import make_settings

BRANDS = load_brands(Path("pipeline/config/brands.yaml"))
KEY = "unit-test-pseudonym-key-0123456789"
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def payload(
    author_id: str = "u_4711", handle: str | None = "@jane_doe", kind: str = "patient"
) -> bytes:
    return json.dumps(
        {
            "id": "x:1",
            "platform": "x",
            "created_at": "2026-11-20T08:15:03Z",
            "text": "Brenmoor's Glytera gave me a rash",
            "author": {"id": author_id, "handle": handle, "followers": 12, "kind": kind},
        }
    ).encode()


def ingest(data: bytes, pseudonyms: Pseudonymiser) -> Mention:
    limits = Limits(max_bytes=4096, max_text_chars=1000, max_future_s=3600)
    out = intake(
        data,
        topic="mentions.raw",
        partition=0,
        offset=1,
        limits=limits,
        matcher=BRANDS,
        pseudonyms=pseudonyms,
        now=NOW,
    )
    assert isinstance(out, Mention)
    return out


def test_the_record_keeps_no_id_or_handle_of_the_source() -> None:
    p = Pseudonymiser(SecretStr(KEY), "2026-11")
    mention = ingest(payload(), p)
    wire = mention.dumps().decode()
    assert "u_4711" not in wire and "jane_doe" not in wire
    expected = hmac.new(KEY.encode(), b"x\x1fu_4711", hashlib.sha256).hexdigest()[:32]
    assert mention.author.id == expected
    assert mention.author.key_id == "2026-11"
    assert (mention.author.followers, mention.author.kind) == (12, "patient")


def test_one_author_one_pseudonym_per_key_and_platform() -> None:
    p = Pseudonymiser(SecretStr(KEY), "k1")
    assert p.of("x", "u_1") == p.of("x", "u_1")
    assert p.of("x", "u_1") != p.of("reddit", "u_1")  # two accounts, two people maybe
    assert p.of("x", "u_1") != p.of("x", "u_2")
    rotated = Pseudonymiser(SecretStr(KEY + "-rotated"), "k2")
    assert rotated.of("x", "u_1") != p.of("x", "u_1")
    assert len(p.of("x", "u_1")) == 32


def test_handles_are_kept_only_for_the_kinds_a_setting_lists() -> None:
    p = Pseudonymiser(SecretStr(KEY), "k1", frozenset({"journalist"}))
    assert ingest(payload(kind="journalist", handle="@reporter"), p).author.handle == "@reporter"
    assert ingest(payload(kind="patient"), p).author.handle is None
    assert ingest(payload(kind="hcp", handle="@dr_x"), p).author.handle is None


def test_settings_read_the_key_and_refuse_bad_values(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOCSIN_PSEUDONYM_KEY", KEY)
    monkeypatch.setenv("TOCSIN_PSEUDONYM_KEY_ID", "2026-q4")
    monkeypatch.setenv("TOCSIN_HANDLES_KEPT_FOR", "journalist, ngo")
    settings = make_settings()
    p = Pseudonymiser.from_settings(settings)
    assert (p.key_id, p.handles_kept_for) == ("2026-q4", frozenset({"journalist", "ngo"}))
    assert KEY not in repr(settings) and KEY not in repr(p)
    with pytest.raises(ValidationError, match="handles_kept_for"):
        make_settings(handles_kept_for="journalist,celebrity")
    with pytest.raises(ValidationError, match="pseudonym_key_id"):
        make_settings(pseudonym_key_id="has spaces")
    with pytest.raises(ValidationError, match="pseudonym_key"):
        make_settings(pseudonym_key="changeme")


def test_without_a_key_a_worker_uses_its_own_random_one_and_says_so(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.delenv("TOCSIN_PSEUDONYM_KEY", raising=False)
    services.override(settings=make_settings())
    with caplog.at_level(logging.WARNING, logger="pipeline.ingest.pseudonyms"):
        first = configured()
    assert first.key_id == EPHEMERAL and "TOCSIN_PSEUDONYM_KEY is not set" in caplog.text
    assert configured() is first  # one key per worker, not per mention
    other = Pseudonymiser.from_settings(make_settings())
    assert other.of("x", "u_1") != first.of("x", "u_1")
    assert ingest(payload(), first).author.id != "u_4711"
