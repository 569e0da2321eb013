from __future__ import annotations

import random
from datetime import UTC, datetime

import httpx
import pytest
from pydantic import SecretStr

from pipeline.delivery.receivers.base import parse_retry_after
from pipeline.delivery.receivers.slack import SlackWebhookReceiver, slack_payload
from pipeline.delivery.retry import RetryPolicy, deliver
from pipeline.errors import PermanentDelivery, RateLimited, RetryableDelivery
from pipeline.records import Alert

AT = datetime(2026, 11, 21, 14, 20, tzinfo=UTC)
ALERT = Alert(
    dedup_key="brenmoor:pricing:20261121T1420Z",
    state="firing",
    severity="critical",
    brand="brenmoor",
    topic="pricing",
    started_at=AT,
    updated_at=AT,
    observed=40.0,
    expected=3.0,
    score=0.9999,
    summary="40 pricing mentions",
    top_mentions=[{"id": "x:1", "text": "they tripled the price", "url": "https://x.example/1"}],
)
URL = SecretStr("https://hooks.slack.example/services/T000/B000/secretpart")


class Attempts:
    def __init__(self) -> None:
        self.log: list[tuple[int, str, int | None]] = []

    async def __call__(
        self, attempt: int, outcome: str, status: int | None, error: str | None
    ) -> None:
        self.log.append((attempt, outcome, status))


def slack_with(
    responses: list[httpx.Response | Exception],
) -> tuple[SlackWebhookReceiver, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        item = responses.pop(0)
        if isinstance(item, Exception):
            raise item
        return item

    client = httpx.AsyncClient(transport=httpx.MockTransport(handler), timeout=1.0)
    return SlackWebhookReceiver(URL, client), seen


async def test_slack_ok_sends_block_kit_with_idempotency_key() -> None:
    receiver, seen = slack_with([httpx.Response(200, text="ok")])
    assert await receiver.send(ALERT, idempotency_key="k1") == 200
    body = seen[0].read()
    assert b'"blocks"' in body and b"brenmoor" in body
    assert seen[0].headers["X-Tocsin-Idempotency-Key"] == "k1"


@pytest.mark.parametrize(
    ("response", "error"),
    [
        (httpx.Response(429, headers={"Retry-After": "7"}, text="rate_limited"), RateLimited),
        (httpx.Response(500, text="oops"), RetryableDelivery),
        (httpx.Response(503, text="busy"), RetryableDelivery),
        (httpx.Response(404, text="channel_not_found"), PermanentDelivery),
        (httpx.Response(400, text="invalid_payload"), PermanentDelivery),
        (httpx.ReadTimeout("slow"), RetryableDelivery),
        (httpx.ConnectError("refused"), RetryableDelivery),
    ],
)
async def test_slack_errors_are_classified(
    response: httpx.Response | Exception, error: type[Exception]
) -> None:
    receiver, _ = slack_with([response])
    with pytest.raises(error) as info:
        await receiver.send(ALERT, idempotency_key="k")
    if isinstance(info.value, RateLimited):
        assert info.value.retry_after == 7.0
    assert "secretpart" not in str(info.value)


async def test_retries_honour_retry_after_then_deliver_once() -> None:
    receiver, seen = slack_with(
        [
            httpx.Response(429, headers={"Retry-After": "12"}),
            httpx.Response(502),
            httpx.Response(200, text="ok"),
        ]
    )
    sleeps: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        sleeps.append(seconds)

    attempts = Attempts()
    ok = await deliver(
        receiver,
        ALERT,
        idempotency_key="k",
        policy=RetryPolicy(attempts=5, backoff_s=0.5),
        on_attempt=attempts,
        sleep=fake_sleep,
        rng=random.Random(1),
    )
    assert ok is True
    assert [a[1] for a in attempts.log] == ["retried", "retried", "delivered"]
    assert sleeps[0] >= 12.0  # Retry-After is a floor
    assert 0.5 <= sleeps[1] <= 1.0  # second backoff: ceiling 1.0, equal jitter
    assert len(seen) == 3
    assert {r.headers["X-Tocsin-Idempotency-Key"] for r in seen} == {"k"}


async def test_permanent_failure_stops_at_once() -> None:
    receiver, _seen = slack_with([httpx.Response(410, text="channel_is_archived")])
    attempts = Attempts()

    async def no_sleep(_: float) -> None:
        raise AssertionError("must not sleep after a permanent failure")

    ok = await deliver(
        receiver,
        ALERT,
        idempotency_key="k",
        policy=RetryPolicy(),
        on_attempt=attempts,
        sleep=no_sleep,
    )
    assert ok is False
    assert attempts.log == [(1, "failed", 410)]


async def test_attempts_run_out() -> None:
    receiver, _seen = slack_with([httpx.Response(500)] * 3)

    async def no_wait(_: float) -> None:
        return None

    attempts = Attempts()
    ok = await deliver(
        receiver,
        ALERT,
        idempotency_key="k",
        policy=RetryPolicy(attempts=3),
        on_attempt=attempts,
        sleep=no_wait,
    )
    assert ok is False
    assert [a[1] for a in attempts.log] == ["retried", "retried", "failed"]


def test_backoff_grows_and_is_capped() -> None:
    policy = RetryPolicy(backoff_s=1.0, backoff_max_s=8.0)
    rng = random.Random(0)
    ceilings = [1, 2, 4, 8, 8, 8]
    for attempt, ceiling in enumerate(ceilings, start=1):
        wait = policy.delay(attempt, rng)
        assert ceiling / 2 <= wait <= ceiling


def test_parse_retry_after_forms() -> None:
    assert parse_retry_after("30") == 30.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:10 GMT", now=1445412480.0) == 10.0


def test_slack_payload_limits_and_links() -> None:
    payload = slack_payload(ALERT)
    assert payload["text"].startswith("FIRING brenmoor/pricing")
    assert any(
        "<https://x.example/1|" in b.get("text", {}).get("text", "") for b in payload["blocks"]
    )
