"""``tocsin silences create|list|expire``: the worker's silences API from a terminal, like amtool.

An on-call person who knows a pricing storm is being handled wants to mute it in one line, without
writing JSON for ``curl``. These commands speak to a running worker's ``/api/silences``
(``pipeline/oncall/api.py``) over HTTP with the bearer token from ``TOCSIN_API_TOKEN``; they never
touch Kafka, so they work from any machine that can reach the worker's web port.

Matchers are written as amtool writes them: ``brand=valmoreau``, ``topic=~pricing|boycott`` (a
full-match regular expression), ``severity!=info``, ``topic!~other|test``. A new silence is
checked here with the same :func:`~pipeline.oncall.silences.parse_silence` the server uses, so a
typo is refused before anything is sent (exit 2) and the server's check stays the authority.

Exit codes: 0 done; 1 the server refused or could not be reached (its message is printed);
2 bad input or no token. The token is only ever put in the ``Authorization`` header: it is not a
command-line option (it would show in ``ps`` and shell history) and is never printed; a server
message is masked in case it echoes it.
"""

from __future__ import annotations

import json
import os
import re
import sys
from datetime import UTC, datetime, timedelta
from typing import Any, NoReturn
from urllib.parse import quote

import click
import httpx

from pipeline.delivery.redaction import redact
from pipeline.durations import parse_duration
from pipeline.errors import TocsinError
from pipeline.oncall.routing import LABELS
from pipeline.oncall.silences import SilenceError, SilenceMatcher, parse_silence

EXIT_OK, EXIT_SERVER, EXIT_USAGE = 0, 1, 2
DEFAULT_URL = "http://127.0.0.1:6066"
TOKEN_ENV = "TOCSIN_API_TOKEN"  # noqa: S105 - the variable's name, not a secret
#: Longest operators first, so ``!~`` is not read as ``!`` then ``~...``.
_MATCHER = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)(.*)$", re.DOTALL)
_OPERATORS = {"=": (False, True), "!=": (False, False), "=~": (True, True), "!~": (True, False)}


class UsageProblem(TocsinError, click.ClickException):
    """The matchers, times or settings given are wrong: nothing was sent."""

    exit_code = EXIT_USAGE


class ServerProblem(TocsinError, click.ClickException):
    """The worker could not be reached or refused the request (401, 404, 5xx...)."""

    exit_code = EXIT_SERVER


def parse_matcher(text: str) -> SilenceMatcher:
    """One amtool-style matcher (``name=value``, ``!=``, ``=~``, ``!~``); surrounding quotes dropped."""
    match = _MATCHER.match(text)
    if match is None:
        raise UsageProblem(
            f"matcher {text!r}: expected NAME=VALUE, NAME!=VALUE, NAME=~RE or NAME!~RE"
        )
    name, op, value = match[1], match[2], match[3].strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        value = value[1:-1]
    if name not in LABELS:
        raise UsageProblem(f"matcher {text!r}: label must be one of {', '.join(LABELS)}")
    is_regex, is_equal = _OPERATORS[op]
    if is_regex:
        try:
            re.compile(value)
        except re.error as exc:
            raise UsageProblem(f"matcher {text!r}: bad regular expression ({exc})") from None
    return SilenceMatcher(name, value, is_regex, is_equal)


def format_matcher(m: dict[str, Any]) -> str:
    """A matcher from the API back in the form ``create`` accepts."""
    op = {(False, True): "=", (False, False): "!=", (True, True): "=~", (True, False): "!~"}[
        (bool(m.get("isRegex")), bool(m.get("isEqual", True)))
    ]
    return f"{m.get('name')}{op}{m.get('value')}"


def parse_time(text: str, what: str) -> datetime:
    """An RFC 3339 / ISO 8601 date-time with a time zone (``Z`` accepted)."""
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise UsageProblem(
            f"{what}: {text!r} is not a date-time like 2026-11-22T18:00:00Z"
        ) from None
    if value.tzinfo is None:
        raise UsageProblem(f"{what}: {text!r} needs a time zone (e.g. Z or +01:00)")
    return value


