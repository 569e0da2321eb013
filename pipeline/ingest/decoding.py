"""Decoder for untrusted mention payloads: bytes in, a valid ``Mention`` or a reasoned rejection out.

Everything on ``mentions.raw`` comes from outside (replay files, the HTTP endpoint, connectors) and is
treated as hostile: size is checked before parsing, UTF-8 and JSON errors are caught, and the
structure is validated strictly (a number where a string belongs is an error, not a coercion).
Each rejection carries one of a small, fixed set of reason codes (:data:`REASONS`), which become a
metrics label and the dead letter's ``reason``, and a human-readable detail.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr, ValidationError

from pipeline.brands import BrandMatcher
from pipeline.errors import INVALID_MENTION_REASONS, InvalidMention
from pipeline.ingest.pseudonyms import Pseudonymiser
from pipeline.records import AuthorKind, Mention, MentionKind, Platform
from pipeline.settings import Settings

REASONS = INVALID_MENTION_REASONS


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)


class RawAuthor(_Strict):
    id: StrictStr = Field(min_length=1, max_length=200)
    handle: StrictStr | None = Field(default=None, max_length=200)
    followers: StrictInt = Field(default=0, ge=0, le=10_000_000_000)
    verified: StrictBool = False
    kind: AuthorKind = "unknown"


class RawEngagement(_Strict):
    likes: StrictInt = Field(default=0, ge=0)
    shares: StrictInt = Field(default=0, ge=0)
    replies: StrictInt = Field(default=0, ge=0)


class RawMention(_Strict):
    """The input contract for one mention (documented in docs/architecture.md).

    The fields are those of :class:`pipeline.records.Mention` that a source supplies, with the
    limits untrusted input must meet; :func:`to_mention` turns it into the record in one step.
    """

    id: StrictStr = Field(min_length=1, max_length=200)
    platform: Platform
    text: StrictStr
    created_at: datetime
    author: RawAuthor
    url: StrictStr | None = Field(default=None, max_length=2048)
    lang: StrictStr | None = Field(default=None, max_length=16)
    engagement: RawEngagement | None = None
    kind: MentionKind = "post"
    repost_of: StrictStr | None = Field(default=None, max_length=200)


@dataclass(frozen=True)
class Limits:
    """What every front door of ``mentions.raw`` accepts: one set, read from the settings once."""

    max_bytes: int
    max_text_chars: int
    #: How far past the clock a mention may be dated (``TOCSIN_MAX_FUTURE_S``).
    max_future_s: float

    @classmethod
    def from_settings(cls, cfg: Settings) -> Limits:
        return cls(
            max_bytes=cfg.max_payload_bytes,
            max_text_chars=cfg.max_text_chars,
            max_future_s=cfg.max_future_s,
        )


def decode(payload: bytes, limits: Limits, now: datetime) -> RawMention:
    """Validate one payload as HTTP ingest and the ingest agent both do: the one decoding rule.

    ``now`` is the caller's clock; mentions dated more than ``limits.max_future_s`` past it are
    refused. Raises :class:`InvalidMention` with a reason code and nothing else.
    """
    return decode_raw(
        payload,
        max_bytes=limits.max_bytes,
        max_text_chars=limits.max_text_chars,
        not_after=now + timedelta(seconds=limits.max_future_s),
    )


def _reason_for(exc: ValidationError) -> tuple[str, str]:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "(root)"
    kind = first["type"]
    if kind == "missing":
        reason = "missing_field"
    elif kind.endswith("_type") or kind in {"datetime_from_date_parsing", "datetime_parsing"}:
        reason = "wrong_type"
    else:
        reason = "invalid_value"
    return reason, f"{where}: {first['msg']}"


#: The ASCII control characters (category ``Cc``) but tab and newline.
_ASCII_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]+")
_NON_ASCII_RUN = re.compile(r"[^\x00-\x7f]+")


def _drop_other(run: re.Match[str]) -> str:
    return "".join(ch for ch in run.group() if unicodedata.category(ch)[0] != "C")


def normalise_text(text: str) -> str:
    """NFC-normalise, drop control characters and collapse whitespace: one text, one form.

    Control characters are Unicode's category ``C`` (controls, format characters such as a
    zero-width space, surrogates, private use, unassigned). In ASCII those are the ``Cc``
    controls, deleted by one regular expression; only the non-ASCII runs are looked at
    character by character (a mention is mostly ASCII).
    """
    text = _ASCII_CONTROL.sub("", unicodedata.normalize("NFC", text))
    if not text.isascii():
        text = _NON_ASCII_RUN.sub(_drop_other, text)
    return " ".join(text.split())


def decode_raw(
    payload: bytes, *, max_bytes: int, max_text_chars: int, not_after: datetime | None = None
) -> RawMention:
    """Parse and validate one payload; raise :class:`InvalidMention` with a reason code.

    ``not_after`` refuses mentions dated later than it: counting is by event time, so one mention
    from a source with a broken clock (dated next year) would push its brand's watermark ahead and
    make every real mention after it "late". Front doors call :func:`decode`, which passes their
    clock plus ``TOCSIN_MAX_FUTURE_S``.

    This is total: whatever the bytes, the only exception that leaves it is ``InvalidMention``.
    A failure the checks below did not foresee becomes ``invalid_value`` with the exception's
    type, so a new way for hostile input to break a library costs one dead letter, never a lost
    record or a restarted agent.
    """
    try:
        return _decode_raw(
            payload, max_bytes=max_bytes, max_text_chars=max_text_chars, not_after=not_after
        )
    except InvalidMention:
        raise
    except Exception as exc:  # the decoder's contract: refuse with a reason, never crash
        raise InvalidMention("invalid_value", f"undecodable ({type(exc).__name__})") from exc


def _decode_raw(
    payload: bytes, *, max_bytes: int, max_text_chars: int, not_after: datetime | None
) -> RawMention:
    if len(payload) > max_bytes:
        raise InvalidMention("oversized", f"payload is {len(payload)} bytes, limit {max_bytes}")
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidMention("invalid_utf8", f"byte {exc.start}: {exc.reason}") from exc
    try:
        obj: Any = json.loads(text)
    except (ValueError, RecursionError) as exc:
        # ValueError covers JSONDecodeError and Python's limit on digits in an int (4,300 by
        # default, sys.set_int_max_str_digits): a 5,000-digit number is not valid input either.
        raise InvalidMention("invalid_json", str(exc)[:200]) from exc
    if not isinstance(obj, dict):
        raise InvalidMention("not_an_object", f"expected a JSON object, got {type(obj).__name__}")
    # created_at is a string on the wire; strict mode would refuse it, so parse it here first.
    created = obj.get("created_at")
    if isinstance(created, str):
        try:
            parsed = datetime.fromisoformat(created.replace("Z", "+00:00"))
        except ValueError as exc:
            raise InvalidMention("wrong_type", f"created_at: not an ISO-8601 time: {exc}") from exc
        if parsed.tzinfo is None:
            raise InvalidMention("invalid_value", "created_at: a time zone is required")
        try:
            in_utc = parsed.astimezone(UTC)
        except OverflowError as exc:  # e.g. 9999-12-31T23:59-23:59 is past the year 9999 in UTC
            raise InvalidMention("invalid_value", "created_at: out of range in UTC") from exc
        if not_after is not None and in_utc > not_after:
            ahead = (in_utc - not_after).total_seconds()
            raise InvalidMention(
                "invalid_value",
                f"created_at: {in_utc:%Y-%m-%dT%H:%M:%SZ} is {ahead:.0f} s past the latest "
                f"accepted time {not_after:%Y-%m-%dT%H:%M:%SZ} (clock + TOCSIN_MAX_FUTURE_S)",
            )
        obj = {**obj, "created_at": in_utc}
    elif "created_at" in obj:
        raise InvalidMention("wrong_type", "created_at: expected an ISO-8601 string")
    # the text is validated in its normal form (a text that is not a string is left for the
    # model to refuse): the record is built once, not built and copied with a new text
    text = obj.get("text")
    if isinstance(text, str):
        obj = {**obj, "text": normalise_text(text)}
    try:
        raw = RawMention.model_validate(obj)
    except ValidationError as exc:
        raise InvalidMention(*_reason_for(exc)) from exc
    if not raw.text:
        raise InvalidMention("empty_text", "text is empty after normalisation")
    if len(raw.text) > max_text_chars:
        raise InvalidMention(
            "text_too_long", f"text is {len(raw.text)} chars, limit {max_text_chars}"
        )
    return raw


def brands_of(raw: RawMention, matcher: BrandMatcher) -> list[str]:
    """The tracked brands ``raw`` names, the primary (its Kafka key downstream) first."""
    return matcher.match(raw.text)


def to_mention(raw: RawMention, matcher: BrandMatcher, pseudonyms: Pseudonymiser) -> Mention | None:
    """Build the stream record, or ``None`` when no tracked brand is mentioned (filtered, not bad).

    The author leaves here pseudonymised (``pipeline/ingest/pseudonyms.py``): the source's id is
    replaced by its keyed hash and the handle is dropped unless its kind is allowed to keep it.
    """
    brands = brands_of(raw, matcher)
    if not brands:
        return None
    fields = raw.model_dump()
    fields["author"] = pseudonyms.author(raw.platform, fields["author"])
    return Mention(**fields, brand=brands[0], brands=brands)
