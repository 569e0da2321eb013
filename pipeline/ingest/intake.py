"""What the ingest agent does with one record of ``mentions.raw``: a ``Mention``, a dead letter or nothing.

The same decoder and limits as HTTP ingest (:func:`pipeline.ingest.decoding.decode`), so a line
HTTP accepts is never dead-lettered here, and one refused there is refused here with the same
reason. Valid mentions that name no tracked brand give ``None``: noise, not errors.
"""

from __future__ import annotations

from datetime import UTC, datetime

from pipeline.brands import BrandMatcher
from pipeline.errors import InvalidMention
from pipeline.ingest.dead_letters import dead_letter
from pipeline.ingest.decoding import Limits, decode, to_mention
from pipeline.ingest.pseudonyms import Pseudonymiser
from pipeline.records import DeadLetter, Mention


def as_bytes(value: object) -> bytes:
    """The record's value as bytes; anything that is not bytes is taken as text."""
    if isinstance(value, bytes | bytearray):
        return bytes(value)
    return str(value).encode("utf-8")


def intake(
    value: object,
    *,
    topic: str,
    partition: int,
    offset: int,
    limits: Limits,
    matcher: BrandMatcher,
    pseudonyms: Pseudonymiser,
    now: datetime | None = None,
    received_at: datetime | None = None,
) -> Mention | DeadLetter | None:
    """Decode the record read at ``topic``/``partition``/``offset``.

    A valid mention comes back stamped with its raw position (counting de-duplicates by it), the
    time it reached Tocsin (``received_at``, the raw record's timestamp; else ``now``) and its
    author pseudonymised; a refused payload comes back whole as a :class:`DeadLetter` with its
    reason.
    """
    payload = as_bytes(value)
    now = now or datetime.now(UTC)
    try:
        raw = decode(payload, limits, now)
    except InvalidMention as exc:
        return dead_letter(payload, exc, topic=topic, partition=partition, offset=offset)
    mention = to_mention(raw, matcher, pseudonyms)
    if mention is not None:
        mention.raw_partition = partition
        mention.raw_offset = offset
        mention.received_at = received_at or now
    return mention