def silence_body(
    matchers: tuple[str, ...],
    *,
    duration: str | None,
    ends_at: str | None,
    comment: str,
    author: str,
    now: datetime,
) -> dict[str, Any]:
    """The Alertmanager v2 body for a new silence, checked as the server will check it."""
    if not matchers:
        raise UsageProblem("give at least one matcher, e.g. brand=valmoreau topic=~pricing|boycott")
    if duration is not None and ends_at is not None:
        raise UsageProblem("give --duration or --ends-at, not both")
    parsed = [parse_matcher(text) for text in matchers]
    if ends_at is not None:
        ends = parse_time(ends_at, "--ends-at")
    else:
        try:
            seconds = parse_duration((duration or "1h").strip())
        except ValueError as exc:
            raise UsageProblem(f"--duration: {exc}") from None
        if seconds <= 0:
            raise UsageProblem("--duration: must be longer than zero")
        ends = now + timedelta(seconds=seconds)
    body: dict[str, Any] = {
        "matchers": [
            {"name": m.name, "value": m.value, "isRegex": m.is_regex, "isEqual": m.is_equal}
            for m in parsed
        ],
        "startsAt": now.isoformat(),
        "endsAt": ends.astimezone(UTC).isoformat(),
        "createdBy": author,
        "comment": comment,
    }
    try:
        parse_silence(body, silence_id="local-check", now=now)
    except SilenceError as exc:
        raise UsageProblem(str(exc)) from None
    return body


class SilencesClient:
    """The worker's silences API over one ``httpx.Client`` (explicit timeout, bearer token)."""

    def __init__(self, url: str, token: str, timeout_s: float) -> None:
        self.base = url.rstrip("/")
        self._token = token
        self._client = httpx.Client(timeout=timeout_s, headers={"Authorization": f"Bearer {token}"})

    def close(self) -> None:
        self._client.close()

    def request(self, method: str, path: str, body: Any = None) -> Any:
        """The JSON answer of a 2xx; anything else becomes a :class:`ServerProblem`."""
        url = f"{self.base}{path}"
        try:
            response = self._client.request(method, url, json=body)
        except httpx.HTTPError as exc:
            kind = type(exc).__name__
            raise ServerProblem(
                f"cannot reach {self.base}: {kind} {self._mask(str(exc))}"
            ) from None
        if response.status_code >= 400:
            raise ServerProblem(
                f"{method} {path}: HTTP {response.status_code}: {self._reason(response)}"
            )
        try:
            return response.json()
        except ValueError:
            raise ServerProblem(f"{method} {path}: the answer is not JSON") from None

    def _reason(self, response: httpx.Response) -> str:
        try:
            data = response.json()
        except ValueError:
            data = None
        if isinstance(data, dict) and isinstance(data.get("error"), str):
            text = data["error"]
        else:
            text = response.text[:300].strip() or response.reason_phrase
        return self._mask(text)

    def _mask(self, text: str) -> str:
        return redact(text, [self._token])


def _client(url: str, timeout_s: float) -> SilencesClient:
    token = os.environ.get(TOKEN_ENV, "").strip()
    if not token:
        raise UsageProblem(f"set {TOKEN_ENV} to the worker's API token")
    return SilencesClient(url, token, timeout_s)


def _fail(message: str) -> NoReturn:
    click.echo(f"tocsin silences: {message}", err=True)
    sys.exit(EXIT_SERVER)


#: ``--url`` and ``--timeout`` on every subcommand, so they can be given after it as with amtool.
url_option = click.option(
    "--url",
    envvar="TOCSIN_URL",
    default=DEFAULT_URL,
    show_default=True,
    help="a worker's web address (WEB_BIND:WEB_PORT) [env: TOCSIN_URL]",
)
timeout_option = click.option(
    "--timeout",
    type=click.FloatRange(min=0.1, max=120),
    envvar="TOCSIN_CLI_TIMEOUT_S",
    default=10.0,
    show_default=True,
    help="seconds per HTTP request [env: TOCSIN_CLI_TIMEOUT_S]",
)


@click.group()
def silences() -> None:
    """Mute alerts by label for a while (the worker's /api/silences; token from TOCSIN_API_TOKEN)."""


