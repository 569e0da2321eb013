"""erase_authors: ``privacy.erasures`` -> one author's data removed from one table entry.

``tocsin privacy erase`` finds the table entries that hold an author's data and sends one
command per entry, keyed by the entry's key, so this agent runs on the partition that owns the
entry and its table write goes to the right changelog partition (a write from any other
partition would be recovered into the wrong place). The removal is
:func:`pipeline.ingest.erasure.scrub`; the rewritten value replaces the old one in the changelog,
which compaction then drops.
"""

from __future__ import annotations

import logging

from faust.types import StreamT

from pipeline import services
from pipeline.app import app
from pipeline.ingest.erasure import Erasure, scrub
from pipeline.records import ErasureCommand
from pipeline.tables import ERASABLE
from pipeline.topics import erasures

AGENT = "erase_authors"
log = logging.getLogger(__name__)


@app.agent(erasures, name=AGENT)
async def erase_authors(stream: StreamT[ErasureCommand]) -> None:
    metrics = services.metrics()
    async for command in stream:
        metrics.messages_in.labels(AGENT).inc()
        table = ERASABLE.get(command.table)
        if table is None:
            log.warning("erasure %s: table %r is not erasable", command.erasure_id, command.table)
            continue
        erasure = Erasure(
            frozenset(command.ids),
            frozenset(command.handles or ()),
            frozenset(command.mention_ids or ()),
        )
        clean, removed = scrub(table[command.key], erasure)
        if removed:
            table[command.key] = clean
            metrics.messages_out.labels(AGENT).inc()
        log.info(
            "erasure %s: %s[%s] %d item(s) removed",
            command.erasure_id,
            command.table,
            command.key,
            removed,
        )
