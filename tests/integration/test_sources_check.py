"""``tocsin sources check`` against local servers: what arrived and matched, and why a source fails.

Also the websocket handshake refused with 429 + ``Retry-After`` (the reconnect waits that long) and
``sources run --metrics-port`` serving the per-source metrics while it runs.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiohttp import web
from click.testing import CliRunner

from pipeline.cli import cli
from tests.sources_servers import serve

pytestmark = pytest.mark.integration


def frame(i: int, text: str) -> str:
    return json.dumps(
        {
            "did": "did:plc:a",
            "time_us": 1_760_000_000_000_000 + i,
            "kind": "commit",
            "commit": {
                "operation": "create",
                "collection": "app.bsky.feed.post",
                "rkey": f"r{i}",
                "record": {"createdAt": datetime.now(UTC).isoformat(), "text": text},
            },
        }
    )


@pytest.fixture()
def servers() -> Any:
    handshakes: list[float] = []

    async def subscribe(request: web.Request) -> web.StreamResponse:
        handshakes.append(time.monotonic())
        if request.query.get("busy") and len(handshakes) == 1:
            return web.Response(status=429, headers={"Retry-After": "1"})
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        for i, text in enumerate(["Glytera up 40%", "rain again", "{", "Osteliq shortage"]):
            await ws.send_str(frame(i, text) if text != "{" else text)
        async for _message in ws:
            pass
        return ws

    async def private(request: web.Request) -> web.Response:
        return web.Response(status=401)

    routes = [("GET", "/subscribe", subscribe), ("GET", "/private.xml", private)]
    with serve(routes) as server:
        yield server, handshakes


def config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "sources.yaml"
    path.write_text(text)
    return path


def test_check_prints_each_source_and_fails_on_the_refused_one(
    tmp_path: Path, servers: Any
) -> None:
    server, _ = servers
    path = config(
        tmp_path,
        "sources:\n"
        f"  - {{name: bsky, kind: bluesky_jetstream, url: '{server.ws_url}/subscribe'}}\n"
        f"  - {{name: paywalled, kind: rss, url: '{server.url}/private.xml'}}\n",
    )
    result = CliRunner().invoke(cli, ["sources", "check", "--config", str(path), "--events", "4"])
    assert result.exit_code == 1, result.output
    lines = dict(line.split(" ", 1) for line in result.output.splitlines())
    assert lines["bsky"] == (
        "(bluesky_jetstream): events=4 matched=2 unmatched=1 produced=2 dead_letters=1 "
        "[invalid_json=1]"
    )
    assert lines["paywalled"].startswith("(rss): events=0")
    assert lines["paywalled"].endswith("FAILED: paywalled: every feed refused or is gone")

    ok = CliRunner().invoke(
        cli, ["sources", "check", "--config", str(path), "--only", "bsky", "--events", "4"]
    )
    assert ok.exit_code == 0 and "FAILED" not in ok.output


def test_check_exits_2_on_an_invalid_file_naming_the_line(tmp_path: Path) -> None:
    path = config(tmp_path, "sources:\n  - name: x\n    kind: rss\n    url: ftp://nope\n")
    result = CliRunner().invoke(cli, ["sources", "check", "--config", str(path)])
    assert result.exit_code == 2
    assert f"{path}:4: field 'sources[0].url'" in result.output


def test_a_429_handshake_is_retried_after_retry_after_and_metrics_are_served(
    tmp_path: Path, servers: Any
) -> None:
    server, handshakes = servers
    path = config(
        tmp_path,
        "sources:\n"
        f"  - {{name: bsky, kind: bluesky_jetstream, url: '{server.ws_url}/subscribe?busy=1',"
        " backoff_s: 0.05}\n",
    )
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    scraped: list[str] = []

    def scrape() -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not scraped:
            try:
                text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=1).text
            except httpx.HTTPError:
                time.sleep(0.05)
                continue
            if (
                'tocsin_source_mentions_produced_total{kind="bluesky_jetstream",source="bsky"} 2.0'
                in text
            ):
                scraped.append(text)
            time.sleep(0.05)

    scraper = threading.Thread(target=scrape)
    scraper.start()
    out = tmp_path / "out.jsonl"
    result = CliRunner().invoke(
        cli,
        [
            "sources",
            "run",
            "--config",
            str(path),
            "--output",
            str(out),
            "--duration",
            "3",
            "--metrics-port",
            str(port),
        ],
    )
    scraper.join()
    assert result.exit_code == 0, result.output
    assert len(handshakes) == 2 and handshakes[1] - handshakes[0] >= 1.0
    assert len(out.read_text().splitlines()) == 2
    assert scraped, "the metrics never showed the two produced mentions"
    text = scraped[0]
    assert (
        'tocsin_source_errors_total{kind="bluesky_jetstream",source="bsky",type="connection"} 1.0'
        in text
    )
    assert (
        'tocsin_source_errors_total{kind="bluesky_jetstream",source="bsky",type="dead_letter"} 1.0'
        in text
    )
    assert 'tocsin_source_events_in_total{kind="bluesky_jetstream",source="bsky"} 4.0' in text
    assert "tocsin_source_seconds_since_last_event{" in text


def test_state_without_output_is_a_usage_error(tmp_path: Path) -> None:
    path = config(tmp_path, "sources:\n  - {name: n, kind: rss, url: 'https://x.example/f'}\n")
    result = CliRunner().invoke(
        cli, ["sources", "run", "--config", str(path), "--state", str(tmp_path / "s.json")]
    )
    assert result.exit_code == 2 and "--state and --dead-letters go with --output" in result.output