@silences.command("create")
@click.argument("matchers", nargs=-1, required=True)
@click.option("--duration", "-d", default=None, help="how long, e.g. 30m, 2h, 1d (default 1h)")
@click.option(
    "--ends-at", default=None, help="end instead of --duration, e.g. 2026-11-22T18:00:00Z"
)
@click.option("--comment", "-c", required=True, help="why (required, as with amtool)")
@click.option(
    "--author",
    "-a",
    envvar="USER",
    default="tocsin-cli",
    show_default=True,
    help="who created it [env: USER]",
)
@url_option
@timeout_option
def create_cmd(
    matchers: tuple[str, ...],
    duration: str | None,
    ends_at: str | None,
    comment: str,
    author: str,
    url: str,
    timeout: float,
) -> None:
    """Create a silence: MATCHERS like brand=valmoreau 'topic=~pricing|boycott' severity!=info.

    All matchers must hold for an alert to be muted. Prints the new silence's id; the worker
    applies it within moments. Resolved notices are never muted.
    """
    body = silence_body(
        matchers,
        duration=duration,
        ends_at=ends_at,
        comment=comment,
        author=author,
        now=datetime.now(UTC),
    )
    client = _client(url, timeout)
    try:
        answer = client.request("POST", "/api/silences", body)
    finally:
        client.close()
    silence_id = answer.get("silenceID") if isinstance(answer, dict) else None
    if not isinstance(silence_id, str):
        _fail("the server did not answer with a silenceID")
    click.echo(silence_id)


def _table(rows: list[dict[str, Any]]) -> str:
    header = ("ID", "MATCHERS", "STARTS", "ENDS", "STATE", "CREATED BY", "COMMENT")
    lines = [header]
    for s in rows:
        lines.append(
            (
                str(s.get("id", "")),
                " ".join(format_matcher(m) for m in s.get("matchers", [])),
                _short_time(s.get("startsAt")),
                _short_time(s.get("endsAt")),
                str((s.get("status") or {}).get("state", "")),
                str(s.get("createdBy", "")),
                " ".join(str(s.get("comment", "")).split()),
            )
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(header) - 1)]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(line[:-1], widths, strict=True))
        + "  "
        + line[-1]
        for line in lines
    )


def _short_time(raw: Any) -> str:
    """``2026-11-22 18:00 UTC`` for a person; the raw value if it does not parse."""
    try:
        value = datetime.fromisoformat(str(raw).replace("Z", "+00:00"))
    except ValueError:
        return str(raw)
    if value.tzinfo is None:
        return str(raw)
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


@silences.command("list")
@click.option("--all", "show_all", is_flag=True, help="also list expired silences")
@click.option("--json", "as_json", is_flag=True, help="print the API's JSON list (for scripts)")
@url_option
@timeout_option
def list_cmd(show_all: bool, as_json: bool, url: str, timeout: float) -> None:
    """List active and pending silences (newest end first); --all adds expired ones."""
    client = _client(url, timeout)
    try:
        answer = client.request("GET", "/api/silences")
    finally:
        client.close()
    items = answer.get("silences") if isinstance(answer, dict) else None
    if not isinstance(items, list):
        _fail("the server did not answer with a silences list")
    if not show_all:
        items = [s for s in items if (s.get("status") or {}).get("state") != "expired"]
    if as_json:
        click.echo(json.dumps(items, indent=2))
    elif not items:
        click.echo("no silences" if show_all else "no active silences (--all lists expired ones)")
    else:
        click.echo(_table(items))


@silences.command("expire")
@click.argument("ids", nargs=-1, required=True)
@url_option
@timeout_option
def expire_cmd(ids: tuple[str, ...], url: str, timeout: float) -> None:
    """Expire silences by ID now (they stay listed as expired with --all)."""
    client = _client(url, timeout)
    failed = 0
    try:
        for silence_id in ids:
            try:
                client.request("DELETE", f"/api/silences/{quote(silence_id, safe='')}")
            except ServerProblem as exc:
                failed += 1
                click.echo(f"tocsin silences: {silence_id}: {exc.message}", err=True)
                continue
            click.echo(f"expired {silence_id}")
    finally:
        client.close()
    if failed:
        sys.exit(EXIT_SERVER)
