"""Fuzz the ingest decoder with Hypothesis: 10,000+ payloads that are bad by construction.

Two properties. Every bad payload (``tests/bad_mentions.py``) is rejected with
:class:`InvalidMention` and a reason from the fixed set -- never accepted, never another exception
(which in the worker would crash the ingest agent). And *any* bytes at all, including mutations of
a valid mention that may still be valid, either decode or raise ``InvalidMention``.

Examples are drawn as lists so 10,000 inputs cost a few hundred Hypothesis examples; the outer
test counts the payloads actually checked, so the 10,000 is a measured figure, not a setting.
The same payloads, one per line, are what the HTTP fuzz test sends to a live worker.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import SecretStr

from pipeline.brands import load_brands
from pipeline.errors import InvalidMention
from pipeline.ingest.decoding import REASONS, decode_raw, to_mention
from pipeline.ingest.http import split_lines
from pipeline.ingest.pseudonyms import Pseudonymiser
from tests.bad_mentions import LIMITS, bad_payloads, dumps, good

BRANDS = load_brands(Path("pipeline/config/brands.yaml"))
PSEUDONYMS = Pseudonymiser(SecretStr("unit-test-pseudonym-key-0123456789"), "t1")
FUZZ = settings(
    max_examples=400,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def test_ten_thousand_bad_payloads_are_each_rejected_with_a_reason() -> None:
    seen: Counter[str] = Counter()

    @FUZZ
    @given(st.lists(bad_payloads, min_size=25, max_size=30))
    def check(batch: list[bytes]) -> None:
        for payload in batch:
            try:
                decode_raw(payload, **LIMITS)
            except InvalidMention as exc:
                assert exc.reason in REASONS, exc.reason
                assert exc.detail
                seen[exc.reason] += 1
            else:
                raise AssertionError(f"bad payload accepted: {payload[:200]!r}")

    check()
    total = sum(seen.values())
    print(f"decoder fuzz: {total} bad payloads rejected, by reason: {dict(seen)}")
    assert total >= 10_000
    assert len(seen) >= 8, f"the generator reached too few reasons: {seen}"


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    """A valid mention with a few bytes flipped, inserted or deleted: may or may not stay valid."""
    data = bytearray(dumps(good(draw(st.integers(0, 99)))))
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(data) - 1))
        op = draw(st.sampled_from(["flip", "insert", "delete"]))
        if op == "flip":
            data[at] ^= draw(st.integers(1, 255))
        elif op == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=4))
        else:
            del data[at]
    return bytes(data)


@settings(max_examples=1500, deadline=None, database=None)
@given(st.binary(max_size=400) | mutated())
def test_any_bytes_either_decode_or_are_rejected_with_a_reason(payload: bytes) -> None:
    try:
        raw = decode_raw(payload, **LIMITS)
    except InvalidMention as exc:
        assert exc.reason in REASONS
        return
    to_mention(raw, BRANDS, PSEUDONYMS)  # a decoded mention must also survive brand matching


@settings(max_examples=300, deadline=None, database=None)
@given(st.lists(bad_payloads, min_size=1, max_size=20))
def test_ndjson_splitting_keeps_every_bad_line_as_one_line(batch: list[bytes]) -> None:
    """The HTTP batch format cannot merge or drop the fuzz lines (so 'one result per line' holds)."""
    body = b"\n".join(batch) + b"\n"
    lines = split_lines(body, "application/x-ndjson")
    assert [payload for _, payload in lines] == [b.rstrip(b"\r") for b in batch]


def test_out_of_range_time_zone_is_a_reason_not_a_crash() -> None:
    """Found by this fuzzer: year 9999 at UTC-23:59 overflowed converting to UTC."""
    for stamp in ("9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+23:59"):
        obj = {**good(), "created_at": stamp}
        try:
            decode_raw(dumps(obj), **LIMITS)
        except InvalidMention as exc:
            assert exc.reason == "invalid_value"
        else:
            raise AssertionError(f"{stamp} accepted")
