"""Integration fixtures: a fresh real broker per worker test, workers as real subprocesses.

Tests that run a worker get a broker of their own (a few seconds to start), because the pipeline's
topic names and consumer group are fixed: sharing one broker would let one test's leftovers flow
into the next. PostgreSQL is one server per session with a fresh database per test. Everything
started here is stopped by PID in the fixture's teardown.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaConsumer, KafkaProducer

from pipeline.ops.postgres import MissingTool, Postgres
from pipeline.ops.procs import Broker, Worker, free_port
from pipeline.ops.topics import ensure_topics

# kafka-python (3.0) can drop a TCP connection to the broker without closing its socket when a
# connect or metadata request times out on a busy machine; the ResourceWarning then surfaces at
# garbage collection inside whichever test runs next, as an "unraisable" error (seen about one run
# in five under load; the leaked socket's peer is the broker, and our clients close in ``finally``). Only
# for the tests that talk to a broker, and only for AF_INET sockets: any other unraisable
# exception, and every socket leak in the unit tier, stays an error.
KAFKA_SOCKET_LEAK = (
    "ignore:Exception ignored in. <socket.socket fd=[0-9]+, family=2, type=1"
    ":pytest.PytestUnraisableExceptionWarning"
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.get_closest_marker("integration") or item.get_closest_marker("e2e"):
            item.add_marker(pytest.mark.filterwarnings(KAFKA_SOCKET_LEAK))


@pytest.fixture(scope="session")
def model_dir() -> Path:
    """The real classifier artefacts (built into the cache once; `make test` builds them first)."""
    from models.build import build_artefacts

    return build_artefacts(progress=lambda _msg: None)


@pytest.fixture()
def broker(tmp_path: Path) -> Iterator[Broker]:
    b = Broker(port=free_port(), data_dir=tmp_path / "kafka")
    b.start()
    try:
        ensure_topics(b.bootstrap)
        yield b
    finally:
        b.stop()


DETECTION_FILE = Path(__file__).parent / "data" / "detection.yaml"
"""Detector settings of the workers these tests start (a 1-hour warm-up: see the file)."""


@pytest.fixture()
def start_worker(
    broker: Broker, tmp_path: Path, model_dir: Path
) -> Iterator[Callable[..., Worker]]:
    started: list[Worker] = []

    def _start(**env: str) -> Worker:
        worker = Worker(
            bootstrap=broker.bootstrap,
            data_dir=tmp_path / f"worker{len(started)}",
            env={
                "TOCSIN_MODEL_DIR": str(model_dir),
                "TOCSIN_DETECTION_FILE": str(DETECTION_FILE),
                **env,
            },
        )
        started.append(worker)
        worker.start(loglevel="info")
        worker.wait_ready(timeout_s=120)
        return worker

    yield _start
    for worker in started:
        worker.stop()


def produce(
    bootstrap: str, topic: str, payloads: list[bytes], keys: list[bytes | None] | None = None
) -> None:
    producer = KafkaProducer(
        bootstrap_servers=bootstrap, acks="all", max_request_size=8 * 1024 * 1024
    )
    try:
        for i, payload in enumerate(payloads):
            producer.send(topic, value=payload, key=keys[i] if keys else None)
        producer.flush(timeout=30)
    finally:
        producer.close(timeout=10)


def consume(
    bootstrap: str, topic: str, *, want: int, timeout_s: float = 90.0, settle_s: float = 0.0
) -> list[dict[str, Any]]:
    """Read ``topic`` from the start until ``want`` messages arrived (then ``settle_s`` more)."""
    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        consumer_timeout_ms=1000,
        fetch_max_bytes=64 * 1024 * 1024,
        max_partition_fetch_bytes=32 * 1024 * 1024,
    )
    out: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout_s
    settled_at: float | None = None
    try:
        while time.monotonic() < deadline:
            for message in consumer:
                value = json.loads(message.value)
                value.pop("__faust", None)
                out.append(value)
            if len(out) >= want:
                settled_at = settled_at or time.monotonic()
                if time.monotonic() - settled_at >= settle_s:
                    break
        return out
    finally:
        consumer.close()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[Postgres]:
    """One real PostgreSQL server (Debian's package) for the session, on 127.0.0.1; a test takes
    a fresh database of its own (:func:`postgres_dsn`). Missing binaries fail, naming them."""
    server = Postgres()
    try:
        server.start()
    except MissingTool as exc:
        server.stop()
        pytest.fail(str(exc))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture()
def postgres_dsn(postgres_server: Postgres) -> str:
    """The DSN of a fresh database for this test on the session's PostgreSQL server."""
    return postgres_server.database(f"t{uuid.uuid4().hex[:16]}")
