"""The source kinds by name: the one place a ``kind:`` in the sources file becomes a class."""

from __future__ import annotations

from typing import Any

from pipeline.sources.base import Source
from pipeline.sources.config import JetstreamEntry, MastodonEntry, RssEntry, SourceEntry
from pipeline.sources.jetstream import JetstreamSource
from pipeline.sources.mastodon import MastodonSource
from pipeline.sources.rss import RssSource


def build_source(entry: SourceEntry) -> Source[Any]:
    """The source for one validated entry of the sources file."""
    if isinstance(entry, RssEntry):
        return RssSource(entry)
    if isinstance(entry, JetstreamEntry):
        return JetstreamSource(entry)
    if isinstance(entry, MastodonEntry):
        return MastodonSource(entry)
    raise TypeError(f"no source for {type(entry).__name__}")  # the config's union is closed
