"""Tocsin's own per-receiver rate limits: token buckets on an injected clock, then a real HTTP fake."""

from __future__ import annotations

import asyncio
import itertools
import time
from datetime import UTC, datetime

import pytest
from prometheus_client import CollectorRegistry
from pydantic import SecretStr, ValidationError

from pipeline import services
from pipeline.delivery.ratelimit import Limiter, TokenBucket, limit_for
from pipeline.delivery.receivers import SlackWebhookReceiver, build_receivers, make_http_client
from pipeline.delivery.receivers.base import GroupNotice, Receiver, send_group
from pipeline.delivery.retry import RetryPolicy, deliver
from pipeline.metrics import TocsinMetrics
from pipeline.records import Alert
from pipeline.settings import DEFAULT_LIMITS, RateLimit, make_settings, parse_rate_limits
from tests.fakes_http import SlackWebhookFake

T0 = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
SLACK_TOKEN = "XXXXtokenpathXXXXrate"
ROUTING_KEY = "R0UT1NGKEY0000000000000000000042"


class FakeClock:
    """Time that moves only when someone sleeps (the limiter's injected clock and sleep)."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def alert(i: int = 0, state: str = "firing") -> Alert:
    return Alert(
        dedup_key=f"brenmoor:topic{i}:20261122T0900Z",
        state=state,
        severity="critical",
        brand="brenmoor",
        topic=f"topic{i}",
        started_at=T0,
        updated_at=T0,
        observed=40,
        expected=3,
        score=0.999,
        summary=f"alert {i}",
    )


def test_bucket_lets_a_burst_through_then_one_per_interval() -> None:
    bucket = TokenBucket.full(RateLimit(per_min=120, burst=3), now=0.0)
    assert [bucket.reserve(0.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    # the 4th and 5th reserve the next tokens: 0.5 s and 1.0 s away at 2 per second
    assert bucket.reserve(0.0) == pytest.approx(0.5)
    assert bucket.reserve(0.0) == pytest.approx(1.0)
    # idle long enough, the bucket is full again -- but never more than the burst
    assert [bucket.reserve(100.0) for _ in range(4)] == [0.0, 0.0, 0.0, pytest.approx(0.5)]


@pytest.mark.parametrize("name", sorted(DEFAULT_LIMITS))
def test_defaults_never_exceed_the_documented_minute(name: str) -> None:
    """Over any 60 s window the bucket lets through at most per_min + burst requests."""
    documented = {"pagerduty": 120, "slack": 61, "slack_api": 61, "opsgenie": 60, "teams": 240}
    limit = DEFAULT_LIMITS[name]
    clock = 0.0
    bucket = TokenBucket.full(limit, clock)
    sent: list[float] = []
    for _ in range(int(limit.per_min) * 3):  # a flood: send each as soon as allowed
        clock += bucket.reserve(clock)
        sent.append(clock)
    most = max(sum(1 for t in sent if start <= t < start + 60) for start in sent)
    assert most <= limit.per_min + limit.burst
    assert most <= documented.get(name, most)


async def test_limiter_spaces_sequential_sends_on_the_injected_clock() -> None:
    clock = FakeClock()
    waits: list[float] = []
    limiter = Limiter(RateLimit(60, 1), clock=clock, sleep=clock.sleep, on_wait=waits.append)
    for _ in range(4):
        await limiter.acquire()
    assert clock.sleeps == [pytest.approx(1.0)] * 3 and clock.now == pytest.approx(1003.0)
    assert sum(waits) == pytest.approx(3.0)


async def test_concurrent_callers_queue_in_order_without_a_lock() -> None:
    clock = FakeClock()

    async def suspend(seconds: float) -> None:  # yields to the others; time stands still
        await asyncio.sleep(0)

    limiter = Limiter(RateLimit(60, 1), clock=clock, sleep=suspend)
    waited = await asyncio.gather(*(limiter.acquire() for _ in range(4)))
    assert waited == [0.0, pytest.approx(1.0), pytest.approx(2.0), pytest.approx(3.0)]


async def test_waiting_does_not_block_the_event_loop() -> None:
    limiter = Limiter(RateLimit(600, 1))  # real clock and asyncio.sleep: 0.1 s per token
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    task = asyncio.create_task(ticker())
    for _ in range(4):
        await limiter.acquire()
    task.cancel()
    assert ticks >= 10  # ~0.3 s of waiting, during which the loop kept running others


def test_parse_rate_limits_and_refusals() -> None:
    assert parse_rate_limits("pagerduty=60, slack=30/2,console=0") == {
        "pagerduty": RateLimit(60, DEFAULT_LIMITS["pagerduty"].burst),
        "slack": RateLimit(30, 2),
        "console": RateLimit(0, 1),
    }
    for bad in ("pagerduty", "nope=5", "slack=fast", "slack=5/0", "slack=-1", "slack=1,slack=2"):
        with pytest.raises(ValueError):
            parse_rate_limits(bad)
    assert limit_for("slack", {"slack": RateLimit(0, 1)}) is None  # 0 turns it off
    assert limit_for("console", {}) is None


def test_setting_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOCSIN_DELIVERY_RATE_LIMITS", "pagerduty=60/5")
    assert make_settings().delivery_rate_limits == {"pagerduty": RateLimit(60, 5)}
    monkeypatch.setenv("TOCSIN_DELIVERY_RATE_LIMITS", "pagerdooty=60")
    with pytest.raises(ValidationError, match="pagerdooty"):
        make_settings()


def test_build_receivers_gives_each_its_limit() -> None:
    settings = make_settings(
        slack_webhook_url=SecretStr(f"https://hooks.slack.test/services/{SLACK_TOKEN}"),
        pagerduty_routing_key=SecretStr(ROUTING_KEY),
        delivery_rate_limits="slack=30/2",
    )
    by_name = {r.name: r for r in build_receivers(settings, client=None)}
    assert by_name["pagerduty"].limiter is not None
    assert by_name["pagerduty"].limiter.limit == RateLimit(110, 10)  # the documented default
    assert by_name["slack"].limiter is not None
    assert by_name["slack"].limiter.limit == RateLimit(30, 2)  # the override
    assert by_name["console"].limiter is None


class Counting(Receiver):
    name = "pagerduty"

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.sent_at: list[float] = []
        self.limiter = Limiter(RateLimit(60, 1), clock=clock, sleep=clock.sleep)

    async def send(self, alert: Alert, *, idempotency_key: str) -> int | None:
        self.sent_at.append(self.clock.now)
        return 202


class OneMessage(Counting):
    name = "slack"

    async def send_group(self, notice: GroupNotice, *, idempotency_key: str) -> int | None:
        self.sent_at.append(self.clock.now)
        return 200


async def test_group_notifications_take_one_token_per_request() -> None:
    notice = GroupNotice("g", (), (alert(1), alert(2), alert(3)))
    per_alert = Counting(FakeClock())  # default send_group: three requests
    await send_group(per_alert, notice, idempotency_key="k")
    assert per_alert.sent_at == [1000.0, 1001.0, 1002.0]
    one = OneMessage(FakeClock())  # its own send_group: one request each time
    await send_group(one, notice, idempotency_key="k1")
    await send_group(one, notice, idempotency_key="k2")
    assert one.sent_at == [1000.0, 1001.0]


async def test_waits_are_counted_per_receiver() -> None:
    metrics = TocsinMetrics(CollectorRegistry(), receivers=("slack", "console"))
    clock = FakeClock()
    settings = make_settings(
        slack_webhook_url=SecretStr(f"https://hooks.slack.test/services/{SLACK_TOKEN}")
    )
    services.override(settings=settings, metrics=metrics)
    (slack, _console) = services.receivers()
    assert slack.limiter is not None
    # the same limit and wait hook the registry built, on the test's clock
    built = slack.limiter
    slack.limiter = Limiter(built.limit, clock=clock, sleep=clock.sleep, on_wait=built.on_wait)
    for _ in range(3):
        await slack.throttle()
    sample = metrics.registry.get_sample_value
    assert sample("tocsin_delivery_throttled_seconds_total", {"receiver": "slack"}) == (
        pytest.approx(2.0)
    )
    assert sample("tocsin_delivery_throttled_seconds_total", {"receiver": "console"}) == 0


async def test_real_http_sends_are_spread_to_the_slack_limit() -> None:
    """Four alerts at once to a real HTTP Slack webhook fake: they arrive one second apart."""
    with SlackWebhookFake(SLACK_TOKEN) as fake:
        settings = make_settings(slack_webhook_url=SecretStr(fake.webhook_url))
        client = make_http_client(settings)
        (slack, _console) = build_receivers(settings, client)
        assert isinstance(slack, SlackWebhookReceiver) and slack.limiter is not None
        waits: list[float] = []
        slack.limiter.on_wait = waits.append
        policy = RetryPolicy(attempts=1)

        async def no_receipt(*_: object) -> None:
            return None

        started = time.monotonic()
        results = await asyncio.gather(
            *(
                deliver(
                    slack, alert(i), idempotency_key=f"k{i}", policy=policy, on_attempt=no_receipt
                )
                for i in range(4)
            )
        )
        elapsed = time.monotonic() - started
        await client.aclose()
    assert results == [True] * 4 and len(fake.messages) == 4
    arrivals = [r.at for r in fake.requests]
    gaps = [b - a for a, b in itertools.pairwise(arrivals)]
    assert all(gap >= 0.95 for gap in gaps), gaps  # 60/min, burst 1: one per second
    assert 3.0 <= elapsed < 6.0
    assert sum(waits) == pytest.approx(6.0, abs=0.2)  # 0 + 1 + 2 + 3: each waited its slot


async def test_every_retry_attempt_takes_a_token() -> None:
    from pipeline.errors import RetryableDelivery

    clock = FakeClock()

    class FlakyOnce(Counting):
        async def send(self, alert: Alert, *, idempotency_key: str) -> int | None:
            await super().send(alert, idempotency_key=idempotency_key)
            if len(self.sent_at) == 1:
                raise RetryableDelivery("pagerduty: HTTP 503", status_code=503)
            return 202

    receiver = FlakyOnce(clock)

    async def no_receipt(*_: object) -> None:
        return None

    async def no_backoff(_: float) -> None:
        return None

    policy = RetryPolicy(attempts=2)
    ok = await deliver(
        receiver,
        alert(),
        idempotency_key="k",
        policy=policy,
        on_attempt=no_receipt,
        sleep=no_backoff,
    )
    assert ok and receiver.sent_at == [1000.0, 1001.0]  # the retry waited for its own token
