"""A bucket's cell (one topic's counts, authors, top mentions) as the record that leaves counting."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pipeline.detection.mentions import peak_two_minutes
from pipeline.records import Bucket


def with_first(cell: dict[str, Any]) -> list[dict[str, Any]]:
    """Top mentions by reach, then the bucket's first mention (the likely source) if not among them."""
    top = list(cell["top"])
    first = cell["first"]
    if first and all(t["id"] != first["id"] for t in top):
        top.append({**first, "first": True})
    return top


def bucket_of(
    brand: str, topic: str, begin: datetime, end: datetime, cell: dict[str, Any] | None
) -> Bucket:
    """The bucket record of one topic's cell (closed, or filling for an early page)."""
    if not cell:
        return Bucket(brand=brand, topic=topic, start=begin, end=end, count=0)
    return Bucket(
        brand=brand,
        topic=topic,
        start=begin,
        end=end,
        count=cell["n"],
        reach=cell["reach"],
        authors=len(cell["authors"]),
        stance=cell["stance"],
        top_mentions=with_first(cell),
        top_authors=list(cell.get("ta", [])),
        languages=dict(cell.get("lang", {})),
        author_kinds=dict(cell.get("ak", {})),
        peak=None if "mn" not in cell else int(peak_two_minutes(cell["mn"]) or 0),
    )
