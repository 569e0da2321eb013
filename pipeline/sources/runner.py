"""Runs one source: events in, mentions out, the same way for every kind.

For each event a source yields (:mod:`pipeline.sources.base`)::

    Skipped   -> counted
    Malformed -> dead letter (reason, detail, the bytes that arrived)
    Candidate -> JSON -> the ingest decoder (pipeline.ingest.decoding.decode, the limits of every
                 front door) -> refused: dead letter | no brand: counted | seen id: counted
                 | else produced to the sink, keyed by mention id

Every ``checkpoint_every`` events or ``checkpoint_s`` seconds (and when the run ends) the sink is
flushed and, once it has acknowledged everything, the source's checkpoint is saved: a restart
repeats at most what came after the last save and loses nothing. A dropped connection is retried
with exponential backoff and equal jitter, ``Retry-After`` as a floor (the delivery retry policy,
:class:`pipeline.delivery.retry.RetryPolicy`); a refusal (401/403/404) stops that source.
Nothing an event contains can crash the runner: an unforeseen failure mapping or checking one
becomes a dead letter with reason ``invalid_value`` and the exception's type.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pipeline.brands import BrandMatcher
from pipeline.delivery.retry import RetryPolicy
from pipeline.errors import InvalidMention
from pipeline.ingest.dead_letters import dead_letter
from pipeline.ingest.decoding import Limits, brands_of, decode
from pipeline.ingest.keys import raw_key
from pipeline.sources.base import (
    Candidate,
    Event,
    Malformed,
    Recent,
    Skipped,
    Source,
    SourceDisconnected,
    SourceError,
    SourceRefused,
)
from pipeline.sources.checkpoints import CheckpointStore
from pipeline.sources.metrics import SourceMetrics
from pipeline.sources.sinks import Sink

log = logging.getLogger(__name__)
Sleep = Callable[[float], Awaitable[None]]

#: Mention ids remembered per source to drop repeats (a Jetstream rewind, a Mastodon gap fill
#: that overlaps the stream, one status seen on two instances).
RECENT_IDS = 50_000


class SinkFailed(SourceError):
    """Writing a mention, a dead letter or a checkpoint failed: the run stops (nothing is lost,
    the checkpoint was not moved past it)."""


@dataclass
class SourceStats:
    """What one source did in this run (``tocsin sources check`` prints it)."""

    events: int = 0
    matched: int = 0
    unmatched: int = 0
    produced: int = 0
    duplicates: int = 0
    dead_letters: Counter[str] = field(default_factory=Counter)
    skipped: Counter[str] = field(default_factory=Counter)
    connection_errors: int = 0
    last_error: str | None = None
    refused: str | None = None


def _encode(mention: Mapping[str, Any]) -> bytes:
    text = json.dumps(mention, ensure_ascii=False, separators=(",", ":"))
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate from a \\ud800 escape: keep it escaped
        return json.dumps(mention, separators=(",", ":")).encode("ascii")


@dataclass
class Runner:
    source: Source[Any]
    name: str
    sink: Sink
    store: CheckpointStore
    matcher: BrandMatcher
    limits: Limits
    metrics: SourceMetrics
    policy: RetryPolicy
    max_events: int | None = None
    #: Give up after this many failed connections in a row (``sources check``: 1); None: never.
    max_failures: int | None = None
    checkpoint_every: int = 50
    checkpoint_s: float = 1.0
    sleep: Sleep = asyncio.sleep
    rng: random.Random = field(default_factory=random.Random)
    wall: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    stats: SourceStats = field(default_factory=SourceStats)
    recent: Recent = field(default_factory=lambda: Recent(RECENT_IDS))
    _seq: int = 0
    _events_at_connect: int = 0
    _uncommitted: int = 0
    _committed_at: float = field(default_factory=time.monotonic)

    @property
    def kind(self) -> str:
        return self.source.kind

    async def run(self) -> SourceStats:
        """Read until ``max_events``, a refusal, ``max_failures`` or cancellation; then commit."""
        self.metrics.register(self.name, self.kind)
        state = await self.store.load(self.name)
        failures = 0
        try:
            while not self._done():
                wait: float | None = None
                try:
                    await self.source.connect(state)
                    await self._drain()
                    if self._done():
                        break
                    raise SourceDisconnected("the stream ended")
                except SinkFailed:
                    raise
                except SourceRefused as exc:
                    self._connection_error(exc)
                    self.stats.refused = str(exc)
                    return self.stats
                except SourceDisconnected as exc:
                    if self.stats.events > self._events_at_connect:
                        failures = 0  # it worked for a while: the backoff starts over
                    self._connection_error(exc)
                    failures += 1
                    wait = self.policy.delay(min(failures, 30), self.rng, exc.retry_after)
                except Exception as exc:  # a protocol failure a kind did not foresee: reconnect
                    if self.stats.events > self._events_at_connect:
                        failures = 0
                    self._connection_error(SourceDisconnected(f"unexpected {type(exc).__name__}"))
                    failures += 1
                    wait = self.policy.delay(min(failures, 30), self.rng)
                finally:
                    await self._close_source()
                state = self.source.checkpoint()
                if self.max_failures is not None and failures >= self.max_failures:
                    return self.stats
                if wait is not None:
                    await self.sleep(wait)
        finally:
            await self.commit()
        return self.stats

    def _done(self) -> bool:
        return self.max_events is not None and self.stats.events >= self.max_events

    async def _drain(self) -> None:
        """Handle events until the source ends or ``max_events``; while the source is quiet,
        commit what is pending every ``checkpoint_s`` (the ``--output`` file does not lag)."""
        self._events_at_connect = self.stats.events
        events = self.source.read().__aiter__()
        try:
            while not self._done():
                pending = asyncio.ensure_future(events.__anext__())
                try:
                    while not pending.done():
                        await asyncio.wait({pending}, timeout=self.checkpoint_s)
                        # A source changes its position only just before it yields, so while it
                        # waits on the network its checkpoint is exactly what was handled.
                        if not pending.done() and self._uncommitted:
                            await self.commit()
                finally:
                    if not pending.done():
                        pending.cancel()
                        await asyncio.gather(pending, return_exceptions=True)
                try:
                    event = pending.result()
                except StopAsyncIteration:
                    return
                await self.handle(event)
                await self._maybe_commit()
        finally:
            aclose = getattr(events, "aclose", None)
            if aclose is not None:
                with contextlib.suppress(Exception):
                    await aclose()

    async def _close_source(self) -> None:
        try:
            await self.source.close()
        except Exception as exc:  # closing a broken connection can fail too; the run goes on
            log.warning("source %s: close failed (%s)", self.name, type(exc).__name__)

    def _connection_error(self, exc: Exception) -> None:
        self.stats.connection_errors += 1
        self.stats.last_error = str(exc)
        self.metrics.errors.labels(self.name, self.kind, "connection").inc()
        log.warning("source %s: %s", self.name, exc)

    async def _maybe_commit(self) -> None:
        self._uncommitted += 1
        due = time.monotonic() - self._committed_at >= self.checkpoint_s
        if self._uncommitted >= self.checkpoint_every or due:
            await self.commit()

    async def commit(self) -> None:
        """Flush the sink, then save the checkpoint: never a position ahead of what was written."""
        try:
            await self.sink.flush()
            await self.store.save(self.name, self.source.checkpoint())
        except Exception as exc:
            raise SinkFailed(f"source {self.name}: {type(exc).__name__}: {exc}") from exc
        self._uncommitted = 0
        self._committed_at = time.monotonic()

    async def handle(self, event: Event) -> None:
        """One event to its outcome; never raises for anything the event contains."""
        self.stats.events += 1
        self.metrics.event(self.name, self.kind)
        self._seq += 1
        if isinstance(event, Skipped):
            self.stats.skipped[event.what] += 1
            return
        if isinstance(event, Malformed):
            await self._dead_letter(event.payload, InvalidMention(event.reason, event.detail))
            return
        await self._candidate(event)

    async def _candidate(self, event: Candidate) -> None:
        try:
            payload = _encode(event.mention)
        except Exception as exc:  # not JSON-able: a kind's mapping bug must not stop the source
            why = InvalidMention("invalid_value", f"unencodable ({type(exc).__name__})")
            await self._dead_letter(event.raw, why)
            return
        try:
            raw = decode(payload, self.limits, self.wall())
        except InvalidMention as exc:
            await self._dead_letter(event.raw or payload, exc)
            return
        brands = brands_of(raw, self.matcher)  # the raw payload goes on; ingest pseudonymises
        if not brands:
            self.stats.unmatched += 1
            self.metrics.unmatched.labels(self.name, self.kind).inc()
            return
        self.stats.matched += 1
        self.metrics.matched.labels(self.name, self.kind).inc()
        if raw.id in self.recent:
            self.stats.duplicates += 1
            return
        try:
            await self.sink.mention(raw_key(raw.id), payload)
        except Exception as exc:
            raise SinkFailed(f"source {self.name}: {type(exc).__name__}: {exc}") from exc
        self.recent.add(raw.id)
        self.stats.produced += 1
        self.metrics.produced.labels(self.name, self.kind).inc()

    async def _dead_letter(self, payload: bytes, error: InvalidMention) -> None:
        letter = dead_letter(
            payload, error, topic=f"source:{self.name}", partition=-1, offset=self._seq
        )
        try:
            await self.sink.dead_letter(letter)
        except Exception as exc:
            raise SinkFailed(f"source {self.name}: {type(exc).__name__}: {exc}") from exc
        self.stats.dead_letters[error.reason] += 1
        self.metrics.errors.labels(self.name, self.kind, "dead_letter").inc()


def build_runners(
    sources: Iterable[tuple[str, Source[Any], RetryPolicy]],
    **common: Any,
) -> list[Runner]:
    """One runner per ``(name, source, policy)``, sharing the sink, store, matcher and metrics."""
    return [Runner(source=src, name=name, policy=policy, **common) for name, src, policy in sources]


async def run_all(
    runners: list[Runner], duration_s: float | None = None, stop: asyncio.Event | None = None
) -> dict[str, SourceStats]:
    """Run every source concurrently until each ends, ``duration_s`` passes or ``stop`` is set;
    the stopped ones are cancelled, which saves their checkpoint. Stats by source name."""
    tasks = [asyncio.ensure_future(r.run()) for r in runners]
    stopper = asyncio.ensure_future((stop or asyncio.Event()).wait())
    deadline = None if duration_s is None else time.monotonic() + duration_s
    waiting: set[asyncio.Future[Any]] = {*tasks, stopper}
    while any(not t.done() for t in tasks) and not stopper.done():
        left = None if deadline is None else deadline - time.monotonic()
        if left is not None and left <= 0:
            break
        done, waiting = await asyncio.wait(
            waiting, timeout=left, return_when=asyncio.FIRST_COMPLETED
        )
        if any(t in done and t.exception() is not None for t in tasks if not t.cancelled()):
            break  # a sink or store failed: stop every source
    stopper.cancel()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, stopper, return_exceptions=True)
    for task in tasks:
        if not task.cancelled() and task.exception() is not None:
            raise task.exception()  # type: ignore[misc]
    return {r.name: r.stats for r in runners}
