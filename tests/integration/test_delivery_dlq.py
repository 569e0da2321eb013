"""Delivery dead letters on a real broker: a receiver that refuses a step for good leaves the step on
``alerts.deliveries.dlq`` (once, secrets masked) while the other receivers get it as usual."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from pipeline.ops.demo import metric_value
from pipeline.ops.procs import Broker, Worker
from tests.fakes_http import Fault, PagerDutyFake, SlackWebhookFake
from tests.integration.conftest import consume, produce
from tests.integration.test_delivery_worker import alert_payload

pytestmark = pytest.mark.integration

PD_KEY = "PDk3yS3cr3tR0ut1ngK3yDLQ12345678"
SLACK_HOOK_TOKEN = "SlackHookDlqS3cretPath77"


def test_a_refused_step_is_dead_lettered_once_with_secrets_masked(
    broker: Broker, start_worker: Callable[..., Worker]
) -> None:
    with PagerDutyFake(PD_KEY) as pagerduty, SlackWebhookFake(SLACK_HOOK_TOKEN) as slack:
        # Slack refuses for good (404, a body that echoes the secret URL): no retry, a dead letter
        slack.script(Fault(404, {}, f"no_service {slack.webhook_url}".encode()))
        worker = start_worker(
            TOCSIN_SLACK_WEBHOOK_URL=slack.webhook_url,
            TOCSIN_PAGERDUTY_ROUTING_KEY=PD_KEY,
            TOCSIN_PAGERDUTY_EVENTS_URL=f"{pagerduty.base_url}/v2/enqueue",
        )
        key = "brenmoor:pricing:20261122T1700Z"
        produce(broker.bootstrap, "alerts", [alert_payload(key, "firing")], keys=[key.encode()])
        letters = consume(broker.bootstrap, "alerts.deliveries.dlq", want=1, timeout_s=90)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not pagerduty.incidents:
            time.sleep(0.25)
        metrics = worker.metrics_text()

    (letter,) = letters
    assert (letter["dedup_key"], letter["step"], letter["receiver"]) == (key, "firing", "slack")
    assert letter["idempotency_key"] == f"{key}/firing/slack"
    assert (letter["attempts"], letter["status_code"]) == (1, 404)
    assert letter["alert"]["dedup_key"] == key and letter["alert"]["state"] == "firing"
    assert "no_service" in letter["error"] and "***" in letter["error"]
    assert SLACK_HOOK_TOKEN not in str(letter)
    # the other receiver was not held back by the refusal, and nothing else was dead-lettered
    assert len(pagerduty.incidents) == 1 and slack.messages == []
    assert metric_value(metrics, "tocsin_delivery_dead_letters_total", receiver="slack") == 1
    assert metric_value(metrics, "tocsin_delivery_dead_letters_total", receiver="pagerduty") == 0
