"""``mastodon`` against a local server speaking the streaming API (SSE) and the REST timelines.

The first stream carries a heartbeat, statuses (matching and not), a boost, a delete and malformed
events, then is cut. Two statuses are "posted" while the source is away: after reconnecting it
reads them from ``/api/v1/timelines/public?since_id=...`` before the stream's own events (one of
which repeats the gap and is sent once). Driven through ``tocsin sources run --output``.
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
from tests.sources_servers import serve, sse

pytestmark = pytest.mark.integration

TOKEN = "tok-0123456789abcdef"
HOST = "m.example"


def status(n: int, html: str, **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": str(n),
        "uri": f"https://{HOST}/users/alice/statuses/{n}",
        "url": f"https://{HOST}/@alice/{n}",
        "created_at": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        "content": html,
        "spoiler_text": "",
        "language": "en",
        "in_reply_to_id": None,
        "reblog": None,
        "account": {
            "id": "1",
            "acct": "alice",
            "url": f"https://{HOST}/@alice",
            "followers_count": 12,
        },
        "favourites_count": 3,
        "reblogs_count": 1,
        "replies_count": 0,
    }
    out.update(extra)
    return out


S100 = status(100, '<p>Is <a href="#">#Glytera</a> worth the price?</p>')
S101 = status(101, "<p>Lovely weather</p>")
S102 = status(102, "", reblog=status(90, "<p>Valmoreau &amp; the Neviora recall</p>"))
S103 = status(103, "<p>Cardelio made me dizzy</p>")
S104 = status(104, "<p>Same with Cardelio here</p>", in_reply_to_id="103")
S105 = status(105, "<p>Brenmoor statement out</p>")


@pytest.fixture()
def mastodon() -> Any:
    streams: list[dict[str, str]] = []

    async def stream(request: web.Request) -> web.StreamResponse:
        streams.append(dict(request.headers))
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        if len(streams) == 1:
            no_account = status(98, "<p>Glytera</p>")
            del no_account["account"]
            for chunk in (
                b":thump\n\n",
                sse("update", S100),
                sse("update", S101),
                sse("delete", b"99"),
                sse("update", b'{"id": "107", '),
                sse("update", no_account),
                sse("update", S102),
            ):
                await response.write(chunk)
            await asyncio.sleep(0.2)
            assert request.transport is not None
            request.transport.close()  # cut mid-stream
            return response
        await response.write(sse("update", S104))  # also in the gap: sent once
        await response.write(sse("update", S105))
        try:
            while True:
                await asyncio.sleep(0.5)
                await response.write(b":thump\n\n")
        except ConnectionResetError:  # the client went away
            return response

    async def timeline(request: web.Request) -> web.Response:
        since = int(request.query["since_id"])
        newer = [s for s in (S105, S104, S103) if int(s["id"]) > since and s is not S105]
        return web.json_response(newer)

    routes = [
        ("GET", "/api/v1/streaming/public", stream),
        ("GET", "/api/v1/timelines/public", timeline),
    ]
    with serve(routes) as server:
        yield server, streams


def test_mastodon_stream_to_output_with_gap_fill_after_a_cut(tmp_path: Path, mastodon: Any) -> None:
    server, streams = mastodon
    config = tmp_path / "sources.yaml"
    config.write_text(
        "sources:\n"
        "  - name: fedi\n"
        "    kind: mastodon\n"
        f"    url: {server.url}\n"
        "    streams: [public]\n"
        "    token_env: TOCSIN_TEST_MASTODON_TOKEN\n"
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
            "10",
            "--duration",
            "30",
        ],
        env={"TOCSIN_TEST_MASTODON_TOKEN": TOKEN},
    )
    assert result.exit_code == 0, result.output
    assert TOKEN not in result.output
    mentions = [json.loads(line) for line in out.read_text().splitlines()]
    ids = [m["id"].rsplit("/", 1)[-1] for m in mentions]
    assert ids == ["100", "102", "103", "104", "105"], result.output
    first = mentions[0]
    assert first["id"] == f"mastodon:https://{HOST}/users/alice/statuses/100"
    assert first["text"] == "Is #Glytera worth the price?"
    assert first["platform"] == "mastodon" and first["lang"] == "en"
    assert first["engagement"] == {"likes": 3, "shares": 1, "replies": 0}
    assert first["author"]["followers"] == 12 and "handle" not in first["author"]
    assert "alice" not in first["author"]["id"]
    boost = mentions[1]
    assert boost["kind"] == "repost" and boost["text"] == "Valmoreau & the Neviora recall"
    assert boost["repost_of"] == f"mastodon:https://{HOST}/users/alice/statuses/90"
    assert mentions[3]["kind"] == "reply"
    letters = [json.loads(line) for line in (tmp_path / "out.dlq.jsonl").read_text().splitlines()]
    assert sorted(letter["reason"] for letter in letters) == ["invalid_json", "missing_field"]
    assert len(streams) == 2
    assert all(h["Authorization"] == f"Bearer {TOKEN}" for h in streams)
    gap = server.paths("/api/v1/timelines/public")
    assert [r.query["since_id"] for r in gap] == [["102"]]
    assert gap[0].headers["Authorization"] == f"Bearer {TOKEN}"
    assert "duplicates=1" in result.output and "unmatched=1" in result.output
