"""The source kinds by name: the one place a ``kind:`` in the sources file becomes a class."""

from __future__ import annotations

from typing import Any

from pipeline.brands import BrandMatcher, load_brands
from pipeline.delivery.retry import RetryPolicy
from pipeline.ingest.decoding import Limits
from pipeline.settings import Settings
from pipeline.sources.base import Source
from pipeline.sources.checkpoints import CheckpointStore
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
from pipeline.sources.metrics import SourceMetrics
from pipeline.sources.reddit import RedditSource
from pipeline.sources.rss import RssSource
from pipeline.sources.runner import Runner
from pipeline.sources.sinks import Sink
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


def build_runners(
    entries: list[SourceEntry],
    settings: Settings,
    *,
    sink: Sink,
    store: CheckpointStore,
    metrics: SourceMetrics,
    max_events: int | None = None,
    max_failures: int | None = None,
) -> list[Runner]:
    """One runner per entry, sharing the sink, checkpoint store, brands and metrics (``tocsin
    sources run`` and the sources inside the worker build them the same way)."""
    matcher = load_brands(settings.brands_file)
    limits = Limits.from_settings(settings)
    return [
        Runner(
            source=build_source(entry, matcher),
            name=entry.name,
            sink=sink,
            store=store,
            matcher=matcher,
            limits=limits,
            metrics=metrics,
            policy=RetryPolicy(backoff_s=entry.backoff_s, backoff_max_s=entry.backoff_max_s),
            max_events=max_events,
            max_failures=max_failures,
        )
        for entry in entries
    ]
