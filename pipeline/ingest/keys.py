"""The one keying rule for ``mentions.raw``: every front door keys a mention by its id.

The mention id is stable across retries and re-sends, so the copies of one mention land on one
partition (the ingest agent's position on it is what counting de-duplicates by), while ids differ
from mention to mention, so the load of a single brand's crisis spreads over every partition and
every classifying worker. Counting keys by brand later, on ``mentions``.
"""

from __future__ import annotations


def raw_key(mention_id: str) -> bytes:
    """The Kafka key for the mention ``mention_id`` on ``mentions.raw``: the id's bytes.

    A line with no readable id (malformed, dead-lettered by the agent) is sent without a key.
    ``surrogatepass`` keeps the rule total: an id holding a lone surrogate (valid JSON, not valid
    UTF-8) still gets one stable key instead of an error.
    """
    return mention_id.encode("utf-8", "surrogatepass")
