"""Talkwalker results to raw mentions.

Talkwalker's Streaming API (``/api/v3/stream/.../results``) sends chunks, one JSON object each:
``{"chunk_type": "CT_RESULT", "chunk_result": {"data": {"data": {...}}}}`` for a result and
``CT_CONTROL`` (and other types) for the connection; its Search API answers
``{"result_content": {"data": [{"data": {...}}]}}``. A result has ``url``, ``published`` (epoch
milliseconds), ``title``, ``content``, ``lang``, ``source_type`` and ``extra_author_attributes``.
Talkwalker pulls, it does not push: a push is those chunks forwarded by the team's stream reader
(NDJSON, one chunk per line, or a list), with a bearer token. Non-result chunks are skipped.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pipeline.errors import InvalidMention
from pipeline.ingest.vendors.base import (
    VendorAdapter,
    author_record,
    count,
    field,
    iso_from_millis,
    joined,
    lang_of,
    platform_of_url,
    require,
    text_of,
    url_of,
    vendor_id,
)

NAME = "talkwalker"
#: Words in ``source_type`` values (``SOCIALMEDIA_TWITTER``, ``ONLINENEWS``...) to platforms.
SOURCE_WORDS = (
    ("TWITTER", "x"),
    ("FACEBOOK", "facebook"),
    ("INSTAGRAM", "instagram"),
    ("LINKEDIN", "linkedin"),
    ("TIKTOK", "tiktok"),
    ("YOUTUBE", "youtube"),
    ("REDDIT", "reddit"),
    ("BLUESKY", "bluesky"),
    ("MESSAGEBOARD", "forum"),
    ("FORUM", "forum"),
    ("NEWS", "news"),
    ("PRINT", "news"),
)


def explode(doc: Any) -> Iterator[Any]:
    """The results in a chunk, a search answer, a list of either, or a bare result."""
    if isinstance(doc, list):
        for part in doc:
            yield from _results(part)
    else:
        yield from _results(doc)


def _results(doc: Any) -> Iterator[Any]:
    if not isinstance(doc, dict):
        yield doc  # refused by the adapter as not an object
        return
    if "chunk_type" in doc:
        if doc.get("chunk_type") == "CT_RESULT":
            yield field(doc, "chunk_result", "data", "data")
        return  # CT_CONTROL and the like say nothing about mentions
    listed = field(doc, "result_content", "data")
    if isinstance(listed, list):
        for entry in listed:
            yield entry.get("data") if isinstance(entry, dict) else entry
        return
    yield doc


def platform_of(item: dict[str, Any], url: str | None) -> str:
    kinds = item.get("source_type")
    words = (
        " ".join(k for k in kinds if isinstance(k, str)).upper() if isinstance(kinds, list) else ""
    )
    for word, name in SOURCE_WORDS:
        if word in words:
            return name
    return platform_of_url(url) or "other"


def map_result(item: dict[str, Any]) -> dict[str, Any]:
    url = require(url_of(item, ("url",)), "url (its id)", NAME)
    text = require(
        joined(text_of(item, ("title",)), text_of(item, ("content",))), "title or content", NAME
    )
    author_id = text_of(
        item,
        ("extra_author_attributes", "id"),
        ("extra_author_attributes", "name"),
        ("extra_source_attributes", "id"),
        ("extra_source_attributes", "name"),
    )
    if author_id is None:
        raise InvalidMention("missing_field", f"{NAME}: no author or source attributes")
    author = author_record(
        NAME,
        author_id,
        count(field(item, "extra_author_attributes", "followers")),
        text_of(item, ("extra_author_attributes", "short_name")),
    )
    raw: dict[str, Any] = {
        "id": vendor_id(NAME, str(item.get("external_id") or url)),
        "platform": platform_of(item, url),
        "text": text,
        "created_at": iso_from_millis(item.get("published"), "published", NAME),
        "author": author,
        "url": url,
        "engagement": {
            "likes": count(item.get("likes")),
            "shares": count(item.get("shares")),
            "replies": count(item.get("comments")),
        },
    }
    lang = lang_of(item, ("lang",))
    if lang is not None:
        raw["lang"] = lang
    return raw


TALKWALKER = VendorAdapter(
    name=NAME,
    auth="bearer",
    setting="vendor_talkwalker_token",
    explode=explode,
    map_item=map_result,
)
