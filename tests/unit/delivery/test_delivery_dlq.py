"""Delivery dead letters: a step a receiver never accepted lands on alerts.deliveries.dlq, once."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from agents import dispatch_alerts
from pipeline import services, topology
from pipeline.app import app
from pipeline.delivery.dead_letters import dead_lettering
from pipeline.delivery.retry import RetryPolicy, retry_call
from pipeline.errors import PermanentDelivery, RetryableDelivery
from pipeline.metrics import TocsinMetrics
from pipeline.oncall import dispatch as dispatch_plan
from pipeline.records import Alert, DeliveryDeadLetter
from pipeline.settings import make_settings
from tests.fakes import RecordingReceiver, RecordingTopic

T0 = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
TOKEN = "xoxb-very-secret-token-1234"
FAST = RetryPolicy(attempts=3, backoff_s=0.001, backoff_max_s=0.001)


def alert(state: str = "firing", topic: str = "pricing") -> Alert:
    return Alert(
        dedup_key=f"brenmoor:{topic}:20261122T0900Z",
        state=state,
        severity="critical",
        brand="brenmoor",
        topic=topic,
        started_at=T0,
        updated_at=T0,
        observed=40,
        expected=3,
        score=0.999,
        summary="s",
    )


class Sink:
    def __init__(self) -> None:
        self.records: list[DeliveryDeadLetter] = []

    async def __call__(self, record: DeliveryDeadLetter) -> None:
        self.records.append(record)


async def no_receipt(attempt: int, outcome: str, status: int | None, error: str | None) -> None:
    return None


@pytest.fixture()
def metrics() -> TocsinMetrics:
    m = TocsinMetrics(CollectorRegistry(), receivers=("console", "pagerduty", "slack"))
    services.override(
        metrics=m,
        settings=make_settings(
            slack_bot_token=TOKEN, slack_channel="#crisis", delivery_backoff_s=0.001
        ),
    )
    return m


@pytest.fixture(autouse=True)
def _test_app() -> Iterator[None]:
    app.finalize()
    app.flow_control.resume()
    yield


def test_the_dead_letter_topic_is_declared_and_kept() -> None:
    specs = {spec.name: spec for spec in topology.ALL_TOPICS}
    spec = specs["alerts.deliveries.dlq"]
    assert spec.doc and spec.config["retention.ms"] == "-1"
    assert spec.config["cleanup.policy"] == "delete"  # never compacted away by key


@pytest.mark.parametrize(
    ("errors", "attempts", "status"),
    [
        ([RetryableDelivery("pd: HTTP 503", status_code=503)] * 3, 3, 503),  # out of attempts
        ([PermanentDelivery("pd: HTTP 400 (bad key)", status_code=400)], 1, 400),  # refused
    ],
)
async def test_last_failed_attempt_leaves_one_dead_letter(
    errors: list[Exception], attempts: int, status: int
) -> None:
    receiver, sink, outcomes = RecordingReceiver("pagerduty", errors=errors), Sink(), []

    async def receipt(attempt: int, outcome: str, code: int | None, error: str | None) -> None:
        outcomes.append(outcome)

    a = alert()
    hook = dead_lettering(
        receipt,
        alerts=[a],
        receiver="pagerduty",
        step=dispatch_plan.step_of,
        idempotency_key="k/firing/pagerduty",
        sink=sink,
    )

    async def send() -> int | None:
        return await receiver.send(a, idempotency_key="k/firing/pagerduty")

    assert await retry_call(send, policy=FAST, on_attempt=hook) is False
    assert outcomes[-1] == "failed" and len(outcomes) == attempts
    (record,) = sink.records
    assert (record.dedup_key, record.step, record.receiver) == (a.dedup_key, "firing", "pagerduty")
    assert (record.idempotency_key, record.attempts, record.status_code) == (
        "k/firing/pagerduty",
        attempts,
        status,
    )
    assert record.group is None
    # the alert travels whole, without Faust's type marker, and revives as the same step
    assert "__faust" not in record.alert
    assert Alert.from_data(dict(record.alert)) == a


async def test_delivered_after_retries_leaves_no_dead_letter() -> None:
    receiver = RecordingReceiver(
        "slack", errors=[RetryableDelivery("slack: HTTP 503", status_code=503)] * 2
    )
    sink = Sink()
    a = alert()
    hook = dead_lettering(
        no_receipt, alerts=[a], receiver="slack", step=dispatch_plan.step_of,
        idempotency_key="k", sink=sink,
    )  # fmt: skip

    async def send() -> int | None:
        return await receiver.send(a, idempotency_key="k")

    assert await retry_call(send, policy=FAST, on_attempt=hook) is True
    assert sink.records == []


async def test_secrets_in_the_error_are_masked() -> None:
    sink = Sink()
    hook = dead_lettering(
        no_receipt, alerts=[alert()], receiver="slack", step=dispatch_plan.step_of,
        idempotency_key="k", sink=sink, secrets=[TOKEN],
    )  # fmt: skip
    await hook(1, "failed", 403, f"slack: HTTP 403 (invalid_auth for {TOKEN})")
    (record,) = sink.records
    assert record.error == "slack: HTTP 403 (invalid_auth for ***)"
    assert TOKEN not in record.dumps().decode()


async def test_dispatch_dead_letters_the_failed_receiver_only(
    monkeypatch: pytest.MonkeyPatch, metrics: TocsinMetrics
) -> None:
    receipts, dlq = RecordingTopic(), RecordingTopic()
    monkeypatch.setattr(dispatch_plan, "deliveries", receipts)
    monkeypatch.setattr(dispatch_plan, "delivery_dead_letters", dlq)
    refused = PermanentDelivery(f"slack: HTTP 404 (channel_not_found {TOKEN})", status_code=404)
    slack = RecordingReceiver("slack", errors=[refused, refused])
    pagerduty = RecordingReceiver(
        "pagerduty", errors=[RetryableDelivery("pd: HTTP 502", status_code=502)]
    )
    services.override(receivers=[slack, pagerduty])
    async with dispatch_alerts.dispatch_alerts.test_context() as agent:
        await agent.put(alert("firing"), key="k")
        await agent.put(alert("firing"), key="k")  # re-read after a restart
    records: list[DeliveryDeadLetter] = dlq.values
    # slack refused twice (nothing was delivered, so the re-read step tries again): two letters
    assert [(r.receiver, r.attempts, r.status_code) for r in records] == [("slack", 1, 404)] * 2
    assert records[0].idempotency_key == f"{alert().dedup_key}/firing/slack"
    assert records[0].error is not None and TOKEN not in records[0].error
    assert [k for k, _ in dlq.sent] == [alert().dedup_key] * 2
    failed = [(r.receiver, r.outcome) for r in receipts.values if r.outcome == "failed"]
    assert failed == [("slack", "failed")] * 2  # the failed receipt comes with each letter
    reg = metrics.registry
    sample: Any = reg.get_sample_value
    assert sample("tocsin_delivery_dead_letters_total", {"receiver": "slack"}) == 2
    assert sample("tocsin_delivery_dead_letters_total", {"receiver": "pagerduty"}) == 0
