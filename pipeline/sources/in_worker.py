"""Live sources inside the worker (``TOCSIN_SOURCES_IN_WORKER=1``): one owner among the workers.

The sources of ``TOCSIN_SOURCES_FILE`` run in the worker that holds partition 0 of
``sources.checkpoints``, the topic that keeps their positions (it has one partition). Every worker
reads that topic in the consumer group (``agents/own_sources.py``), so Kafka's group membership
is the lease: the group gives the partition to exactly one member and moves it when that member
leaves, dies or stops heart-beating. Faust revokes partitions from every member, and waits for the
revoke handlers, before it assigns them again, so the old owner has stopped its sources and saved
their checkpoints before the new owner loads them: a hand-over repeats at most what the sources
had read since their last checkpoint, as a restart of ``tocsin sources run`` does.

Limits: every rebalance (a worker joining or leaving) stops and restarts the sources on the owner
(a pause of a few seconds; positions are kept). A worker cut off from the broker for longer than
the session timeout loses the partition while its sources may still run until it notices: for that
while two copies run, their mentions have the same ids (ingest filters the copies) and their
checkpoints overwrite each other, as with two ``sources run`` processes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from faust.types import TP
from prometheus_client import CollectorRegistry

from pipeline.errors import ConfigError
from pipeline.settings import Settings
from pipeline.sources.checkpoints import KafkaCheckpoints
from pipeline.sources.config import SourceEntry, load_sources
from pipeline.sources.kinds import build_runners
from pipeline.sources.metrics import SourceMetrics
from pipeline.sources.runner import run_all
from pipeline.sources.sinks import KafkaSink
from pipeline.topology import SOURCE_CHECKPOINTS

log = logging.getLogger(__name__)

#: The partition whose holder runs the sources.
OWNER = TP(SOURCE_CHECKPOINTS.name, 0)
#: Longest wait for the sources to stop and save their checkpoints on a revoke; Faust's rebalance
#: timeout (20 s by default) must leave room for it.
STOP_TIMEOUT_S = 10.0
#: Wait before running the sources again after they failed (the broker went away, say).
RETRY_S = 10.0


@dataclass
class SourcesInWorker:
    """Starts the configured sources when this worker gains :data:`OWNER`, stops them when it
    loses it (or stops)."""

    entries: list[SourceEntry]
    settings: Settings
    bootstrap: str
    metrics: SourceMetrics
    #: How the sink and the checkpoint store reach the broker (tests pass fakes).
    make_sink: Callable[[str], Any] = KafkaSink
    make_store: Callable[[str], Any] = KafkaCheckpoints
    _task: asyncio.Task[None] | None = field(default=None, init=False)
    _stop: asyncio.Event | None = field(default=None, init=False)

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def assigned(self, partitions: Iterable[TP]) -> None:
        if OWNER in set(partitions) and not self.running:
            log.info("sources: this worker holds %s/%d; starting %d", *OWNER, len(self.entries))
            self._stop = asyncio.Event()
            self._task = asyncio.ensure_future(self._run(self._stop))

    async def revoked(self, partitions: Iterable[TP]) -> None:
        if OWNER in set(partitions):
            await self.stop()

    async def stop(self) -> None:
        """Stop every source and save its checkpoint (at most :data:`STOP_TIMEOUT_S`)."""
        task, stop = self._task, self._stop
        self._task = self._stop = None
        if task is None or stop is None:
            return
        stop.set()
        try:
            await asyncio.wait_for(asyncio.shield(task), STOP_TIMEOUT_S)
        except TimeoutError:
            log.error("sources: not stopped in %.0f s; cancelled", STOP_TIMEOUT_S)
            task.cancel()
            with contextlib.suppress(BaseException):
                await task
        log.info("sources: stopped, checkpoints saved")

    async def _run(self, stop: asyncio.Event) -> None:
        """Run the sources until ``stop``; after a failure, again :data:`RETRY_S` later."""
        while not stop.is_set():
            sink = self.make_sink(self.bootstrap)
            store = self.make_store(self.bootstrap)
            try:
                await sink.start()
                await store.start()
                runners = build_runners(
                    self.entries, self.settings, sink=sink, store=store, metrics=self.metrics
                )
                await run_all(runners, stop=stop)
            except Exception as exc:  # a broker or config failure must not take the worker down
                log.error("sources: stopped by %s: %s", type(exc).__name__, exc)
            finally:
                with contextlib.suppress(Exception):
                    await sink.close()
                with contextlib.suppress(Exception):
                    await store.close()
            if not stop.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), RETRY_S)


def configure(
    settings: Settings, bootstrap: str, registry: CollectorRegistry
) -> SourcesInWorker | None:
    """The sources to run in this worker, or None when ``sources_in_worker`` is off. A missing or
    invalid sources file is logged (file, line and field) and runs nothing: the worker goes on.
    Their metrics join ``registry`` (the worker's ``/metrics``) only when they are configured."""
    if not settings.sources_in_worker:
        return None
    if settings.sources_file is None:
        log.error("sources: TOCSIN_SOURCES_IN_WORKER is set but TOCSIN_SOURCES_FILE is not")
        return None
    try:
        entries = [e for e in load_sources(settings.sources_file).sources if e.enabled]
    except ConfigError as exc:
        log.error("sources: not started: %s", exc)
        return None
    return SourcesInWorker(entries, settings, bootstrap, SourceMetrics(registry))
