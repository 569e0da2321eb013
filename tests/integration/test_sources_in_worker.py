"""Live sources inside the worker (``TOCSIN_SOURCES_IN_WORKER=1``), two workers in one group.

A local Jetstream server streams the events the test publishes, from whatever cursor it is asked
for, and counts the websockets open at once. The first worker holds ``sources.checkpoints``'
partition and runs the source; a second worker joins (a rebalance: the source stops, saves its
checkpoint, and the partition's holder starts it again from there); then the holder is stopped
and the other worker takes the source over, from the checkpoint. Never two sockets at once; every
matching post on ``mentions.raw``; each resumed connection carries a cursor.
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from aiohttp import web
from kafka import KafkaConsumer

from pipeline.ops.procs import Broker, Worker
from tests.sources_servers import serve

pytestmark = [pytest.mark.integration, pytest.mark.timeout(400)]

BASE_US = 1_760_000_000_000_000
STEP_US = 1000


def frame(i: int) -> str:
    text = f"weather report {i}" if i % 3 == 0 else f"Glytera post number {i}"
    return json.dumps(
        {
            "did": "did:plc:alice",
            "time_us": BASE_US + i * STEP_US,
            "kind": "commit",
            "commit": {
                "operation": "create",
                "collection": "app.bsky.feed.post",
                "rkey": f"rk{i}",
                "record": {"createdAt": datetime.now(UTC).isoformat(), "text": text},
            },
        }
    )


class Stream:
    """Posts published at a steady pace by a thread (a live stream), served from any cursor."""

    def __init__(self) -> None:
        self.published = 0
        self.flowing = threading.Event()
        self.ended = threading.Event()
        self.open = 0
        self.most_open = 0
        self.connections: list[tuple[float, str | None]] = []

    def trickle(self) -> None:
        while not self.ended.is_set():
            if self.flowing.is_set():
                self.published += 1
            time.sleep(0.01)

    async def subscribe(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        cursor = request.query.get("cursor")
        self.connections.append((time.monotonic(), cursor))
        self.open += 1
        self.most_open = max(self.most_open, self.open)
        position = 0 if cursor is None else max(0, (int(cursor) - BASE_US) // STEP_US)
        reader = asyncio.ensure_future(ws.receive())  # the client's close frame
        try:
            while not ws.closed and not reader.done():
                if position < self.published:
                    await ws.send_str(frame(position))
                    position += 1
                else:
                    await asyncio.sleep(0.01)
        except ConnectionResetError:
            pass
        finally:
            self.open -= 1
            reader.cancel()
        return ws


def events_in(worker: Worker) -> float:
    """The worker's ``tocsin_source_events_in_total`` for the source (0 when it never ran it)."""
    body = httpx.get(f"{worker.url}/metrics", timeout=5).text
    found = re.search(
        r'^tocsin_source_events_in_total\{[^}]*source="bsky"[^}]*\} (\S+)$', body, re.M
    )
    return float(found.group(1)) if found else 0.0


def running_in(workers: list[Worker]) -> list[Worker]:
    """The workers whose source reads events now (its count grows)."""
    before = [events_in(w) for w in workers]
    time.sleep(1.5)
    return [w for w, b in zip(workers, before, strict=True) if events_in(w) > b]


def wait(condition: Callable[[], bool], what: str, timeout_s: float = 90) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def raw_ids(bootstrap: str) -> set[str]:
    consumer = KafkaConsumer(
        "mentions.raw",
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        consumer_timeout_ms=1500,
    )
    try:
        return {json.loads(m.value)["id"] for m in consumer}
    finally:
        consumer.close()


def test_one_worker_runs_the_sources_and_another_takes_them_over(
    broker: Broker, start_worker: Callable[..., Worker], tmp_path: Path
) -> None:
    stream = Stream()
    with serve([("GET", "/subscribe", stream.subscribe)]) as server:
        config = tmp_path / "sources.yaml"
        config.write_text(
            "sources:\n"
            "  - name: bsky\n"
            "    kind: bluesky_jetstream\n"
            f"    url: {server.ws_url}/subscribe\n"
            "    rewind_s: 0.02\n"
            "    backoff_s: 0.2\n"
        )
        env = {"TOCSIN_SOURCES_IN_WORKER": "1", "TOCSIN_SOURCES_FILE": str(config)}
        trickle = threading.Thread(target=stream.trickle, daemon=True)
        trickle.start()
        try:
            first = start_worker(**env)
            wait(lambda: len(stream.connections) >= 1, "the first worker's connection")
            assert stream.connections[0][1] is None  # nothing saved yet: from the live end
            stream.flowing.set()
            wait(lambda: running_in([first]) == [first], "the first worker reading")

            second = start_worker(**env)
            # The rebalance stopped the source and started it again in the partition's holder,
            # resuming from the checkpoint it had saved when it stopped.
            wait(lambda: len(stream.connections) >= 2, "the source restarted after the rebalance")
            assert all(cursor is not None for _, cursor in stream.connections[1:])
            owners = running_in([first, second])
            assert len(owners) == 1, "exactly one worker runs the source"
            holder = owners[0]
            other = second if holder is first else first
            connections = len(stream.connections)

            holder.stop()  # the other worker is assigned the partition and takes the source over
            wait(lambda: len(stream.connections) > connections, "the other worker's connection")
            assert stream.connections[-1][1] is not None
            wait(lambda: running_in([other]) == [other], "the other worker reading")
            stream.flowing.clear()
            last = stream.published
        finally:
            stream.ended.set()
            trickle.join(5)
        expected = {f"bluesky:did:plc:alice/post/rk{i}" for i in range(last) if i % 3}
        wait(lambda: expected <= raw_ids(broker.bootstrap), "every matching post on mentions.raw")
        print(f"{last} posts; connections (time, cursor): {stream.connections}")
        assert stream.most_open == 1, "two workers ran the source at once"
