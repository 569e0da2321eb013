"""``tocsin sources check`` and ``tocsin sources run``: live sources from the command line."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from pathlib import Path
from typing import Any

import click
from prometheus_client import CollectorRegistry, start_http_server

from pipeline.cli_options import bootstrap_option, require_kafka_login
from pipeline.errors import ConfigError
from pipeline.records import DeadLetter
from pipeline.settings import get_settings
from pipeline.sources.checkpoints import (
    CheckpointStore,
    FileCheckpoints,
    KafkaCheckpoints,
    MemoryCheckpoints,
)
from pipeline.sources.config import SourceEntry, load_sources
from pipeline.sources.kinds import build_runners
from pipeline.sources.metrics import SourceMetrics
from pipeline.sources.runner import Runner, SinkFailed, SourceStats, run_all
from pipeline.sources.sinks import JsonlSink, KafkaSink, Sink

#: Exit codes: 0 every source ran, 1 a source failed or was refused, 2 bad configuration.
EXIT_FAILED = 1
EXIT_CONFIG = 2

config_option = click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="sources YAML file [env: TOCSIN_SOURCES_FILE]",
)


@click.group("sources")
def sources() -> None:
    """Live sources: Bluesky Jetstream, Mastodon streaming, RSS/Atom feeds, Reddit search, X stream
    (docs/sources.md)."""


def _entries(config_file: Path | None, only: tuple[str, ...]) -> list[SourceEntry]:
    path = config_file or get_settings().sources_file
    if path is None:
        raise ConfigError("no sources file: pass --config or set TOCSIN_SOURCES_FILE")
    entries = [e for e in load_sources(path).sources if e.enabled or e.name in only]
    if only:
        unknown = sorted(set(only) - {e.name for e in entries})
        if unknown:
            raise ConfigError(f"{path}: no source named {', '.join(unknown)}")
        entries = [e for e in entries if e.name in only]
    return entries


def _runners(
    entries: list[SourceEntry],
    *,
    sink: Sink,
    store: CheckpointStore,
    metrics: SourceMetrics,
    max_events: int | None,
    max_failures: int | None = None,
) -> list[Runner]:
    return build_runners(
        entries,
        get_settings(),
        sink=sink,
        store=store,
        metrics=metrics,
        max_events=max_events,
        max_failures=max_failures,
    )


def _line(name: str, kind: str, stats: SourceStats) -> str:
    letters = sum(stats.dead_letters.values())
    reasons = ",".join(f"{k}={v}" for k, v in sorted(stats.dead_letters.items()))
    out = (
        f"{name} ({kind}): events={stats.events} matched={stats.matched} "
        f"unmatched={stats.unmatched} produced={stats.produced} dead_letters={letters}"
    )
    if reasons:
        out += f" [{reasons}]"
    if stats.duplicates:
        out += f" duplicates={stats.duplicates}"
    return out


class _CountingSink:
    """``sources check``: counts what would be sent and keeps nothing."""

    async def mention(self, key: bytes, payload: bytes) -> None:
        return None

    async def dead_letter(self, letter: DeadLetter) -> None:
        return None

    async def flush(self) -> None:
        return None

    async def close(self) -> None:
        return None


@sources.command("check")
@config_option
@click.option("--only", multiple=True, help="check only this source (repeatable)")
@click.option(
    "--events",
    default=20,
    show_default=True,
    type=click.IntRange(1),
    help="events to read per source",
)
@click.option(
    "--seconds",
    default=20.0,
    show_default=True,
    type=click.FloatRange(0.1),
    help="longest wait per run",
)
def check_cmd(config_file: Path | None, only: tuple[str, ...], events: int, seconds: float) -> None:
    """Connect to each source, read a little, print what arrived and what matched.

    Exits 1 when a source cannot be reached or refuses us (the reason is printed), 2 when the
    sources file is invalid.
    """
    try:
        entries = _entries(config_file, only)
    except ConfigError as exc:
        click.echo(f"tocsin sources check: {exc}", err=True)
        sys.exit(EXIT_CONFIG)
    metrics = SourceMetrics(CollectorRegistry())
    runners = _runners(
        entries,
        sink=_CountingSink(),
        store=MemoryCheckpoints(),
        metrics=metrics,
        max_events=events,
        max_failures=1,
    )
    results = asyncio.run(run_all(runners, duration_s=seconds))
    failed = False
    for runner in runners:
        stats = results[runner.name]
        line = _line(runner.name, runner.kind, stats)
        if stats.refused or (stats.connection_errors and stats.events == 0):
            failed = True
            line += f"  FAILED: {stats.refused or stats.last_error}"
        click.echo(line)
    sys.exit(EXIT_FAILED if failed else 0)


@sources.command("run")
@config_option
@click.option("--only", multiple=True, help="run only this source (repeatable)")
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="write mentions here (JSON lines, the mentions.raw contract) instead of Kafka; no broker",
)
@click.option(
    "--dead-letters",
    "dead_letters_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="with --output: write dead letters here (default: OUTPUT with .dlq.jsonl)",
)
@click.option(
    "--state",
    "state_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="with --output: keep checkpoints in this JSON file (default: none survive the run)",
)
@click.option(
    "--max-events", type=click.IntRange(1), default=None, help="stop each source after N events"
)
@click.option("--duration", type=click.FloatRange(0.1), default=None, help="stop after S seconds")
@click.option(
    "--metrics-port",
    envvar="TOCSIN_SOURCES_METRICS_PORT",
    type=click.IntRange(0, 65535),
    default=0,
    show_default=True,
    help="serve /metrics on this port (0: off) [env: TOCSIN_SOURCES_METRICS_PORT]",
)
@click.option(
    "--metrics-bind",
    envvar="TOCSIN_SOURCES_METRICS_BIND",
    default="127.0.0.1",
    show_default=True,
    help="address /metrics listens on [env: TOCSIN_SOURCES_METRICS_BIND]",
)
@bootstrap_option
def run_cmd(
    config_file: Path | None,
    only: tuple[str, ...],
    output: Path | None,
    dead_letters_file: Path | None,
    state_file: Path | None,
    max_events: int | None,
    duration: float | None,
    metrics_port: int,
    metrics_bind: str,
    bootstrap: str,
) -> None:
    """Run the sources: mentions to mentions.raw (or --output), bad events to mentions.dlq.

    Checkpoints go to the compacted topic sources.checkpoints (with --output: --state or memory).
    SIGTERM or Ctrl-C stops cleanly, saving every source's checkpoint.
    """
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # httpx logs every request URL at INFO; a feed URL can carry a publisher's key.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    if output is None and (state_file or dead_letters_file):
        raise click.UsageError("--state and --dead-letters go with --output")
    try:
        entries = _entries(config_file, only)
    except ConfigError as exc:
        click.echo(f"tocsin sources run: {exc}", err=True)
        sys.exit(EXIT_CONFIG)
    registry = CollectorRegistry()
    metrics = SourceMetrics(registry)
    served = None
    if metrics_port:
        served = start_http_server(metrics_port, addr=metrics_bind, registry=registry)
    if output is None:  # before the loop: the login check runs its own
        require_kafka_login("sources run", bootstrap)
    try:
        code = asyncio.run(
            _run(
                entries,
                output,
                dead_letters_file,
                state_file,
                bootstrap,
                metrics,
                max_events,
                duration,
            )
        )
    finally:
        if served is not None:  # stop serving: the process (or a test's) goes on without it
            server, _thread = served
            server.shutdown()
            server.server_close()
    sys.exit(code)


async def _run(
    entries: list[SourceEntry],
    output: Path | None,
    dead_letters_file: Path | None,
    state_file: Path | None,
    bootstrap: str,
    metrics: SourceMetrics,
    max_events: int | None,
    duration: float | None,
) -> int:
    sink: Any
    store: Any
    if output is not None:
        dlq = dead_letters_file or output.with_name(output.stem + ".dlq.jsonl")
        sink = JsonlSink(output, dlq)
        store = FileCheckpoints(state_file) if state_file else MemoryCheckpoints()
    else:
        sink = KafkaSink(bootstrap)
        await sink.start()
        store = KafkaCheckpoints(bootstrap)
        await store.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    runners = _runners(entries, sink=sink, store=store, metrics=metrics, max_events=max_events)
    try:
        results = await run_all(runners, duration_s=duration, stop=stop)
    except SinkFailed as exc:
        click.echo(f"tocsin sources run: {exc}", err=True)
        return EXIT_FAILED
    finally:
        await sink.close()
        await store.close()
    failed = False
    for runner in runners:
        stats = results[runner.name]
        line = _line(runner.name, runner.kind, stats)
        if stats.refused:
            failed = True
            line += f"  REFUSED: {stats.refused}"
        click.echo(line, err=True)
    return EXIT_FAILED if failed else 0
