"""Brandwatch Consumer Research mentions to raw mentions.

Brandwatch documents its mention as the objects of ``results`` in the Retrieving Mentions answer
(``GET /projects/{id}/data/mentions``) with the fields of its "Mention Field Definitions" page;
it documents no signed webhook, so a push is that JSON sent by the team's relay (an export job,
an iPaaS flow) with a bearer token. Accepted bodies: ``{"results": [...]}``, a list of mentions,
one mention, or NDJSON of any of these.
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
    platform,
    platform_of_url,
    require,
    text_of,
    url_of,
    vendor_id,
)

NAME = "brandwatch"
#: Brandwatch ``pageType`` values to Tocsin platforms (others: by URL host, else "other").
PAGE_TYPES = {"twitter": "x", "x": "x", "forum": "forum", "news": "news"}
#: ``threadEntryType`` to the contract's mention kind.
ENTRY_KINDS = {"reply": "reply", "share": "repost", "retweet": "repost", "quote": "quote"}


def map_mention(item: dict[str, Any]) -> dict[str, Any]:
    native = text_of(item, ("guid",), ("resourceId",))
    if native is None and isinstance(item.get("resourceId"), int):
        native = str(item["resourceId"])
    native = require(native, "guid", NAME)
    text = require(
        joined(text_of(item, ("title",)), text_of(item, ("fullText",), ("snippet",))),
        "fullText, snippet or title",
        NAME,
    )
    url = url_of(item, ("url",), ("originalUrl",))
    page_type = str(item.get("pageType") or "").lower()
    name = PAGE_TYPES.get(page_type) or platform_of_url(url) or platform(page_type)
    author_id = text_of(
        item, ("xAuthorId",), ("twitterAuthorId",), ("blueskyAuthorId",), ("author",), ("domain",)
    )
    if author_id is None:
        raise InvalidMention("missing_field", f"{NAME}: no author, author id or domain")
    author = author_record(
        NAME,
        author_id,
        count(item.get("xFollowers")) or count(item.get("twitterFollowers")),
        text_of(item, ("author",)),
        verified=bool(item.get("authorVerifiedType")),
    )
    raw: dict[str, Any] = {
        "id": vendor_id(NAME, native),
        "platform": name,
        "text": text,
        "created_at": iso_from_text(require(item.get("date"), "date", NAME), "date", NAME),
        "author": author,
        "kind": ENTRY_KINDS.get(str(item.get("threadEntryType") or "").lower(), "post"),
        "engagement": {
            "likes": count(item.get("likes")),
            "shares": count(field(item, "xReposts")) or count(item.get("twitterRetweets")),
            "replies": count(item.get("xReplyCount")) or count(item.get("replies")),
        },
    }
    if url is not None:
        raw["url"] = url
    lang = lang_of(item, ("language",))
    if lang is not None:
        raw["lang"] = lang
    return raw


BRANDWATCH = VendorAdapter(
    name=NAME,
    auth="bearer",
    setting="vendor_brandwatch_token",
    explode=lambda doc: items_of(doc, "results"),
    map_item=map_mention,
)
