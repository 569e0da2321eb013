"""Every HTTP receiver driven through ``pipeline.delivery.deliver`` against real loopback servers.

No Kafka here: the fakes in ``tests/fakes_http.py`` are real HTTP servers on 127.0.0.1 that
validate each API's documented request shape and keep its de-duplication state. What is checked
per receiver: an alert's life (firing -> acknowledged -> resolved) reaches the service once per
step with nothing the service would refuse; a 429's ``Retry-After`` is waited out for real; 500s
and timeouts are retried with the same dedup key / idempotency key, so a service that acted on a
request whose answer was lost still holds one incident; a 400 is not retried; and no secret shows
up in an error, a receipt or a log line.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from pipeline.delivery.receivers import (
    AlertmanagerReceiver,
    OpsgenieReceiver,
    PagerDutyReceiver,
    SlackApiReceiver,
    SlackWebhookReceiver,
    TeamsReceiver,
    WebhookReceiver,
)
from pipeline.delivery.receivers.base import Receiver, SecretRedactor
from pipeline.delivery.retry import RetryPolicy, deliver
from pipeline.delivery.slack_web import SlackWebClient
from pipeline.records import Alert
from tests.fakes_http import (
    AlertmanagerFake,
    FakeAPI,
    Fault,
    OpsgenieFake,
    PagerDutyFake,
    SlackApiFake,
    SlackWebhookFake,
    TeamsFake,
    WebhookFake,
)

pytestmark = pytest.mark.integration

CLIENT_TIMEOUT_S = 1.0  # generous: the machine is shared, and slow answers take 0.3 s
PD_KEY = "R0UT1NGKEYr0ut1ngkeyR0UT1NGKEY32"  # 32 characters, like a real integration key
GENIE_KEY = "5f1e0c7a-genie-key-0000-9d2b41c8e7aa"
TEAMS_SIG = "TeamsSigValue0123456789abcdefXYZ"
HOOK_SECRET = "whsec-hmac-secret-0123456789"
SLACK_TOKEN = "xoxb-111-222-SlackBotTokenValue"
SLACK_HOOK_TOKEN = "SlackWebhookPathSecret0123"
SECRETS = (PD_KEY, GENIE_KEY, TEAMS_SIG, HOOK_SECRET, SLACK_TOKEN, SLACK_HOOK_TOKEN)

T0 = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)


def alert(state: str, *, summary: str = "40 pricing mentions in 5 min vs 3 expected") -> Alert:
    return Alert(
        dedup_key="brenmoor:pricing:20261122T0900Z",
        state=state,
        severity="critical",
        brand="brenmoor",
        topic="pricing",
        started_at=T0,
        updated_at=T0 + timedelta(minutes={"firing": 0, "acknowledged": 5, "resolved": 40}[state]),
        observed=40.0,
        expected=3.0,
        score=0.9999,
        summary=summary,
        top_mentions=[
            {"id": "x:1", "text": "they tripled the price", "url": "https://x.example/1"}
        ],
    )


def idempotency_key(a: Alert, receiver: Receiver) -> str:
    """Same shape as ``pipeline.oncall.dispatch.idempotency_key`` (kept free of the Faust app)."""
    return f"{a.dedup_key}/{a.state}/{receiver.name}"


@dataclass
class Case:
    """How to build one fake + receiver pair, and what its service should hold afterwards."""

    name: str
    make_fake: Callable[[], FakeAPI]
    make_receiver: Callable[[Any, httpx.AsyncClient], Receiver]
    dedups: bool  # does the real service de-duplicate a repeated request (dedup key / alias)?
    lifecycle_ok: Callable[[Any], None]
    stable_key: Callable[[Any], str]  # the de-duplication identity seen in one request


def _pd_lifecycle(fake: PagerDutyFake) -> None:
    assert len(fake.incidents) == 1
    assert fake.incidents[0]["status"] == "resolved"
    assert fake.incidents[0]["events"] == 3


def _og_lifecycle(fake: OpsgenieFake) -> None:
    assert len(fake.alerts) == 1
    assert fake.alerts[0]["acknowledged"] is True
    assert fake.alerts[0]["status"] == "closed"
    assert fake.alerts[0]["count"] == 1


def _teams_lifecycle(fake: TeamsFake) -> None:
    assert [c["body"][0]["text"].split(":")[0] for c in fake.cards] == [
        "FIRING",
        "ACKNOWLEDGED",
        "RESOLVED",
    ]


def _am_lifecycle(fake: AlertmanagerFake) -> None:
    assert len(fake.alerts) == 1  # one label set: acknowledged/resolved update the same alert
    (only,) = fake.alerts.values()
    assert only["updates"] == 3
    assert only["annotations"]["state"] == "resolved"
    assert AlertmanagerFake.is_resolved(only, datetime.now(UTC))


def _hook_lifecycle(fake: WebhookFake) -> None:
    assert [a["state"] for a in fake.accepted.values()] == ["firing", "acknowledged", "resolved"]
    assert fake.duplicates == 0


def _slack_api_lifecycle(fake: SlackApiFake) -> None:
    assert len(fake.messages) == 1  # one message, updated in place
    (only,) = fake.messages.values()
    assert only["updates"] == 2
    assert only["text"].startswith("RESOLVED")
    assert all(b["type"] != "actions" for b in only["blocks"])  # no buttons once resolved
    first, acked = (r.json()["blocks"][-1] for r in fake.requests[:2])
    assert [e["action_id"] for e in first["elements"]] == [
        "tocsin_acknowledge",
        "tocsin_resolve",
        "tocsin_draft_response",
    ]
    assert [e["action_id"] for e in acked["elements"]] == [
        "tocsin_resolve",
        "tocsin_draft_response",
    ]
    assert {e["value"] for e in first["elements"]} == {"brenmoor:pricing:20261122T0900Z"}


def _slack_hook_lifecycle(fake: SlackWebhookFake) -> None:
    assert [m["text"].split()[0] for m in fake.messages] == ["FIRING", "ACKNOWLEDGED", "RESOLVED"]


CASES = [
    Case(
        "pagerduty",
        lambda: PagerDutyFake(PD_KEY),
        lambda f, c: PagerDutyReceiver(
            SecretStr(PD_KEY), c, events_url=f"{f.base_url}/v2/enqueue", link="https://t.example"
        ),
        True,
        _pd_lifecycle,
        lambda seen: seen.json()["dedup_key"],
    ),
    Case(
        "opsgenie",
        lambda: OpsgenieFake(GENIE_KEY),
        lambda f, c: OpsgenieReceiver(SecretStr(GENIE_KEY), c, api_url=f.base_url),
        True,
        _og_lifecycle,
        lambda seen: seen.json()["alias"] if seen.path == "/v2/alerts" else seen.path.split("/")[3],
    ),
    Case(
        "teams",
        lambda: TeamsFake(TEAMS_SIG),
        lambda f, c: TeamsReceiver(SecretStr(f.workflow_url), c, link="https://t.example"),
        False,
        _teams_lifecycle,
        lambda seen: seen.json()["attachments"][0]["content"]["body"][2]["facts"][4]["value"],
    ),
    Case(
        "alertmanager",
        AlertmanagerFake,
        lambda f, c: AlertmanagerReceiver(f.base_url, c, generator_url="https://t.example/a"),
        True,  # an alert is its label set: re-posting it updates, never duplicates
        _am_lifecycle,
        lambda seen: seen.json()[0]["labels"]["dedup_key"],
    ),
    Case(
        "webhook",
        lambda: WebhookFake(HOOK_SECRET.encode()),
        lambda f, c: WebhookReceiver(
            SecretStr(f"{f.base_url}{WebhookFake.PATH}"), SecretStr(HOOK_SECRET), c
        ),
        True,
        _hook_lifecycle,
        lambda seen: seen.headers["x-tocsin-idempotency-key"],
    ),
    Case(
        "slack_api",
        lambda: SlackApiFake(SLACK_TOKEN),
        lambda f, c: SlackApiReceiver(
            SlackWebClient(SecretStr(SLACK_TOKEN), "C0TOCSIN01", c, api_url=f"{f.base_url}/api")
        ),
        False,
        _slack_api_lifecycle,
        lambda seen: seen.json()["blocks"][-1]["elements"][0]["value"],
    ),
    Case(
        "slack",
        lambda: SlackWebhookFake(SLACK_HOOK_TOKEN),
        lambda f, c: SlackWebhookReceiver(SecretStr(f.webhook_url), c),
        False,
        _slack_hook_lifecycle,
        lambda seen: seen.headers["x-tocsin-idempotency-key"],
    ),
]
IDS = [c.name for c in CASES]


class Receipts:
    """Collects what ``deliver`` reports per attempt, as the agent would write to the topic."""

    def __init__(self) -> None:
        self.log: list[tuple[int, str, int | None, str | None]] = []

    async def __call__(
        self, attempt: int, outcome: str, status: int | None, err: str | None
    ) -> None:
        self.log.append((attempt, outcome, status, err))

    @property
    def outcomes(self) -> list[str]:
        return [entry[1] for entry in self.log]


@pytest.fixture(autouse=True)
def _drop_redactors() -> Iterator[None]:
    """``protect_secrets`` adds filters to the httpx loggers; leave them as we found them."""
    yield
    for name in ("httpx", "httpcore"):
        log = logging.getLogger(name)
        for f in [f for f in log.filters if isinstance(f, SecretRedactor)]:
            log.removeFilter(f)


@pytest.fixture()
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=httpx.Timeout(CLIENT_TIMEOUT_S)) as c:
        yield c


@pytest.fixture(params=CASES, ids=IDS)
def case(request: pytest.FixtureRequest) -> Iterator[tuple[Case, FakeAPI]]:
    c: Case = request.param
    fake = c.make_fake().start()
    try:
        yield c, fake
    finally:
        fake.stop()


FAST = RetryPolicy(attempts=5, backoff_s=0.02, backoff_max_s=0.05)


async def run(receiver: Receiver, a: Alert, policy: RetryPolicy = FAST) -> tuple[bool, Receipts]:
    receipts = Receipts()
    ok = await deliver(
        receiver,
        a,
        idempotency_key=idempotency_key(a, receiver),
        policy=policy,
        on_attempt=receipts,
    )
    return ok, receipts


async def test_lifecycle_delivered_once_per_step(
    case: tuple[Case, FakeAPI], client: httpx.AsyncClient
) -> None:
    c, fake = case
    receiver = c.make_receiver(fake, client)
    await receiver.setup()
    for state in ("firing", "acknowledged", "resolved"):
        ok, receipts = await run(receiver, alert(state))
        assert ok, receipts.log
        assert receipts.outcomes == ["delivered"]
    await receiver.close()
    assert fake.problems == []
    assert len(fake.requests) == 3
    c.lifecycle_ok(fake)


async def test_rate_limit_waits_retry_after(
    case: tuple[Case, FakeAPI], client: httpx.AsyncClient
) -> None:
    c, fake = case
    body = b'{"ok": false, "error": "ratelimited"}' if c.name == "slack_api" else b""
    fake.script(Fault.rate_limited("1", body))
    receiver = c.make_receiver(fake, client)
    ok, receipts = await run(receiver, alert("firing"))
    assert ok
    assert receipts.outcomes == ["retried", "delivered"]
    assert receipts.log[0][2] == 429 and receipts.log[1][2] in (200, 202)
    first, second = fake.requests
    assert second.at - first.at >= 1.0  # the server saw the retry only after Retry-After
    assert fake.problems == []


async def test_slack_api_ratelimited_in_a_200_body(client: httpx.AsyncClient) -> None:
    with SlackApiFake(SLACK_TOKEN) as fake:
        fake.script(
            Fault(
                200,
                {"Content-Type": "application/json", "Retry-After": "1"},
                b'{"ok": false, "error": "ratelimited"}',
            )
        )
        receiver = SlackApiReceiver(
            SlackWebClient(
                SecretStr(SLACK_TOKEN), "C0TOCSIN01", client, api_url=f"{fake.base_url}/api"
            )
        )
        ok, receipts = await run(receiver, alert("firing"))
        assert ok and receipts.outcomes == ["retried", "delivered"]
        assert fake.requests[1].at - fake.requests[0].at >= 1.0
        assert len(fake.messages) == 1


async def test_errors_and_timeouts_keep_one_incident(
    case: tuple[Case, FakeAPI], client: httpx.AsyncClient
) -> None:
    """500, then an answer lost after the service acted (if it de-duplicates), then success."""
    c, fake = case
    fake.script(Fault.error(500), Fault.timeout(CLIENT_TIMEOUT_S * 3, process=c.dedups))
    receiver = c.make_receiver(fake, client)
    ok, receipts = await run(receiver, alert("firing"))
    assert ok
    assert receipts.outcomes == ["retried", "retried", "delivered"]
    assert receipts.log[0][2] == 500
    assert "timeout" in (receipts.log[1][3] or "")
    assert len(fake.requests) == 3
    assert len({c.stable_key(seen) for seen in fake.requests}) == 1  # same key on every attempt
    if c.name == "pagerduty":
        assert isinstance(fake, PagerDutyFake)
        assert len(fake.incidents) == 1 and fake.incidents[0]["events"] == 2
    if c.name == "opsgenie":
        assert isinstance(fake, OpsgenieFake)
        assert len(fake.alerts) == 1 and fake.alerts[0]["count"] == 2
    if c.name == "webhook":
        assert isinstance(fake, WebhookFake)
        assert len(fake.accepted) == 1 and fake.duplicates == 1
    if c.name == "alertmanager":
        assert isinstance(fake, AlertmanagerFake)
        assert len(fake.alerts) == 1
    assert fake.problems == []


async def test_slow_answer_within_timeout_is_one_delivery(
    case: tuple[Case, FakeAPI], client: httpx.AsyncClient
) -> None:
    c, fake = case
    fake.script(Fault.slow(0.3))
    receiver = c.make_receiver(fake, client)
    ok, receipts = await run(receiver, alert("firing"))
    assert ok and receipts.outcomes == ["delivered"]
    assert len(fake.requests) == 1 and fake.problems == []


async def test_client_errors_are_not_retried(
    case: tuple[Case, FakeAPI], client: httpx.AsyncClient
) -> None:
    c, fake = case
    if c.name == "slack_api":
        fake.script(
            Fault(
                200,
                {"Content-Type": "application/json"},
                b'{"ok": false, "error": "channel_not_found"}',
            )
        )
    else:
        fake.script(Fault(400, {}, b'{"message": "bad request"}'))
    receiver = c.make_receiver(fake, client)
    ok, receipts = await run(receiver, alert("firing"))
    assert not ok
    assert receipts.outcomes == ["failed"]
    assert len(fake.requests) == 1


async def test_pagerduty_summary_is_cut_to_1024(client: httpx.AsyncClient) -> None:
    with PagerDutyFake(PD_KEY) as fake:
        receiver = PagerDutyReceiver(
            SecretStr(PD_KEY), client, events_url=f"{fake.base_url}/v2/enqueue"
        )
        ok, _ = await run(receiver, alert("firing", summary="spike " * 400))
        assert ok and fake.problems == []
        assert len(fake.requests[0].json()["payload"]["summary"]) == 1024


async def test_opsgenie_message_is_cut_to_130(client: httpx.AsyncClient) -> None:
    with OpsgenieFake(GENIE_KEY) as fake:
        receiver = OpsgenieReceiver(SecretStr(GENIE_KEY), client, api_url=fake.base_url)
        ok, _ = await run(receiver, alert("firing", summary="spike " * 100))
        assert ok and fake.problems == []
        assert len(fake.requests[0].json()["message"]) == 130


async def test_wrong_credentials_are_permanent_and_not_echoed(client: httpx.AsyncClient) -> None:
    """A wrong key fails at once; neither the right nor the wrong secret appears in the error."""
    wrong_pd = "WR0NGKEYwr0ngkeyWR0NGKEYwr0ngk32"
    with (
        PagerDutyFake(PD_KEY) as pd,
        OpsgenieFake(GENIE_KEY) as og,
        SlackApiFake(SLACK_TOKEN) as sl,
    ):
        receivers: list[Receiver] = [
            PagerDutyReceiver(SecretStr(wrong_pd), client, events_url=f"{pd.base_url}/v2/enqueue"),
            OpsgenieReceiver(SecretStr("wrong-genie-key-value"), client, api_url=og.base_url),
            SlackApiReceiver(
                SlackWebClient(
                    SecretStr("xoxb-wrong-token-value"),
                    "C0TOCSIN01",
                    client,
                    api_url=f"{sl.base_url}/api",
                )
            ),
        ]
        for receiver in receivers:
            ok, receipts = await run(receiver, alert("firing"))
            assert not ok and receipts.outcomes == ["failed"]
            error = receipts.log[0][3] or ""
            for secret in (*SECRETS, wrong_pd, "wrong-genie-key-value", "xoxb-wrong-token-value"):
                assert secret not in error
        assert pd.problems == ["routing_key unknown"]
        assert og.problems == ["missing or wrong GenieKey"]
        assert sl.problems == ["wrong token"]


async def test_secrets_never_in_errors_or_logs(
    case: tuple[Case, FakeAPI], client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    c, fake = case
    caplog.set_level(logging.DEBUG)
    receiver = c.make_receiver(fake, client)
    await receiver.setup()  # installs the log redaction, as the dispatch agent does
    fake.script(Fault.error(503), Fault.timeout(CLIENT_TIMEOUT_S * 3), Fault.rate_limited("0"))
    ok, receipts = await run(receiver, alert("firing"))
    assert ok
    ok, more = await run(receiver, alert("resolved"))
    assert ok
    assert any(r.name == "httpx" for r in caplog.records), "httpx request lines were captured"
    text = caplog.text + "\n".join(str(entry) for entry in receipts.log + more.log)
    for secret in SECRETS:
        assert secret not in text, f"{c.name} leaked a secret"


async def test_without_redaction_httpx_would_log_the_webhook_secret(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    """Guards the test above: the leak it checks for is real when ``setup`` is skipped."""
    caplog.set_level(logging.INFO)
    with SlackWebhookFake(SLACK_HOOK_TOKEN) as fake:
        receiver = SlackWebhookReceiver(SecretStr(fake.webhook_url), client)
        ok, _ = await run(receiver, alert("firing"))
        assert ok
    assert SLACK_HOOK_TOKEN in caplog.text


INVALID_BLOCKS = [
    pytest.param({"type": "section"}, "text or fields", id="section-without-text"),
    pytest.param(
        {"type": "header", "text": {"type": "plain_text", "text": "h" * 151}},
        "150 characters",
        id="header-too-long",
    ),
    pytest.param({"type": "image", "image_url": "https://x.example/a.png"}, "alt_text", id="image"),
    pytest.param(
        {
            "type": "actions",
            "elements": [
                {
                    "type": "button",
                    "text": {"type": "plain_text", "text": "Go"},
                    "action_id": "go",
                    "style": "loud",
                }
            ],
        },
        "style",
        id="button-style",
    ),
    pytest.param({"type": "marquee"}, "unknown block type", id="unknown-type"),
]


@pytest.mark.parametrize(("block", "why"), INVALID_BLOCKS)
async def test_slack_fakes_refuse_invalid_blocks_like_slack(
    block: dict[str, Any], why: str, client: httpx.AsyncClient
) -> None:
    """Both Slack fakes check Block Kit with slack-sdk's models and answer ``invalid_blocks``.

    Guards the lifecycle tests: their ``problems == []`` means something only because an invalid
    block would have been refused here, as Slack refuses it.
    """
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "fine"}}, block]
    with SlackWebhookFake(SLACK_HOOK_TOKEN) as hook, SlackApiFake(SLACK_TOKEN) as api:
        answer = await client.post(hook.webhook_url, json={"text": "t", "blocks": blocks})
        assert (answer.status_code, answer.text) == (400, "invalid_blocks")
        answer = await client.post(
            f"{api.base_url}/api/chat.postMessage",
            json={"channel": "C0TOCSIN01", "text": "t", "blocks": blocks},
            headers={"Authorization": f"Bearer {SLACK_TOKEN}"},
        )
        assert answer.json() == {"ok": False, "error": "invalid_blocks"}
        assert hook.messages == [] and api.messages == {}
        for fake in (hook, api):
            assert len(fake.problems) == 1 and why in fake.problems[0], fake.problems
