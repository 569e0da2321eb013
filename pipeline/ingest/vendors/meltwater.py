"""Meltwater streaming documents to raw mentions, authenticated by Meltwater's hook signature.

Meltwater's Streaming API (Data Streams) POSTs search results to the hook's ``target_url`` as
``application/json``, signed: ``X-Hub-Signature: sha1=<hex>``, an HMAC-SHA1 of the body keyed with
the hook's shared secret (``X-Hook-Secret``, 16 to 64 characters, chosen or returned when the hook
is created). Documents follow the ``api.json`` template: ``id``, ``published_date``, ``url``,
``content.title`` / ``content.opening_text`` / ``content.body``, ``author.name`` /
``author.handle``, ``source.information_type``, ``lang``. Accepted bodies: one document,
``{"documents": [...]}`` or a list. Meltwater sends no timestamp, so a replay cannot be told by
age: :mod:`pipeline.ingest.vendors.push` remembers the signatures it accepted instead.
"""

from __future__ import annotations

from typing import Any

from pipeline.errors import InvalidMention
from pipeline.ingest.vendors.base import (
    VendorAdapter,
    author_record,
    count,
    field,
    iso_from_text,
    items_of,
    joined,
    lang_of,
    platform_of_url,
    require,
    text_of,
    url_of,
    vendor_id,
)

NAME = "meltwater"


def platform_of(item: dict[str, Any], url: str | None) -> str:
    social = platform_of_url(url)
    if social is not None:
        return social
    kind = text_of(item, ("source", "information_type"), ("source_information_type",)) or ""
    if "forum" in kind.lower():
        return "forum"
    if "news" in kind.lower():
        return "news"
    return "other"


def map_document(item: dict[str, Any]) -> dict[str, Any]:
    native = require(text_of(item, ("id",)), "id", NAME)
    body = text_of(item, ("content", "body"), ("content", "opening_text"), ("opening_text",))
    text = require(
        joined(text_of(item, ("content", "title"), ("title",)), body), "content or title", NAME
    )
    url = url_of(item, ("url",))
    author_id = text_of(
        item,
        ("author", "external_id"),
        ("author", "handle"),
        ("author", "name"),
        ("source", "name"),
        ("source_name",),
    )
    if author_id is None:
        raise InvalidMention("missing_field", f"{NAME}: no author or source name")
    author = author_record(
        NAME,
        author_id,
        count(field(item, "author", "followers")),
        text_of(item, ("author", "handle")),
    )
    raw: dict[str, Any] = {
        "id": vendor_id(NAME, native),
        "platform": platform_of(item, url),
        "text": text,
        "created_at": iso_from_text(
            require(item.get("published_date"), "published_date", NAME), "published_date", NAME
        ),
        "author": author,
    }
    if url is not None:
        raw["url"] = url
    lang = lang_of(item, ("lang",), ("language",))
    if lang is not None:
        raw["lang"] = lang
    return raw


MELTWATER = VendorAdapter(
    name=NAME,
    auth="hub_sha1",
    setting="vendor_meltwater_secret",
    explode=lambda doc: items_of(doc, "documents"),
    map_item=map_document,
)
