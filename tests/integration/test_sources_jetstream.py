"""``bluesky_jetstream`` against a local websocket server emitting Jetstream-shaped events.

The first connection carries an identity event, posts (matching and not), a reply, a repost, a
delete, malformed frames, then drops mid-stream (the TCP connection is cut, no close frame). The
source reconnects with the saved cursor minus its rewind; the server replays from there and sends
one more post. Driven through ``tocsin sources run --output`` (no broker).
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from click.testing import CliRunner

from pipeline.cli import cli
from tests.sources_servers import serve

pytestmark = pytest.mark.integration

BASE_US = 1_760_000_000_000_000
DID = "did:plc:alice"


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def post(i: int, rkey: str, text: str, **extra: Any) -> dict[str, Any]:
    record = {"$type": "app.bsky.feed.post", "createdAt": _now(), "text": text, "langs": ["en"]}
    record.update(extra)
    return {
        "did": DID,
        "time_us": BASE_US + i * 100_000,
        "kind": "commit",
        "commit": {
            "rev": f"r{i}",
            "operation": "create",
            "collection": "app.bsky.feed.post",
            "rkey": rkey,
            "record": record,
            "cid": "bafy",
        },
    }


def first_connection() -> list[str | bytes]:
    identity = {
        "did": DID,
        "time_us": BASE_US + 100_000,
        "kind": "identity",
        "identity": {"did": DID, "handle": "alice.bsky.social", "seq": 1, "time": _now()},
    }
    missing_text = post(5, "rk5", "x")
    del missing_text["commit"]["record"]["text"]
    delete = post(6, "rk1", "")
    delete["commit"] = {"operation": "delete", "collection": "app.bsky.feed.post", "rkey": "rk1"}
    reply = post(7, "rk7", "Glytera pen jammed again", reply={"root": {}, "parent": {}})
    repost = {
        "did": "did:plc:bob",
        "time_us": BASE_US + 800_000,
        "kind": "commit",
        "commit": {
            "operation": "create",
            "collection": "app.bsky.feed.repost",
            "rkey": "rp8",
            "record": {
                "$type": "app.bsky.feed.repost",
                "createdAt": _now(),
                "subject": {"uri": f"at://{DID}/app.bsky.feed.post/rk2", "cid": "bafy"},
            },
        },
    }
    return [
        json.dumps(identity),
        json.dumps(post(2, "rk2", "Is the #Glytera price hike real?")),
        json.dumps(post(3, "rk3", "lovely weather in Lyon today")),
        "{not json",
        json.dumps(missing_text),
        json.dumps(delete),
        json.dumps(reply),
        json.dumps(repost),
        b"\x28\xb5\x2f\xfd binary",
    ]


@pytest.fixture()
def jetstream() -> Any:
    connections: list[dict[str, list[str]]] = []

    async def subscribe(request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        query: dict[str, list[str]] = {}
        for key, value in request.query.items():
            query.setdefault(key, []).append(value)
        connections.append(query)
        if len(connections) == 1:
            for frame in first_connection():
                if isinstance(frame, bytes):
                    await ws.send_bytes(frame)
                else:
                    await ws.send_str(frame)
            await asyncio.sleep(0.2)
            assert request.transport is not None
            request.transport.close()  # the connection drops mid-stream: no close frame
            return ws
        # Resumed: replay from the cursor (the repost, already seen), then a new post.
        replayed = first_connection()[7]
        assert isinstance(replayed, str)
        await ws.send_str(replayed)
        await ws.send_str(json.dumps(post(9, "rk9", "Brenmoor statement on Cardelio recall")))
        async for _message in ws:  # until the client closes
            pass
        return ws

    with serve([("GET", "/subscribe", subscribe)]) as server:
        yield server, connections


def test_jetstream_to_output_with_malformed_events_and_a_dropped_connection(
    tmp_path: Path, jetstream: Any
) -> None:
    server, connections = jetstream
    config = tmp_path / "sources.yaml"
    config.write_text(
        "sources:\n"
        "  - name: bsky\n"
        "    kind: bluesky_jetstream\n"
        f"    url: {server.ws_url}/subscribe\n"
        "    reposts: true\n"
        "    keep_handles: true\n"
        "    rewind_s: 1\n"
        "    backoff_s: 0.05\n"
    )
    out = tmp_path / "out.jsonl"
    result = CliRunner().invoke(
        cli,
        [
            "sources",
            "run",
            "--config",
            str(config),
            "--output",
            str(out),
            "--max-events",
            "11",
            "--duration",
            "30",
        ],
    )
    assert result.exit_code == 0, result.output
    mentions = [json.loads(line) for line in out.read_text().splitlines()]
    by_id = {m["id"]: m for m in mentions}
    assert len(by_id) == len(mentions) == 4, mentions  # the replayed repost is not sent twice
    post2 = by_id[f"bluesky:{DID}/post/rk2"]
    assert post2["platform"] == "bluesky" and post2["kind"] == "post" and post2["lang"] == "en"
    assert post2["author"]["handle"] == "alice.bsky.social"
    assert post2["author"]["id"].startswith("bluesky:") and DID not in post2["author"]["id"]
    assert post2["url"] == f"https://bsky.app/profile/{DID}/post/rk2"
    assert by_id[f"bluesky:{DID}/post/rk7"]["kind"] == "reply"
    repost = by_id["bluesky:did:plc:bob/repost/rp8"]
    assert repost["kind"] == "repost" and repost["repost_of"] == post2["id"]
    assert repost["text"] == post2["text"]
    assert f"bluesky:{DID}/post/rk9" in by_id
    letters = [json.loads(line) for line in (tmp_path / "out.dlq.jsonl").read_text().splitlines()]
    assert sorted(letter["reason"] for letter in letters) == [
        "invalid_json",
        "invalid_value",
        "missing_field",
    ]
    assert all(letter["source_topic"] == "source:bsky" for letter in letters)
    # Two connections: the first asked for posts and reposts, the second resumed 1 s before the
    # last event it had read (the repost, time_us BASE + 0.8 s).
    assert len(connections) == 2
    assert connections[0]["wantedCollections"] == ["app.bsky.feed.post", "app.bsky.feed.repost"]
    assert "cursor" not in connections[0]
    assert connections[1]["cursor"] == [str(BASE_US + 800_000 - 1_000_000)]
    assert "unmatched=1" in result.output and "duplicates=1" in result.output


def test_jetstream_compressed_frames_are_decompressed_with_the_dictionary(
    tmp_path: Path,
) -> None:
    """``compress: true``: the server compresses every frame with a zstd dictionary (trained here
    on Jetstream-shaped events, as Jetstream's own is); the source asks for ``compress=true`` and
    decompresses with the dictionary file named in the config. A frame of another dictionary, a
    binary frame that is not zstd, compressed bad JSON and a frame inflating past the event limit
    are dead-lettered."""
    import zstandard

    samples: list[bytes | bytearray | memoryview] = [
        json.dumps(post(i, f"s{i}", f"sample post {i} about weather and {i % 7} things")).encode()
        for i in range(400)
    ]
    dictionary = zstandard.train_dictionary(4096, samples)
    (tmp_path / "jetstream.dict").write_bytes(dictionary.as_bytes())
    other = zstandard.train_dictionary(
        4096, [bytes(s).replace(b"weather", b"sport") for s in samples]
    )
    compress = zstandard.ZstdCompressor(dict_data=dictionary).compress
    queries: list[dict[str, str]] = []

    async def subscribe(request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        queries.append(dict(request.query))
        for frame in (
            compress(json.dumps(post(2, "rk2", "Is the #Glytera price hike real?")).encode()),
            compress(json.dumps(post(3, "rk3", "lovely weather in Lyon today")).encode()),
            zstandard.ZstdCompressor(dict_data=other).compress(
                json.dumps(post(4, "rk4", "Glytera again")).encode()
            ),
            b"plainly not zstd",
            compress(b"{not json"),
            compress(b" " * (600 * 1024)),
            compress(json.dumps(post(5, "rk5", "Brenmoor statement on Cardelio")).encode()),
        ):
            await ws.send_bytes(frame)
        async for _message in ws:
            pass
        return ws

    with serve([("GET", "/subscribe", subscribe)]) as server:
        config = tmp_path / "sources.yaml"
        config.write_text(
            "sources:\n"
            "  - name: bsky\n"
            "    kind: bluesky_jetstream\n"
            f"    url: {server.ws_url}/subscribe\n"
            "    compress: true\n"
            "    zstd_dictionary: jetstream.dict\n"
        )
        out = tmp_path / "out.jsonl"
        result = CliRunner().invoke(
            cli,
            [
                *("sources", "run", "--config", str(config), "--output", str(out)),
                *("--max-events", "7", "--duration", "30"),
            ],
        )
    assert result.exit_code == 0, result.output
    assert queries and queries[0]["compress"] == "true", queries
    ids = [json.loads(line)["id"] for line in out.read_text().splitlines()]
    assert ids == [f"bluesky:{DID}/post/rk2", f"bluesky:{DID}/post/rk5"]
    letters = [json.loads(line) for line in (tmp_path / "out.dlq.jsonl").read_text().splitlines()]
    assert sorted(letter["reason"] for letter in letters) == [
        "invalid_json",
        "invalid_value",
        "invalid_value",
        "oversized",
    ], letters
    assert any("dictionary" in letter["detail"] for letter in letters), letters
