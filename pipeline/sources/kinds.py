"""The source kinds by name: the one place a ``kind:`` in the sources file becomes a class."""

from __future__ import annotations

from typing import Any

from pipeline.brands import BrandMatcher
from pipeline.sources.base import Source
from pipeline.sources.config import (
    JetstreamEntry,
    MastodonEntry,
    RedditEntry,
    RssEntry,
    SourceEntry,
    XEntry,
)
from pipeline.sources.jetstream import JetstreamSource
from pipeline.sources.mastodon import MastodonSource
from pipeline.sources.reddit import RedditSource
from pipeline.sources.rss import RssSource
from pipeline.sources.x_stream import XStreamSource


def brand_terms(matcher: BrandMatcher) -> list[str]:
    """Every catalogue term (names, aliases, products, generics), once, for search queries."""
    seen: dict[str, None] = {}
    for brand in matcher.brands:
        for term in brand.terms():
            seen.setdefault(term, None)
    return list(seen)


def build_source(entry: SourceEntry, matcher: BrandMatcher) -> Source[Any]:
    """The source for one validated entry of the sources file; search kinds ask for the brands'
    terms (only sources that cannot filter server-side read everything and match locally)."""
    if isinstance(entry, RssEntry):
        return RssSource(entry)
    if isinstance(entry, JetstreamEntry):
        return JetstreamSource(entry)
    if isinstance(entry, MastodonEntry):
        return MastodonSource(entry)
    if isinstance(entry, RedditEntry):
        return RedditSource(entry, brand_terms(matcher))
    if isinstance(entry, XEntry):
        return XStreamSource(entry, list(matcher.brands))
    raise TypeError(f"no source for {type(entry).__name__}")  # the config's union is closed
