"""The runner with a scripted source: outcomes, backoff with Retry-After, checkpoints, metrics."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime
from typing import Any

from prometheus_client import CollectorRegistry

from pipeline.brands import load_brands
from pipeline.delivery.retry import RetryPolicy
from pipeline.ingest.decoding import Limits
from pipeline.records import DeadLetter
from pipeline.settings import make_settings
from pipeline.sources.base import (
    Candidate,
    Event,
    Malformed,
    Skipped,
    Source,
    SourceDisconnected,
    SourceRefused,
)
from pipeline.sources.checkpoints import MemoryCheckpoints
from pipeline.sources.metrics import SourceMetrics
from pipeline.sources.runner import Runner

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def mention(i: int, text: str) -> dict[str, Any]:
    return {
        "id": f"t:{i}",
        "platform": "other",
        "created_at": "2026-12-01T11:59:00Z",
        "text": text,
        "author": {"id": "u"},
    }


class Scripted(Source[None]):
    """Each connection plays the next script: a list of events, or an exception to raise."""

    kind = "scripted"

    def __init__(self, scripts: list[list[Event] | Exception]) -> None:
        super().__init__(None)
        self.scripts = scripts
        self.position = 0
        self.connects: list[Mapping[str, Any] | None] = []
        self.current: list[Event] = []

    async def connect(self, checkpoint: Mapping[str, Any] | None) -> None:
        self.connects.append(checkpoint)
        script = self.scripts.pop(0) if self.scripts else SourceRefused("script over")
        if isinstance(script, Exception):
            raise script
        self.current = script

    async def read(self) -> AsyncIterator[Event]:
        for event in self.current:
            self.position += 1
            yield event
        raise SourceDisconnected("end of script", retry_after=None)

    def checkpoint(self) -> dict[str, Any]:
        return {"position": self.position}

    async def close(self) -> None:
        return None


class Journal:
    """A sink and a store writing one ordered journal, to check what is saved when."""

    def __init__(self) -> None:
        self.log: list[tuple[str, Any]] = []

    async def mention(self, key: bytes, payload: bytes) -> None:
        self.log.append(("mention", key.decode()))

    async def dead_letter(self, letter: DeadLetter) -> None:
        self.log.append(("dead_letter", letter.reason))

    async def flush(self) -> None:
        self.log.append(("flush", None))

    async def close(self) -> None:
        return None


class JournalStore(MemoryCheckpoints):
    def __init__(self, journal: Journal) -> None:
        super().__init__()
        self.journal = journal

    async def save(self, source: str, state: dict[str, Any]) -> None:
        self.journal.log.append(("save", state))
        await super().save(source, state)


def runner(source: Scripted, journal: Journal, metrics: SourceMetrics, **kw: Any) -> Runner:
    cfg = make_settings()
    sleeps: list[float] = []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    made = Runner(
        source=source,
        name="s1",
        sink=journal,
        store=JournalStore(journal),
        matcher=load_brands(cfg.brands_file),
        limits=Limits.from_settings(cfg),
        metrics=metrics,
        policy=RetryPolicy(backoff_s=0.5, backoff_max_s=30),
        sleep=sleep,
        rng=random.Random(1),
        wall=lambda: NOW,
        checkpoint_every=2,
        checkpoint_s=3600,
        **kw,
    )
    made.sleeps = sleeps  # type: ignore[attr-defined]
    return made


async def test_each_event_gets_its_outcome_and_checkpoints_follow_a_flush() -> None:
    events: list[Event] = [
        Candidate(mention(1, "Glytera price hike")),
        Candidate(mention(2, "nothing to see")),
        Malformed("invalid_json", "bad", b"{"),
        Skipped("delete"),
        Candidate(mention(3, "")),  # empty text: the ingest decoder's own refusal
        Candidate(mention(1, "Glytera price hike")),  # the same id again
    ]
    source = Scripted([events, SourceRefused("401")])
    journal = Journal()
    metrics = SourceMetrics(CollectorRegistry(), clock=lambda: 1000.0)
    run = runner(source, journal, metrics)
    stats = await run.run()
    assert (stats.events, stats.matched, stats.unmatched, stats.produced) == (6, 2, 1, 1)
    assert stats.duplicates == 1 and stats.skipped == {"delete": 1}
    assert dict(stats.dead_letters) == {"invalid_json": 1, "empty_text": 1}
    assert stats.refused == "401"
    kinds = [entry[0] for entry in journal.log]
    assert kinds.count("mention") == 1 and kinds.count("dead_letter") == 2
    for i, (what, _) in enumerate(journal.log):
        if what == "save":
            assert journal.log[i - 1][0] == "flush", journal.log
    assert journal.log[-1] == ("save", {"position": 6})

    def sample(name: str, **labels: str) -> float | None:
        return metrics.registry.get_sample_value(
            name, {"source": "s1", "kind": "scripted", **labels}
        )

    assert sample("tocsin_source_events_in_total") == 6
    assert sample("tocsin_source_mentions_matched_total") == 2
    assert sample("tocsin_source_mentions_unmatched_total") == 1
    assert sample("tocsin_source_mentions_produced_total") == 1
    assert sample("tocsin_source_errors_total", type="dead_letter") == 2
    assert sample("tocsin_source_errors_total", type="connection") == 2  # the end, then 401


async def test_reconnects_back_off_with_jitter_and_honour_retry_after() -> None:
    source = Scripted(
        [
            SourceDisconnected("429", retry_after=7.0),
            SourceDisconnected("reset"),
            [Candidate(mention(1, "Glytera"))],
            RuntimeError("a protocol surprise"),
        ]
    )
    journal = Journal()
    run = runner(source, journal, SourceMetrics(CollectorRegistry()))
    stats = await run.run()
    sleeps = run.sleeps  # type: ignore[attr-defined]
    assert sleeps[0] >= 7.0  # Retry-After is a floor
    assert 0.5 <= sleeps[1] <= 1.0  # attempt 2: between half and all of 0.5 * 2
    assert 0.25 <= sleeps[2] <= 0.5  # an event arrived: the backoff starts over
    assert stats.produced == 1 and stats.connection_errors == 5
    assert stats.last_error == "script over" and stats.refused == "script over"
    # Every reconnect resumes from the position after the last event handled.
    assert source.connects[-1] == {"position": 1}


async def test_max_failures_stops_a_source_that_cannot_connect() -> None:
    source = Scripted([SourceDisconnected("connection refused")] * 5)
    run = runner(source, Journal(), SourceMetrics(CollectorRegistry()), max_failures=1)
    stats = await run.run()
    assert stats.connection_errors == 1 and len(source.connects) == 1 and stats.events == 0


def test_a_stalled_source_shows_in_seconds_since_last_event() -> None:
    now = [1000.0]
    metrics = SourceMetrics(CollectorRegistry(), [("feed", "rss")], clock=lambda: now[0])
    labels = {"source": "feed", "kind": "rss"}
    get = metrics.registry.get_sample_value
    assert get("tocsin_source_seconds_since_last_event", labels) == 0.0
    now[0] = 1600.0
    assert get("tocsin_source_seconds_since_last_event", labels) == 600.0
    assert get("tocsin_source_last_event_timestamp_seconds", labels) == 1000.0
    metrics.event("feed", "rss")
    assert get("tocsin_source_seconds_since_last_event", labels) == 0.0
    assert get("tocsin_source_last_event_timestamp_seconds", labels) == 1600.0


class TimedStore(JournalStore):
    def __init__(self, journal: Journal) -> None:
        super().__init__(journal)
        self.started = time.monotonic()
        self.saved_at: list[float] = []

    async def save(self, source: str, state: dict[str, Any]) -> None:
        self.saved_at.append(time.monotonic())
        await super().save(source, state)


class Quiet(Scripted):
    """One event, then a long silence on the network, then a refusal."""

    async def read(self) -> AsyncIterator[Event]:
        self.position += 1
        yield Candidate(mention(1, "Glytera"))
        await asyncio.sleep(0.4)
        raise SourceRefused("done")


async def test_a_quiet_source_has_what_it_handled_committed_while_it_waits() -> None:
    source = Quiet([[]])
    journal = Journal()
    run = runner(source, journal, SourceMetrics(CollectorRegistry()))
    run.checkpoint_s = 0.05
    store = TimedStore(journal)
    run.store = store
    stats = await run.run()
    assert stats.produced == 1 and stats.refused == "done"
    # Saved during the silence (well before the source gave up at 0.4 s), after a flush.
    assert store.saved_at[0] - store.started < 0.3, store.saved_at
    first = journal.log.index(("save", {"position": 1}))
    assert journal.log[first - 1] == ("flush", None)
    assert ("mention", "t:1") in journal.log[:first]
