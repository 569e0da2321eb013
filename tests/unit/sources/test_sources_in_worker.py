"""Sources inside the worker: started on gaining ``sources.checkpoints``/0, stopped (checkpoints
saved) on losing it, retried after a failure, off without the setting or with a bad file."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import pytest
from faust.types import TP
from prometheus_client import CollectorRegistry

from pipeline.settings import make_settings
from pipeline.sources import in_worker
from pipeline.sources.checkpoints import MemoryCheckpoints
from pipeline.sources.in_worker import OWNER, SourcesInWorker, configure

FILE = "sources:\n  - name: news\n    kind: rss\n    url: https://news.example/feed.xml\n"


class FakeSink:
    def __init__(self, bootstrap: str) -> None:
        self.started = self.closed = False

    async def start(self) -> None:
        self.started = True

    async def close(self) -> None:
        self.closed = True


class FakeStore(MemoryCheckpoints):
    def __init__(self, bootstrap: str) -> None:
        super().__init__()

    async def start(self) -> None:
        return None


def owner(tmp_path: Path) -> SourcesInWorker:
    path = tmp_path / "sources.yaml"
    path.write_text(FILE)
    settings = make_settings(sources_in_worker=True, sources_file=path)
    found = configure(settings, "127.0.0.1:9", CollectorRegistry())
    assert found is not None and [e.name for e in found.entries] == ["news"]
    found.make_sink = FakeSink
    found.make_store = FakeStore
    return found


async def test_the_holder_of_partition_0_runs_the_sources_until_it_is_revoked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runs: list[str] = []

    async def run_all(runners: list[Any], stop: asyncio.Event) -> dict[str, Any]:
        runs.append("start")
        await stop.wait()
        runs.append("saved")  # run_all commits every runner's checkpoint when stopped
        return {}

    monkeypatch.setattr(in_worker, "run_all", run_all)
    sources = owner(tmp_path)
    await sources.assigned({TP("mentions.raw", 0), TP(OWNER.topic, 1)})
    assert not sources.running  # another topic's partition 0 is not the lease
    await sources.assigned({OWNER})
    await asyncio.sleep(0)
    assert sources.running and runs == ["start"]
    await sources.assigned({OWNER})  # assigned again while running: still one copy
    await asyncio.sleep(0)
    assert runs == ["start"]
    await sources.revoked({TP("mentions.raw", 0)})
    assert sources.running
    await sources.revoked({OWNER})
    assert not sources.running and runs == ["start", "saved"]  # stopped before revoked returns


async def test_a_failed_run_is_retried_while_the_partition_is_held(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []

    async def run_all(runners: list[Any], stop: asyncio.Event) -> dict[str, Any]:
        calls.append(len(runners))
        if len(calls) == 1:
            raise ConnectionError("broker gone")
        await stop.wait()
        return {}

    monkeypatch.setattr(in_worker, "run_all", run_all)
    monkeypatch.setattr(in_worker, "RETRY_S", 0.01)
    sources = owner(tmp_path)
    await sources.assigned({OWNER})
    for _ in range(100):
        if len(calls) == 2:
            break
        await asyncio.sleep(0.01)
    assert calls == [1, 1] and sources.running
    await sources.stop()
    assert not sources.running


def test_off_without_the_setting_and_with_a_bad_file(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    metrics = CollectorRegistry()
    assert configure(make_settings(sources_in_worker=False), "b:9", metrics) is None
    assert not list(metrics.collect())  # no source metrics in a worker without sources
    caplog.set_level(logging.ERROR, logger=in_worker.__name__)
    assert (
        configure(make_settings(sources_in_worker=True, sources_file=None), "b:9", metrics) is None
    )
    bad = tmp_path / "bad.yaml"
    bad.write_text(FILE.replace("kind: rss", "kind: rss\n    interval_s: 0"))
    settings = make_settings(sources_in_worker=True, sources_file=bad)
    assert configure(settings, "b:9", metrics) is None
    assert "TOCSIN_SOURCES_FILE is not" in caplog.text and "interval_s" in caplog.text
