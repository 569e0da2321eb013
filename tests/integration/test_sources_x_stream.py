"""``x_filtered_stream`` against a local server speaking the X API v2 filtered stream and its rules.

The rules endpoint starts with one stale rule of ours and one foreign rule: the source deletes the
stale one, adds one rule per brand and leaves the foreign one alone, once (later connects find the
rules in sync). The stream sends keep-alives, posts (matching and not), a repost, a reply, an
operational error message and a malformed line, then is cut; the next connect gets a 429 with
``x-rate-limit-reset`` one second ahead (waited for); the third asks for ``backfill_minutes=1``
and gets a repeated post (sent once) and a quote.
"""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from click.testing import CliRunner

from pipeline.brands import load_brands
from pipeline.cli import cli
from pipeline.settings import make_settings
from tests.sources_servers import serve

pytestmark = pytest.mark.integration

TOKEN = "x-bearer-0123456789abcdef"


def post(n: int, text: str, refs: list[dict[str, str]] | None = None) -> bytes:
    data: dict[str, Any] = {
        "id": str(n),
        "text": text,
        "created_at": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        "author_id": "42",
        "lang": "en",
        "public_metrics": {"like_count": 2, "retweet_count": 1, "quote_count": 1, "reply_count": 0},
    }
    if refs:
        data["referenced_tweets"] = refs
    user = {
        "id": "42",
        "username": "alice",
        "verified": True,
        "public_metrics": {"followers_count": 900},
    }
    return json.dumps({"data": data, "includes": {"users": [user]}}).encode() + b"\r\n"


@pytest.fixture()
def x_api() -> Any:
    rules: list[dict[str, str]] = [
        {"id": "1", "value": "(oldname)", "tag": "tocsin:brenmoor"},
        {"id": "2", "value": "cats", "tag": "someone-else"},
    ]
    changes: list[dict[str, Any]] = []
    streams: list[tuple[float, dict[str, str], str]] = []

    async def get_rules(request: web.Request) -> web.Response:
        return web.json_response({"data": rules})

    async def post_rules(request: web.Request) -> web.Response:
        body = await request.json()
        changes.append(body)
        if "delete" in body:
            rules[:] = [r for r in rules if r["id"] not in body["delete"]["ids"]]
        for i, rule in enumerate(body.get("add", [])):
            rules.append({"id": f"n{len(changes)}-{i}", **rule})
        return web.json_response({"meta": {"sent": "now"}})

    async def stream(request: web.Request) -> web.StreamResponse:
        streams.append((time.monotonic(), dict(request.query), request.headers["Authorization"]))
        n = len(streams)
        if n == 2:
            reset = str(int(time.time()) + 2)
            return web.Response(status=429, headers={"x-rate-limit-reset": reset})
        response = web.StreamResponse()
        await response.prepare(request)
        if n == 1:
            for chunk in (
                b"\r\n",
                post(1, "Is the #Glytera price hike real?"),
                b"{not json\r\n",
                b'{"errors": [{"title": "operational-disconnect"}]}\r\n',
                post(2, "cats are great"),
                post(
                    3,
                    "RT @alice: Is the #Glytera price hike real?",
                    [{"type": "retweeted", "id": "1"}],
                ),
                post(4, "@alice Cardelio too", [{"type": "replied_to", "id": "1"}]),
            ):
                await response.write(chunk)
            assert request.transport is not None
            request.transport.close()
            return response
        await response.write(post(4, "@alice Cardelio too", [{"type": "replied_to", "id": "1"}]))
        await response.write(post(5, "Valmoreau again", [{"type": "quoted", "id": "1"}]))
        try:
            while True:
                await response.write(b"\r\n")
                await asyncio.sleep(0.3)
        except ConnectionResetError:
            return response

    routes = [
        ("GET", "/2/tweets/search/stream/rules", get_rules),
        ("POST", "/2/tweets/search/stream/rules", post_rules),
        ("GET", "/2/tweets/search/stream", stream),
    ]
    with serve(routes) as server:
        yield server, rules, changes, streams


def test_x_filtered_stream_syncs_rules_and_survives_cuts_and_429(
    tmp_path: Path, x_api: Any
) -> None:
    server, rules, changes, streams = x_api
    config = tmp_path / "sources.yaml"
    config.write_text(
        "sources:\n"
        "  - name: x\n"
        "    kind: x_filtered_stream\n"
        f"    url: {server.url}/2\n"
        "    token_env: TOCSIN_TEST_X_TOKEN\n"
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
            "8",
            "--duration",
            "30",
        ],
        env={"TOCSIN_TEST_X_TOKEN": TOKEN},
    )
    assert result.exit_code == 0, result.output
    assert TOKEN not in result.output
    mentions = [json.loads(line) for line in out.read_text().splitlines()]
    assert [m["id"] for m in mentions] == ["x:1", "x:3", "x:4", "x:5"]
    first, repost, reply, quote = mentions
    assert first["platform"] == "x" and first["url"] == "https://x.com/i/web/status/1"
    assert first["author"]["followers"] == 900 and first["author"]["verified"] is True
    assert "alice" not in json.dumps(first["author"])
    assert first["engagement"] == {"likes": 2, "shares": 2, "replies": 0}
    assert repost["kind"] == "repost" and repost["repost_of"] == "x:1"
    assert reply["kind"] == "reply" and quote["kind"] == "quote"
    letters = [json.loads(line) for line in (tmp_path / "out.dlq.jsonl").read_text().splitlines()]
    assert [letter["reason"] for letter in letters] == ["invalid_json"]

    # Rules: the stale one of ours deleted, one per brand added, the foreign one kept; only once.
    assert changes[0] == {"delete": {"ids": ["1"]}}
    added = changes[1]["add"]
    brands = load_brands(make_settings().brands_file).ids
    assert {r["tag"] for r in added} == {f"tocsin:{brand}" for brand in brands}
    assert any("Glytera" in r["value"] and "$BRMR" in r["value"] for r in added)
    assert all(len(r["value"]) <= 512 for r in added)
    assert len(changes) == 2 and {"id": "2", "value": "cats", "tag": "someone-else"} in rules

    assert len(streams) == 3 and all(auth == f"Bearer {TOKEN}" for _, _, auth in streams)
    assert streams[2][0] - streams[1][0] >= 1.0, "x-rate-limit-reset was not waited for"
    assert "backfill_minutes" not in streams[0][1]
    assert streams[2][1]["backfill_minutes"] == "1"
    assert streams[0][1]["expansions"] == "author_id"
