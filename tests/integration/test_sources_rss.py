"""``rss`` against a local HTTP server serving an RSS 2.0 and an Atom feed.

The RSS feed answers, in turn: 200 with an ETag and Last-Modified, 304 (the conditional GET is
checked), 429 with ``Retry-After: 1`` (the next request waits at least that long), a body cut off
mid-way (the source reconnects), then 200 with one new entry and the old ones again (sent once).
Both feeds hold malformed entries. Driven through ``tocsin sources run --output`` (no broker),
then resumed from the ``--state`` file: nothing is sent twice across the restart.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from click.testing import CliRunner

from pipeline.cli import cli
from tests.sources_servers import serve

pytestmark = pytest.mark.integration

NOW = datetime.now(UTC)


def rss(items: list[str]) -> bytes:
    return (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>Pharma wire</title>'
        "<language>en</language>" + "".join(items) + "</channel></rss>"
    ).encode()


def item(guid: str, title: str, date: str | None = None, link: str | None = None) -> str:
    out = f"<item><guid>{guid}</guid><title>{title}</title>"
    out += f"<description>&lt;p&gt;More on {title}&lt;/p&gt;</description>"
    out += f"<link>{link or 'https://news.example/' + guid}</link>"
    out += f"<pubDate>{date or format_datetime(NOW)}</pubDate></item>"
    return out


FIRST = [
    item("g1", "Valmoreau raises Neviora price by 40%"),
    item("g2", "Local team wins the cup"),
    item("g3", "Glytera shortage reported", date="sometime last week"),
    "<item><title>Osteliq recall rumour</title><link>https://news.example/no-guid</link>"
    f"<pubDate>{format_datetime(NOW)}</pubDate></item>",
]
LATER = [item("g5", "Brenmoor responds on Glytera supply"), *FIRST]

ATOM = (
    '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom" xml:lang="fr">'
    "<title>Forum santé</title><id>urn:forum</id>"
    "<entry><id>urn:forum:1</id><title>Cardelio et effets secondaires</title>"
    '<link href="https://forum.example/t/1"/>'
    f"<updated>{NOW.isoformat()}</updated><summary>Quelqu'un a essayé le Cardelio ?</summary></entry>"
    "<entry><id>urn:forum:2</id><title>Respivel inhaler</title>"
    "<updated>not a date</updated></entry>"
    "</feed>"
).encode()


@pytest.fixture()
def feeds() -> Any:
    calls = {"rss": 0, "atom": 0}

    async def feed(request: web.Request) -> web.StreamResponse:
        calls["rss"] += 1
        n = calls["rss"]
        if n == 1:
            return web.Response(
                body=rss(FIRST),
                content_type="application/rss+xml",
                headers={"ETag": '"v1"', "Last-Modified": format_datetime(NOW, usegmt=True)},
            )
        if n == 2:
            return web.Response(status=304)
        if n == 3:
            return web.Response(status=429, headers={"Retry-After": "1"})
        if n == 4:
            response = web.StreamResponse(headers={"Content-Length": "100000"})
            await response.prepare(request)
            await response.write(rss(LATER)[:200])
            assert request.transport is not None
            request.transport.close()  # the body stops mid-way
            return response
        if request.headers.get("If-None-Match") == '"v2"':
            return web.Response(status=304)
        return web.Response(
            body=rss(LATER), content_type="application/rss+xml", headers={"ETag": '"v2"'}
        )

    async def atom(request: web.Request) -> web.Response:
        calls["atom"] += 1
        if request.headers.get("If-None-Match") == '"a1"':
            return web.Response(status=304)
        return web.Response(
            body=ATOM, content_type="application/atom+xml", headers={"ETag": '"a1"'}
        )

    with serve([("GET", "/feed.xml", feed), ("GET", "/atom.xml", atom)]) as server:
        yield server


def test_rss_and_atom_to_output_conditional_get_retry_after_and_a_cut_body(
    tmp_path: Path, feeds: Any
) -> None:
    config = tmp_path / "sources.yaml"
    config.write_text(
        "sources:\n"
        "  - name: news\n"
        "    kind: rss\n"
        f"    urls: [{feeds.url}/feed.xml, {feeds.url}/atom.xml]\n"
        "    interval_s: 1\n"
        "    backoff_s: 0.05\n"
    )
    out, state = tmp_path / "out.jsonl", tmp_path / "state.json"
    args = ["sources", "run", "--config", str(config), "--output", str(out), "--state", str(state)]
    # 4 RSS entries + 2 Atom entries, then the one new RSS entry after the 304, 429 and cut body.
    result = CliRunner().invoke(cli, [*args, "--max-events", "7", "--duration", "30"])
    assert result.exit_code == 0, result.output
    mentions = [json.loads(line) for line in out.read_text().splitlines()]
    ids = [m["id"] for m in mentions]
    assert ids == [
        "rss:g1",
        "rss:https://news.example/no-guid",
        "rss:urn:forum:1",
        "rss:g5",
    ]
    g1 = mentions[0]
    assert (
        g1["platform"] == "news" and g1["lang"] == "en" and g1["url"] == "https://news.example/g1"
    )
    assert (
        g1["text"]
        == "Valmoreau raises Neviora price by 40% — More on Valmoreau raises Neviora price by 40%"
    )
    assert g1["author"] == {"id": f"rss:127.0.0.1:{feeds.port}", "kind": "unknown"}
    assert mentions[2]["lang"] == "fr" and mentions[2]["url"] == "https://forum.example/t/1"
    letters = [json.loads(line) for line in (tmp_path / "out.dlq.jsonl").read_text().splitlines()]
    assert sorted(letter["reason"] for letter in letters) == ["wrong_type", "wrong_type"]
    assert {letter["detail"] for letter in letters} == {
        "pubDate: not an RFC 822 date",
        "updated: not an ISO-8601 time",
    }

    rss_calls = feeds.paths("/feed.xml")
    assert len(rss_calls) >= 5
    assert "If-None-Match" not in rss_calls[0].headers
    assert rss_calls[1].headers["If-None-Match"] == '"v1"'
    assert "If-Modified-Since" in rss_calls[1].headers
    assert rss_calls[3].at - rss_calls[2].at >= 1.0, "Retry-After: 1 was not honoured"
    assert "connection" not in result.output  # stats only; the errors are in the metrics

    # A restart from the --state file: validators and seen ids come back, nothing is re-sent. The
    # first run stopped inside the v2 answer, so v1 is the last validator it could keep.
    before = len(feeds.requests)
    again = CliRunner().invoke(cli, [*args, "--duration", "1.5"])
    assert again.exit_code == 0, again.output
    assert len(out.read_text().splitlines()) == 4
    resumed = feeds.requests[before:]
    assert [r.headers.get("If-None-Match") for r in resumed[:2]] == ['"v1"', '"a1"']
