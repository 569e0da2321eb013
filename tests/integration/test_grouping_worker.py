"""Alert grouping in a real worker on a real broker, killed in the middle of ``group_wait``.

A brand spikes on three topics at once. The route groups by brand with a ``group_wait``, so the
comms channel (the Slack webhook fake on 127.0.0.1) must get ONE message listing the three alerts,
not three, and not before ``group_wait`` is over. The worker is SIGKILLed while the group waits;
the group lives in a changelog-backed table, so the restarted worker sends it -- once.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from pipeline.ops.procs import Broker, Worker
from tests.fakes_http import SlackWebhookFake
from tests.integration.conftest import consume, produce
from tests.integration.test_delivery_worker import alert_payload, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

SLACK_TOKEN = "GroupingHookToken0123456789"
GROUP_WAIT_S = 20
ROUTING = f"""\
route:
  receiver: slack
  group_by: [brand]
  group_wait: {GROUP_WAIT_S}s
  group_interval: 5m
  repeat_interval: 4h
inhibit_rules: []
"""
TOPICS = ("scandal", "pricing", "boycott")


def test_three_topic_burst_is_one_slack_message_after_group_wait_even_across_a_kill(
    broker: Broker, start_worker: Callable[..., Worker], tmp_path: Path
) -> None:
    routing = tmp_path / "routing.yaml"
    routing.write_text(ROUTING, encoding="utf-8")
    with SlackWebhookFake(SLACK_TOKEN) as slack:
        env = {
            "TOCSIN_SLACK_WEBHOOK_URL": slack.webhook_url,
            "TOCSIN_ROUTING_FILE": str(routing),
        }
        first = start_worker(**env)
        keys = [f"brenmoor:{topic}:20261122T2000Z" for topic in TOPICS]
        sent_at = time.monotonic()
        produce(
            broker.bootstrap,
            "alerts",
            [
                alert_payload(k, "firing", severity="warning", topic=t)
                for k, t in zip(keys, TOPICS, strict=True)
            ],
            keys=[k.encode() for k in keys],
        )

        def grouped() -> set[str]:
            got = consume(broker.bootstrap, "alerts.deliveries", want=3, timeout_s=5)
            return {r["dedup_key"] for r in got if r["outcome"] == "grouped"}

        wait_until(lambda: grouped() == set(keys), 60, "the three alerts handed to the group")
        time.sleep(2.0)  # the group table's changelog writes are flushed by now
        assert time.monotonic() - sent_at < GROUP_WAIT_S, "the kill must land inside group_wait"
        first.kill()
        assert slack.messages == []  # nothing sent before group_wait

        start_worker(**env)
        wait_until(lambda: len(slack.messages) >= 1, 180, "the grouped Slack message")
        arrived = time.monotonic() - sent_at
        time.sleep(10)  # room for a second message, if the restart were going to send one
        assert arrived >= GROUP_WAIT_S
        assert len(slack.messages) == 1 and len(slack.requests) == 1, slack.messages
        (message,) = slack.messages
        text = json.dumps(message)
        assert all(k in text for k in keys)
        assert "3 alerts for brenmoor" in message["blocks"][0]["text"]["text"]
        assert slack.problems == []
        receipts = consume(broker.bootstrap, "alerts.deliveries", want=6, timeout_s=30, settle_s=3)
        delivered = sorted(
            r["dedup_key"]
            for r in receipts
            if r["receiver"] == "slack" and r["outcome"] == "delivered"
        )
        assert delivered == sorted(keys)  # one receipt per alert of the one message
        print(
            f"grouped message arrived {arrived:.1f} s after the burst (group_wait {GROUP_WAIT_S} s)"
        )
