"""Hypothesis strategies for mention payloads that are wrong *by construction*, for the fuzz tests.

Each strategy starts from nothing or from a valid mention and breaks exactly one thing in a way
the input contract forbids, so "every one of these is rejected" is a claim the test can make
without an oracle. Lines never contain a raw newline and are never blank, so the same payloads can
be sent one per line as NDJSON. Sizes stay small (a few KiB) because the HTTP fuzz sends 10,000+.

``LIMITS`` are the decoder limits these payloads are built against; the worker in the HTTP fuzz
test is started with the same values (``TOCSIN_MAX_PAYLOAD_BYTES`` / ``TOCSIN_MAX_TEXT_CHARS``).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from hypothesis import strategies as st

from pipeline.records import AUTHOR_KINDS, PLATFORMS

MAX_PAYLOAD_BYTES = 4096
MAX_TEXT_CHARS = 280
LIMITS: dict[str, Any] = {"max_bytes": MAX_PAYLOAD_BYTES, "max_text_chars": MAX_TEXT_CHARS}
REQUIRED = ("id", "platform", "text", "created_at", "author")


def good(i: int = 0, text: str = "Brenmoor tripled the price of Glytera again") -> dict[str, Any]:
    """A valid mention (the base every structured bad input is derived from)."""
    return {
        "id": f"fz:{i}",
        "platform": "x",
        "url": f"https://x.example/status/{i}",
        "created_at": "2026-11-20T08:15:03Z",
        "text": text,
        "author": {"id": f"u{i}", "followers": 10, "verified": False, "kind": "patient"},
        "engagement": {"likes": 1, "shares": 0, "replies": 0},
        "kind": "post",
    }


def dumps(obj: Any) -> bytes:
    return json.dumps(obj, allow_nan=True).encode()


def _line(data: bytes) -> bytes | None:
    data = data.replace(b"\n", b" ")
    return data if data.strip() else None


_json_scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
_json_values = st.recursive(
    _json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
_not_str = (
    st.none() | st.booleans() | st.integers() | st.floats() | st.lists(_json_scalars, max_size=3)
)
_not_int = (
    st.none()
    | st.booleans()
    | st.floats()
    | st.text(max_size=10)
    | st.lists(st.integers(), max_size=2)
)
_not_bool = st.none() | st.integers() | st.floats() | st.text(max_size=10)
_not_obj = _json_scalars | st.lists(_json_scalars, max_size=3)

# -- unstructured garbage ------------------------------------------------------------------------
random_bytes = st.binary(min_size=1, max_size=300).map(_line).filter(lambda b: b is not None)
random_text = (
    st.text(min_size=1, max_size=300)
    .map(lambda s: _line(s.encode("utf-8", "surrogatepass")))
    .filter(lambda b: b is not None)
)
not_an_object = _json_values.filter(lambda v: not isinstance(v, dict)).map(dumps)
truncated_json = st.integers(min_value=1, max_value=120).map(lambda n: dumps(good())[:n])
deeply_nested = st.integers(min_value=1100, max_value=1900).map(lambda d: b"[" * d + b"]" * d)


@st.composite
def invalid_utf8(draw: st.DrawFn) -> bytes:
    """A valid mention with bytes that are not UTF-8 spliced into it."""
    payload = dumps(good(draw(st.integers(0, 999))))
    junk = draw(
        st.sampled_from(
            [
                b"\xff",
                b"\xc0\x80",
                b"\xed\xa0\x80",
                b"\xe2\x82",
                b"\x80\x80",
                b"\xf8\x88\x80\x80\x80",
            ]
        )
    )
    at = draw(st.integers(0, len(payload)))
    return payload[:at] + junk + payload[at:]


# -- structured: one rule broken -----------------------------------------------------------------
@st.composite
def missing_field(draw: st.DrawFn) -> bytes:
    obj = good(draw(st.integers(0, 999)))
    path = draw(st.sampled_from([*REQUIRED, "author.id"]))
    if path == "author.id":
        del obj["author"]["id"]
    else:
        del obj[path]
    return dumps(obj)


@st.composite
def wrong_type(draw: st.DrawFn) -> bytes:
    obj = good(draw(st.integers(0, 999)))
    field = draw(
        st.sampled_from(
            [
                "id",
                "text",
                "url",
                "lang",
                "author.id",
                "author.followers",
                "author.verified",
                "engagement.likes",
                "author",
                "engagement",
                "created_at",
            ]
        )
    )
    value: Any
    if field in ("id", "text", "url", "lang", "author.id"):
        value = draw(_not_str.filter(lambda v: v is not None))
    elif field in ("author.followers", "engagement.likes"):
        value = draw(_not_int.filter(lambda v: v is not None))
    elif field == "author.verified":
        value = draw(_not_bool.filter(lambda v: v is not None))
    elif field in ("author", "engagement"):
        value = draw(_not_obj.filter(lambda v: v is not None))
    else:  # created_at: anything but a string (null included: present but not a time)
        value = draw(_not_str)
    if "." in field:
        outer, inner = field.split(".")
        obj[outer][inner] = value
    else:
        obj[field] = value
    return dumps(obj)


_bad_times = st.one_of(
    st.text(max_size=30).filter(lambda s: not _iso_with_zone(s)),
    st.sampled_from(
        [
            "2026-11-20T08:15:03",
            "2026-11-20",
            "2026-13-01T00:00:00Z",
            "yesterday",
            "2026-11-20T25:00:00Z",
            "9999-12-31T23:59:59-23:59",
            "0001-01-01T00:00:00+23:59",
        ]
    ),
)


def _iso_with_zone(s: str) -> bool:
    try:
        parsed = datetime.fromisoformat(s.replace("Z", "+00:00"))
        parsed.astimezone(UTC)
    except (ValueError, OverflowError):
        return False
    return parsed.tzinfo is not None


@st.composite
def invalid_value(draw: st.DrawFn) -> bytes:
    obj = good(draw(st.integers(0, 999)))
    which = draw(
        st.sampled_from(
            [
                "platform",
                "kind",
                "author.kind",
                "followers",
                "likes",
                "id",
                "url",
                "created_at",
                "author.id",
            ]
        )
    )
    if which == "platform":
        obj["platform"] = draw(st.text(max_size=12).filter(lambda s: s not in PLATFORMS))
    elif which == "kind":
        obj["kind"] = draw(
            st.text(max_size=12).filter(lambda s: s not in ("post", "reply", "repost", "quote"))
        )
    elif which == "author.kind":
        obj["author"]["kind"] = draw(st.text(max_size=12).filter(lambda s: s not in AUTHOR_KINDS))
    elif which == "followers":
        obj["author"]["followers"] = draw(
            st.integers(max_value=-1) | st.integers(min_value=10_000_000_001)
        )
    elif which == "likes":
        obj["engagement"]["likes"] = draw(st.integers(max_value=-1))
    elif which == "id":
        obj["id"] = draw(st.just("") | st.text(min_size=201, max_size=260))
    elif which == "author.id":
        obj["author"]["id"] = ""
    elif which == "url":
        obj["url"] = "https://x.example/" + "a" * draw(st.integers(2031, 2100))
    else:
        obj["created_at"] = draw(_bad_times)
    return dumps(obj)


@st.composite
def empty_text(draw: st.DrawFn) -> bytes:
    blank = draw(
        st.text(alphabet=st.sampled_from(" \t\r\u200b\x00\x07\x1b\u2028\u00a0\ufeff"), max_size=30)
    )
    obj = good(draw(st.integers(0, 999)), text=blank)
    return dumps(obj)


@st.composite
def text_too_long(draw: st.DrawFn) -> bytes:
    words = draw(st.integers(MAX_TEXT_CHARS // 8 + 2, 400))
    return dumps(good(draw(st.integers(0, 999)), text="Brenmoor " + "glytera " * words))


@st.composite
def oversized(draw: st.DrawFn) -> bytes:
    """Valid in every field, only too big: the padding is in a field the contract ignores."""
    obj = good(draw(st.integers(0, 999)))
    obj["padding"] = "p" * draw(st.integers(MAX_PAYLOAD_BYTES, MAX_PAYLOAD_BYTES + 2000))
    return dumps(obj)


special_floats = st.sampled_from([b"NaN", b"Infinity", b"-Infinity", b"1e999"]).map(
    lambda f: dumps(good()).replace(b'"followers": 10', b'"followers": ' + f)
)

#: Every kind of bad payload, roughly equally likely.
bad_payloads = st.one_of(
    random_bytes,
    random_text,
    not_an_object,
    truncated_json,
    deeply_nested,
    invalid_utf8(),
    missing_field(),
    wrong_type(),
    invalid_value(),
    empty_text(),
    text_too_long(),
    oversized(),
    special_floats,
)
