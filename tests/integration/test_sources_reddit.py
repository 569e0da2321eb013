"""``reddit`` against a local OAuth + listing server with Reddit's rate-limit headers.

The token endpoint checks the app's Basic auth and the client-credentials grant. The search
answers, in turn: a listing (newest first) with posts, a comment and a malformed post, and
``X-Ratelimit-Remaining: 0`` with ``X-Ratelimit-Reset: 1.5`` (the next request must wait that
long, longer than the 1 s interval); a 401 (a new token is fetched); a body cut mid-way (the
source reconnects); then a listing with one new post and the old ones (sent once).
"""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from click.testing import CliRunner

from pipeline.cli import cli
from tests.sources_servers import serve

pytestmark = pytest.mark.integration

CLIENT_ID, SECRET = "client-id-0123", "client-secret-0123456789"
NOW = time.time()


def post(key: str, title: str, **data: Any) -> dict[str, Any]:
    body = {
        "name": f"t3_{key}",
        "title": title,
        "selftext": "",
        "created_utc": NOW - 60,
        "author": "someone",
        "permalink": f"/r/pharma/comments/{key}/x/",
        "score": 5,
        "num_comments": 2,
    }
    body.update(data)
    return {"kind": "t3", "data": body}


def listing(children: list[dict[str, Any]]) -> bytes:
    return json.dumps({"kind": "Listing", "data": {"children": children}}).encode()


A = post("a", "Glytera pen recall?", selftext="Anyone else got the letter?")
B = post("b", "Best hiking trails")
C = post("c", "Valmoreau price hike on Neviora")
D = post("d", "Osteliq shortage in Lyon")
NO_TITLE = {"kind": "t3", "data": {"name": "t3_x", "created_utc": NOW}}
COMMENT = {"kind": "t1", "data": {"name": "t1_y", "body": "Glytera", "created_utc": NOW}}


@pytest.fixture()
def reddit() -> Any:
    tokens: list[str] = []
    searches: list[tuple[float, str]] = []

    async def access_token(request: web.Request) -> web.Response:
        form = await request.post()
        expected = "Basic " + base64.b64encode(f"{CLIENT_ID}:{SECRET}".encode()).decode()
        if request.headers.get("Authorization") != expected or form.get("grant_type") != (
            "client_credentials"
        ):
            return web.Response(status=401)
        tokens.append(f"tok{len(tokens) + 1}")
        return web.json_response({"access_token": tokens[-1], "expires_in": 3600})

    async def search(request: web.Request) -> web.StreamResponse:
        searches.append((time.monotonic(), request.headers.get("Authorization", "")))
        n = len(searches)
        if n == 1:
            return web.Response(
                body=listing([C, B, COMMENT, NO_TITLE, A]),
                content_type="application/json",
                headers={"X-Ratelimit-Remaining": "0", "X-Ratelimit-Reset": "1.5"},
            )
        if n == 2:
            return web.Response(status=401)
        if n == 3:
            response = web.StreamResponse(headers={"Content-Length": "5000"})
            await response.prepare(request)
            await response.write(listing([D, C])[:50])
            assert request.transport is not None
            request.transport.close()
            return response
        return web.Response(
            body=listing([D, C, B, A]),
            content_type="application/json",
            headers={"X-Ratelimit-Remaining": "90", "X-Ratelimit-Reset": "300"},
        )

    routes = [("POST", "/api/v1/access_token", access_token), ("GET", "/search", search)]
    with serve(routes) as server:
        yield server, tokens, searches


def test_reddit_search_to_output_with_oauth_rate_limits_and_a_cut_body(
    tmp_path: Path, reddit: Any
) -> None:
    server, tokens, searches = reddit
    config = tmp_path / "sources.yaml"
    config.write_text(
        "sources:\n"
        "  - name: reddit\n"
        "    kind: reddit\n"
        f"    url: {server.url}\n"
        f"    auth_url: {server.url}/api/v1/access_token\n"
        "    client_id_env: TOCSIN_TEST_REDDIT_ID\n"
        "    client_secret_env: TOCSIN_TEST_REDDIT_SECRET\n"
        "    user_agent: 'test:tocsin:0.1 (by /u/tocsin)'\n"
        "    interval_s: 1\n"
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
            "6",
            "--duration",
            "30",
        ],
        env={"TOCSIN_TEST_REDDIT_ID": CLIENT_ID, "TOCSIN_TEST_REDDIT_SECRET": SECRET},
    )
    assert result.exit_code == 0, result.output
    assert SECRET not in result.output
    mentions = [json.loads(line) for line in out.read_text().splitlines()]
    assert [m["id"] for m in mentions] == ["reddit:t3_a", "reddit:t3_c", "reddit:t3_d"]
    first = mentions[0]
    assert first["text"] == "Glytera pen recall? — Anyone else got the letter?"
    assert (
        first["platform"] == "reddit"
        and first["url"] == "https://www.reddit.com/r/pharma/comments/a/x/"
    )
    assert first["engagement"] == {"likes": 5, "replies": 2}
    assert "someone" not in json.dumps(first["author"])
    letters = [json.loads(line) for line in (tmp_path / "out.dlq.jsonl").read_text().splitlines()]
    assert sorted(letter["reason"] for letter in letters) == ["invalid_value", "missing_field"]

    assert tokens == ["tok1", "tok2"]  # the 401 made the source fetch a new token
    assert [auth for _, auth in searches[:4]] == [
        "Bearer tok1",
        "Bearer tok1",
        "Bearer tok2",
        "Bearer tok2",
    ]
    assert searches[1][0] - searches[0][0] >= 1.5, "X-Ratelimit-Reset was not obeyed"
    query = server.paths("/search")[0].query
    assert query["sort"] == ["new"] and query["type"] == ["link"]
    assert "Brenmoor" in query["q"][0] and " OR " in query["q"][0]
    assert server.paths("/search")[0].headers["User-Agent"] == "test:tocsin:0.1 (by /u/tocsin)"
