"""own_sources: holds ``sources.checkpoints``' one partition; its holder runs the live sources.

With ``TOCSIN_SOURCES_IN_WORKER=1`` the worker that is assigned partition 0 of
``sources.checkpoints`` runs every source of ``TOCSIN_SOURCES_FILE`` and stops them when the
partition is revoked (:mod:`pipeline.sources.in_worker`). The records themselves are the sources'
checkpoints, which the sources read for themselves: the agent only drains them. Without the
setting the agent drains the topic and nothing else happens.
"""

from __future__ import annotations

from typing import Any

from faust.transport.drivers.aiokafka import server_list
from faust.types import StreamT

from pipeline import services
from pipeline.app import app
from pipeline.sources.in_worker import SourcesInWorker, configure
from pipeline.topics import source_checkpoints

AGENT = "own_sources"
_KEY = "sources_in_worker"


def owner() -> SourcesInWorker | None:
    """This worker's sources (configured once, on first use), or None when they are off."""
    extra = services.extra()
    if _KEY not in extra:
        bootstrap = ",".join(server_list(app.conf.broker, 9092))
        extra[_KEY] = configure(services.settings(), bootstrap, services.metrics().registry)
    found = extra[_KEY]
    return found if isinstance(found, SourcesInWorker) else None


@app.on_partitions_assigned.connect
async def start_sources(sender: Any, /, *args: Any, **kwargs: Any) -> None:
    """Faust sends the set of partitions assigned to this worker."""
    sources = owner()
    if sources is not None and args:
        await sources.assigned(args[0])


@app.on_partitions_revoked.connect
async def stop_sources(sender: Any, /, *args: Any, **kwargs: Any) -> None:
    """Faust sends the set of partitions revoked, and waits for this before the rebalance goes
    on: the sources are stopped and their checkpoints saved before another worker gets them."""
    sources = owner()
    if sources is not None and args:
        await sources.revoked(args[0])


@app.agent(source_checkpoints, name=AGENT)
async def own_sources(stream: StreamT[bytes]) -> None:
    try:
        async for _checkpoint in stream:
            pass  # read only to hold the partition
    finally:
        sources = owner()
        if sources is not None:  # the worker stops: save the checkpoints before it leaves
            await sources.stop()
