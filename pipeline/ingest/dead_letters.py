"""Dead letters for mentions: a rejected payload kept whole with the reason it was refused."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

from pipeline.errors import InvalidMention
from pipeline.records import DeadLetter


def dead_letter(
    payload: bytes, error: InvalidMention, *, topic: str, partition: int, offset: int
) -> DeadLetter:
    """Wrap a rejected payload with its reason; bytes that are not UTF-8 are kept as base64."""
    try:
        text, encoding = payload.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        text, encoding = base64.b64encode(payload).decode("ascii"), "base64"
    return DeadLetter(
        reason=error.reason,
        detail=error.detail[:500],
        source_topic=topic,
        partition=partition,
        offset=offset,
        received_at=datetime.now(UTC),
        payload=text,
        payload_encoding=encoding,
    )
