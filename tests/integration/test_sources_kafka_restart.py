"""``tocsin sources run`` on the real broker, SIGKILLed mid-stream and restarted.

A local Jetstream server replays a fixed stream of 400 events from whatever cursor it is asked for
(matching posts, unmatched posts, malformed frames). The first ``sources run`` process is killed
with SIGKILL while it reads; the second resumes from the checkpoint it reads back from the
compacted ``sources.checkpoints`` topic. Every well-formed matching post must be on
``mentions.raw`` (keyed by its id) and every malformed frame on ``mentions.dlq``, each at least once;
repeats are bounded by what the last checkpoint did not cover, and mention ids de-duplicate them.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from kafka import KafkaConsumer

from pipeline.ops.procs import Broker
from tests.integration.conftest import consume
from tests.sources_servers import serve

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
BASE_US = 1_760_000_000_000_000
TOTAL = 400
STEP_US = 1000


def frame(i: int) -> str:
    if i % 25 == 7:
        return '{"did": "did:plc:x", "time_us": ' + str(BASE_US + i * STEP_US) + ', "kind": '
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


EXPECTED = {f"bluesky:did:plc:alice/post/rk{i}" for i in range(TOTAL) if i % 25 != 7 and i % 3}
MALFORMED = sum(1 for i in range(TOTAL) if i % 25 == 7)


def start(config: Path, bootstrap: str, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    with log.open("ab") as out:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "pipeline.cli",
                "sources",
                "run",
                "--config",
                str(config),
                "--bootstrap",
                bootstrap,
            ],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def test_each_matching_post_reaches_mentions_raw_across_a_sigkill(
    broker: Broker, tmp_path: Path
) -> None:
    sent: list[int] = []  # per connection, how many frames went out
    cursors: list[str | None] = []

    async def subscribe(request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        cursor = request.query.get("cursor")
        cursors.append(cursor)
        first = 0 if cursor is None else max(0, (int(cursor) - BASE_US) // STEP_US)
        sent.append(0)
        try:
            for i in range(first, TOTAL):
                await ws.send_str(frame(i))
                sent[-1] += 1
                await asyncio.sleep(0.004)
            async for _message in ws:
                pass
        except ConnectionResetError:
            pass
        return ws

    with serve([("GET", "/subscribe", subscribe)]) as server:
        config = tmp_path / "sources.yaml"
        config.write_text(
            "sources:\n"
            "  - name: bsky\n"
            "    kind: bluesky_jetstream\n"
            f"    url: {server.ws_url}/subscribe\n"
            "    rewind_s: 0.02\n"
            "    backoff_s: 0.1\n"
        )
        log = tmp_path / "sources.log"
        first = start(config, broker.bootstrap, log)
        try:
            deadline = time.monotonic() + 60
            while (not sent or sent[0] < 250) and time.monotonic() < deadline:
                assert first.poll() is None, log.read_text()
                time.sleep(0.02)
            assert sent and sent[0] >= 250, log.read_text()
        finally:
            first.send_signal(signal.SIGKILL)
            first.wait(10)
        second = start(config, broker.bootstrap, log)
        try:
            deadline = time.monotonic() + 60
            while (len(sent) < 2 or sum(sent[1:]) < TOTAL - first_resumed(cursors)) and (
                time.monotonic() < deadline
            ):
                assert second.poll() is None, log.read_text()
                time.sleep(0.05)
            time.sleep(2.0)  # the last checkpoint interval
        finally:
            second.send_signal(signal.SIGTERM)
            assert second.wait(20) == 0, log.read_text()

    assert cursors[0] is None and cursors[1] is not None, cursors
    resumed_at = first_resumed(cursors)
    assert 0 < resumed_at <= 250, (resumed_at, log.read_text())  # from the checkpoint in Kafka

    mentions = consume(
        broker.bootstrap, "mentions.raw", want=len(EXPECTED), timeout_s=60, settle_s=2
    )
    ids = Counter(m["id"] for m in mentions)
    assert set(ids) == EXPECTED
    repeats = sum(ids.values()) - len(ids)
    print(f"killed after {sent[0]} frames sent; resumed at event {resumed_at}; repeats {repeats}")
    # Repeated at most: what the killed process produced after its last checkpoint (<= 50 events
    # or 1 s) plus the rewind (20 events); a restart from scratch would repeat ~170.
    assert repeats <= 250 - resumed_at, (repeats, resumed_at)
    keys = raw_keys(broker.bootstrap)
    assert all(key == value_id for key, value_id in keys), keys[:3]

    letters = consume(broker.bootstrap, "mentions.dlq", want=MALFORMED, timeout_s=30, settle_s=1)
    assert {letter["offset"] for letter in letters} and all(
        letter["reason"] == "invalid_json" and letter["source_topic"] == "source:bsky"
        for letter in letters
    )
    assert len({letter["payload"] for letter in letters}) == MALFORMED


def first_resumed(cursors: list[str | None]) -> int:
    """The event index the second connection started from (its cursor, rewind included)."""
    if len(cursors) < 2 or cursors[1] is None:
        return 0
    return max(0, (int(cursors[1]) - BASE_US) // STEP_US)


def raw_keys(bootstrap: str) -> list[tuple[str, Any]]:
    consumer = KafkaConsumer(
        "mentions.raw",
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        consumer_timeout_ms=3000,
    )
    try:
        return [(m.key.decode(), json.loads(m.value)["id"]) for m in consumer]
    finally:
        consumer.close()
