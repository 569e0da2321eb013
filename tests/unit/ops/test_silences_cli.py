"""``tocsin silences`` against the worker's real silence views, served on 127.0.0.1 in-process.

No fake of the API: ``SilencesView`` and ``SilenceView`` from ``pipeline/oncall/api.py`` are
mounted on a fresh aiohttp application on a free port, with the real bearer-token check, and the
command the view puts on ``alerts.silences`` is handed to the real ``manage_silences`` agent
(``test_context``), which writes the real ``silences`` table that ``GET`` reads. Only Kafka is
missing. The CLI runs in a thread (``CliRunner`` and ``httpx.Client`` block) while the server
answers on the test's event loop.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp import web
from click.testing import CliRunner, Result

from agents import manage_silences
from pipeline import services
from pipeline.app import app
from pipeline.cli import cli
from pipeline.metrics import TocsinMetrics
from pipeline.oncall import api, commands
from pipeline.oncall.silences import silence_from_dict
from pipeline.ops.silences import parse_matcher, silence_body
from pipeline.settings import make_settings
from pipeline.tables import silences as silences_table

TOKEN = "cli-test-token-0123456789abcdef"


@pytest.fixture(autouse=True)
def _test_app(faust_app: Any) -> Iterator[None]:
    yield
    silences_table.data.clear()  # the app's table outlives a test


@pytest.fixture()
async def worker_url(
    monkeypatch: pytest.MonkeyPatch, fresh_metrics: TocsinMetrics
) -> AsyncIterator[str]:
    services.override(settings=make_settings(api_token=TOKEN), metrics=fresh_metrics)
    async with manage_silences.manage_silences.test_context() as agent:

        async def send(*, key: str, value: Any) -> None:
            await agent.put(value, key=key)

        # created through the one command path, expired by the API itself
        monkeypatch.setattr(commands, "silence_commands", _Topic(send))
        monkeypatch.setattr(api, "silence_commands", _Topic(send))
        web_app = web.Application()
        for path, view_cls in (
            ("/api/silences", api.SilencesView),
            ("/api/silences/{silence_id}", api.SilenceView),
        ):
            view = view_cls(app, app.web)
            for method in view.get_methods():
                web_app.router.add_route(method.upper(), path, _handler(view))
        runner = web.AppRunner(web_app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        try:
            yield f"http://127.0.0.1:{port}"
        finally:
            await runner.cleanup()


class _Topic:
    """``alerts.silences`` minus Kafka: ``send`` hands the command to the agent."""

    def __init__(self, send: Any) -> None:
        self.send = send


def _handler(view: Any) -> Any:
    async def handle(request: web.Request) -> Any:
        return await view(request)

    return handle


async def tocsin(url: str, *args: str, token: str | None = TOKEN, user: str = "mara") -> Result:
    env = {"TOCSIN_URL": url, "USER": user, "TOCSIN_API_TOKEN": token}
    return await asyncio.to_thread(
        CliRunner().invoke, cli, ["silences", *args], env=env, catch_exceptions=False
    )


def stored() -> dict[str, Any]:
    return {k: silence_from_dict(v) for k, v in silences_table.data.items() if v}


async def test_create_sends_the_matchers_and_prints_the_id(worker_url: str) -> None:
    result = await tocsin(
        worker_url,
        "create",
        "brand=valmoreau",
        "topic=~pricing|boycott",
        "severity!=info",
        "language!~de|it",
        "--duration",
        "2h",
        "--comment",
        "pricing storm handled by Léa",
    )
    assert result.exit_code == 0, result.output
    silence_id = result.stdout.strip()
    made = stored()[silence_id]
    assert [(m.name, m.value, m.is_regex, m.is_equal) for m in made.matchers] == [
        ("brand", "valmoreau", False, True),
        ("topic", "pricing|boycott", True, True),
        ("severity", "info", False, False),
        ("language", "de|it", True, False),
    ]
    assert made.created_by == "mara" and made.comment == "pricing storm handled by Léa"
    assert abs((made.ends_at - made.starts_at) - timedelta(hours=2)) < timedelta(seconds=5)
    now = datetime.now(UTC)
    labels = {"brand": "valmoreau", "topic": "boycott", "severity": "critical", "language": "en"}
    assert made.mutes(labels, now)
    assert not made.mutes({**labels, "severity": "info"}, now)
    assert not made.mutes({**labels, "topic": "scandal"}, now)


async def test_list_expire_and_list_all(worker_url: str) -> None:
    ends = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    first = await tocsin(
        worker_url, "create", "brand=valmoreau", "--ends-at", ends, "-c", "launch week"
    )
    second = await tocsin(worker_url, "create", "topic=pricing", "-d", "30m", "-c", "known")
    one, two = first.stdout.strip(), second.stdout.strip()

    # --url after the subcommand wins over TOCSIN_URL (here a port nothing listens on)
    listed = await tocsin("http://127.0.0.1:9", "list", "--url", worker_url, "--timeout", "5")
    assert listed.exit_code == 0, listed.output
    lines = listed.stdout.splitlines()
    assert lines[0].split()[:4] == ["ID", "MATCHERS", "STARTS", "ENDS"]
    row = next(line for line in lines if line.startswith(one))
    assert "brand=valmoreau" in row and "mara" in row and "launch week" in row
    assert f"{ends[:10]} {ends[11:16]} UTC" in row and "active" in row
    assert any(line.startswith(two) for line in lines)

    expired = await tocsin(worker_url, "expire", two)
    assert expired.exit_code == 0 and expired.stdout.strip() == f"expired {two}"
    await asyncio.sleep(0.01)  # the expiry lands at the agent's time; "now" must be past it
    active = json.loads((await tocsin(worker_url, "list", "--json")).stdout)
    assert [s["id"] for s in active] == [one]
    everything = json.loads((await tocsin(worker_url, "list", "--all", "--json")).stdout)
    states = {s["id"]: s["status"]["state"] for s in everything}
    assert states == {one: "active", two: "expired"}
    assert stored()[two].ends_at <= datetime.now(UTC)


async def test_expire_unknown_id_exits_1_with_the_servers_message(worker_url: str) -> None:
    made = await tocsin(worker_url, "create", "brand=valmoreau", "-c", "x")
    good = made.stdout.strip()
    result = await tocsin(worker_url, "expire", "no-such-id", good)
    assert result.exit_code == 1
    assert "no-such-id: DELETE /api/silences/no-such-id: HTTP 404: no such silence" in result.stderr
    assert result.stdout.strip() == f"expired {good}"  # the others are still expired


async def test_wrong_token_exits_1_with_the_servers_message_and_no_token(worker_url: str) -> None:
    wrong = "wrong-token-abcdefabcdef"
    for args in (["list"], ["create", "brand=valmoreau", "-c", "x"], ["expire", "abc"]):
        result = await tocsin(worker_url, *args, token=wrong)
        assert result.exit_code == 1, args
        assert "HTTP 401: missing or invalid bearer token" in result.stderr
        assert wrong not in result.output and TOKEN not in result.output
    assert stored() == {}


async def test_server_side_refusal_is_reported(worker_url: str) -> None:
    """The server stays the authority: a body it refuses (400) comes back as its message."""
    import httpx

    answer = await asyncio.to_thread(
        httpx.post,
        f"{worker_url}/api/silences",
        json={"matchers": []},
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=5,
    )
    assert answer.status_code == 400  # the shape the CLI's error reader relies on
    assert answer.json() == {"error": "matchers: required, a non-empty list"}


async def test_unreachable_worker_exits_1() -> None:
    result = await tocsin("http://127.0.0.1:9", "list")
    assert result.exit_code == 1
    assert "cannot reach http://127.0.0.1:9" in result.stderr and TOKEN not in result.output


async def test_server_error_5xx_exits_1_with_its_text() -> None:
    async def broken(request: web.Request) -> web.Response:
        return web.json_response({"error": "table not ready"}, status=503)

    web_app = web.Application()
    web_app.router.add_route("GET", "/api/silences", broken)
    runner = web.AppRunner(web_app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        result = await tocsin(f"http://127.0.0.1:{runner.addresses[0][1]}", "list")
    finally:
        await runner.cleanup()
    assert result.exit_code == 1
    assert "GET /api/silences: HTTP 503: table not ready" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["colour=red"], "label must be one of brand, topic"),
        (["brand"], "expected NAME=VALUE"),
        (["topic=~(pricing"], "bad regular expression"),
        (["topic=~.*"], "at least one must not match an empty label value"),
        (["brand=x", "-d", "2 hours"], "--duration: '2 hours' is not a duration"),
        (["brand=x", "-d", "0m"], "--duration: must be longer than zero"),
        (["brand=x", "-d", "31d"], "a silence lasts at most 30 days"),
        (["brand=x", "--ends-at", "2026-11-22T18:00:00"], "needs a time zone"),
        (["brand=x", "--ends-at", "tomorrow"], "is not a date-time"),
        (["brand=x", "--ends-at", "2001-01-01T00:00:00Z"], "endsAt: must be after startsAt"),
        (["brand=x", "-d", "1h", "--ends-at", "2099-01-01T00:00:00Z"], "not both"),
    ],
)
async def test_bad_input_exits_2_and_sends_nothing(
    worker_url: str, args: list[str], message: str
) -> None:
    result = await tocsin(worker_url, "create", *args, "-c", "why")
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert stored() == {}


async def test_comment_is_required_and_token_must_be_set(worker_url: str) -> None:
    no_comment = await tocsin(worker_url, "create", "brand=x")
    assert no_comment.exit_code == 2 and "--comment" in no_comment.stderr
    no_token = await tocsin(worker_url, "list", token=None)
    assert no_token.exit_code == 2 and "set TOCSIN_API_TOKEN" in no_token.stderr


def test_matcher_quotes_and_operators() -> None:
    assert parse_matcher('brand="valmoreau"').value == "valmoreau"
    assert parse_matcher("topic=~'pricing|boycott'").is_regex
    m = parse_matcher("severity!=info")
    assert (m.name, m.value, m.is_regex, m.is_equal) == ("severity", "info", False, False)
    assert parse_matcher("brand=a=b").value == "a=b"  # only the first operator splits


def test_default_duration_is_one_hour() -> None:
    now = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
    body = silence_body(("brand=x",), duration=None, ends_at=None, comment="c", author="a", now=now)
    assert body["endsAt"] == "2026-11-22T10:00:00+00:00"


def test_help_names_the_env_vars() -> None:
    out = CliRunner().invoke(cli, ["silences", "--help"]).output
    assert "TOCSIN_API_TOKEN" in out
    for sub in ("create", "list", "expire"):
        assert sub in out
        sub_help = " ".join(CliRunner().invoke(cli, ["silences", sub, "--help"]).output.split())
        assert "[env: TOCSIN_URL]" in sub_help and "http://127.0.0.1:6066" in sub_help
