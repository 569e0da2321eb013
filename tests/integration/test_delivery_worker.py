"""Alert delivery on a real broker with real worker processes and loopback fakes of the services.

1. A worker is SIGKILLed after an alert is on the ``alerts`` topic and while PagerDuty (slow) is
   answering it; the restarted worker finishes the job. Slack must have seen the alert once (the
   alert book remembered it was delivered), PagerDuty must hold one incident (the re-sent event
   carries the same ``dedup_key``), and the receipts topic must say both were delivered.
2. A worker configured with distinctive secrets for every receiver and endpoint drives alerts
   (with failures and retries) and on-call requests through; none of the secrets, nor their
   URL-encoded or URL-decoded forms, appears in its log, its ``/metrics`` or its receipts.

Alerts are produced straight onto ``alerts`` so these tests depend on delivery only, not on the
classifier path (the restart test of the mention path is in ``test_pipeline.py``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlencode

import httpx
import pytest

from pipeline.ops.demo import metric_value
from pipeline.ops.procs import Broker, Worker
from tests.fakes_http import (
    AlertmanagerFake,
    Fault,
    OpsgenieFake,
    PagerDutyFake,
    SlackApiFake,
    SlackWebhookFake,
    TeamsFake,
    WebhookFake,
)
from tests.integration.conftest import consume, produce

pytestmark = pytest.mark.integration

PD_KEY = "PDk3yS3cr3tR0ut1ngK3yXYZ12345678"  # 32 characters like a real integration key
SLACK_HOOK_TOKEN = "SlackHookS3cretPath+/=QZ9"  # '+', '/' and '=' are percent-encoded in URLs
SLACK_BOT_TOKEN = "xoxb-9999-8888-SlackB0tS3cretToken"
GENIE_KEY = "0psg3n1e-S3cret-Key-4242-abcdefabcdef"
TEAMS_SIG = "T3amsS1gS3cret0123456789abcdefQ"
HOOK_SECRET = "Hmac-S3cret-for-the-generic-webhook"
HOOK_PATH_TOKEN = "hookPathS3cret77"
API_TOKEN = "ap1-t0ken-S3cret-0123456789"
SLACK_SIGNING = "sl4ck-s1gn1ng-S3cret-0123456789"
PD_WEBHOOK_SECRET = "pd-w3bh00k-S3cret-0123456789"


def alert_payload(
    key: str, state: str, *, severity: str = "critical", topic: str = "pricing"
) -> bytes:
    now = datetime.now(UTC)
    return json.dumps(
        {
            "dedup_key": key,
            "state": state,
            "severity": severity,
            "brand": "brenmoor",
            "topic": topic,
            "started_at": (now - timedelta(minutes=5)).isoformat(),
            "updated_at": now.isoformat(),
            "observed": 42.0,
            "expected": 3.0,
            "score": 0.9999,
            "summary": f"42 {topic} mentions of brenmoor in 5 min, expected about 3",
            "why": {"bucket_start": (now - timedelta(minutes=5)).isoformat()},
            "top_mentions": [{"id": "x:1", "text": "price tripled", "url": "https://x.example/1"}],
            "__faust": {"ns": "pipeline.records.Alert"},
        }
    ).encode()


def wait_until(check: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.25)
    raise AssertionError(f"timed out after {timeout_s:.0f}s waiting for {what}")


@pytest.fixture()
def pagerduty() -> Iterator[PagerDutyFake]:
    with PagerDutyFake(PD_KEY) as fake:
        yield fake


@pytest.fixture()
def slack() -> Iterator[SlackWebhookFake]:
    with SlackWebhookFake(SLACK_HOOK_TOKEN) as fake:
        yield fake


def test_sigkill_between_alert_and_delivery_delivers_once(
    broker: Broker,
    start_worker: Callable[..., Worker],
    pagerduty: PagerDutyFake,
    slack: SlackWebhookFake,
) -> None:
    env = {
        "TOCSIN_SLACK_WEBHOOK_URL": slack.webhook_url,
        "TOCSIN_PAGERDUTY_ROUTING_KEY": PD_KEY,
        "TOCSIN_PAGERDUTY_EVENTS_URL": f"{pagerduty.base_url}/v2/enqueue",
        "TOCSIN_HTTP_TIMEOUT_S": "60",  # the worker waits on the slow answer until it is killed
    }
    # PagerDuty opens the incident, then sits on its answer far longer than the worker lives
    pagerduty.script(Fault.slow(300))
    first = start_worker(**env)
    key = "brenmoor:pricing:20261122T1600Z"
    produce(broker.bootstrap, "alerts", [alert_payload(key, "firing")], keys=[key.encode()])

    wait_until(lambda: len(pagerduty.requests) == 1, 120, "PagerDuty to receive the trigger")
    assert len(slack.messages) == 1  # Slack (first in line) got it before PagerDuty was tried
    time.sleep(2.0)  # the alert book's changelog write for Slack is flushed by now
    first.kill()
    assert len(pagerduty.incidents) == 1  # PagerDuty acted; the worker never heard back

    second = start_worker(**env)
    wait_until(lambda: len(pagerduty.requests) >= 2, 120, "the restarted worker's retry")
    receipts = consume(broker.bootstrap, "alerts.deliveries", want=2, timeout_s=60, settle_s=3)
    delivered = [(r["receiver"], r["state"]) for r in receipts if r["outcome"] == "delivered"]
    assert sorted(delivered) == [
        ("console", "firing"),
        ("pagerduty", "firing"),
        ("slack", "firing"),
    ]

    # as seen by the receivers: one Slack message, one PagerDuty incident under one dedup key
    assert len(slack.messages) == 1
    assert len(pagerduty.incidents) == 1 and pagerduty.incidents[0]["events"] == 2
    assert {r.json()["dedup_key"] for r in pagerduty.requests} == {key}
    assert pagerduty.problems == [] and slack.problems == []
    metrics = second.metrics_text()
    assert (
        metric_value(
            metrics, "tocsin_deliveries_total", receiver="slack", outcome="skipped_duplicate"
        )
        == 1
    )
    assert (
        metric_value(metrics, "tocsin_deliveries_total", receiver="pagerduty", outcome="delivered")
        == 1
    )


def slack_signed(body: bytes) -> dict[str, str]:
    stamp = str(int(time.time()))
    digest = hmac.new(
        SLACK_SIGNING.encode(), b"v0:" + stamp.encode() + b":" + body, hashlib.sha256
    ).hexdigest()
    return {
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": f"v0={digest}",
        "Content-Type": "application/x-www-form-urlencoded",
    }


def forms(secret: str) -> set[str]:
    """A secret as it could appear in a log line: raw, URL-encoded, URL-decoded."""
    return {secret, quote(secret, safe=""), quote(secret), unquote(secret)}


def test_secrets_never_in_logs_metrics_or_receipts(
    broker: Broker,
    start_worker: Callable[..., Worker],
    pagerduty: PagerDutyFake,
    slack: SlackWebhookFake,
) -> None:
    with (
        SlackApiFake(SLACK_BOT_TOKEN) as slack_api,
        OpsgenieFake(GENIE_KEY) as opsgenie,
        TeamsFake(TEAMS_SIG) as teams,
        AlertmanagerFake() as alertmanager,
        WebhookFake(HOOK_SECRET.encode()) as hook,
    ):
        hook_url = f"{hook.base_url}{WebhookFake.PATH}?token={HOOK_PATH_TOKEN}"
        # failures on the way: each error path logs and writes a receipt that must stay clean
        slack.script(Fault.error(500))
        pagerduty.script(Fault.rate_limited("1"))
        opsgenie.script(Fault.error(503))
        teams.script(Fault.timeout(6.0))
        slack_api.script(
            Fault(
                200,
                {"Content-Type": "application/json"},
                b'{"ok": false, "error": "internal_error"}',
            )
        )
        worker = start_worker(
            TOCSIN_SLACK_WEBHOOK_URL=slack.webhook_url,
            TOCSIN_SLACK_BOT_TOKEN=SLACK_BOT_TOKEN,
            TOCSIN_SLACK_CHANNEL="C0TOCSIN01",
            TOCSIN_SLACK_API_URL=f"{slack_api.base_url}/api",
            TOCSIN_PAGERDUTY_ROUTING_KEY=PD_KEY,
            TOCSIN_PAGERDUTY_EVENTS_URL=f"{pagerduty.base_url}/v2/enqueue",
            TOCSIN_OPSGENIE_API_KEY=GENIE_KEY,
            TOCSIN_OPSGENIE_API_URL=opsgenie.base_url,
            TOCSIN_TEAMS_WORKFLOW_URL=teams.workflow_url,
            TOCSIN_ALERTMANAGER_URL=alertmanager.base_url,
            TOCSIN_WEBHOOK_URL=hook_url,
            TOCSIN_WEBHOOK_SECRET=HOOK_SECRET,
            TOCSIN_API_TOKEN=API_TOKEN,
            TOCSIN_SLACK_SIGNING_SECRET=SLACK_SIGNING,
            TOCSIN_PAGERDUTY_WEBHOOK_SECRET=PD_WEBHOOK_SECRET,
            TOCSIN_HTTP_TIMEOUT_S="3",
            TOCSIN_DELIVERY_BACKOFF_S="0.2",
        )
        key = "brenmoor:pricing:20261122T1700Z"
        produce(broker.bootstrap, "alerts", [alert_payload(key, "firing")], keys=[key.encode()])
        receivers = (
            "slack",
            "slack_api",
            "pagerduty",
            "opsgenie",
            "teams",
            "alertmanager",
            "webhook",
        )

        def delivered(state: str) -> set[str]:
            got = consume(broker.bootstrap, "alerts.deliveries", want=1, timeout_s=5)
            return {
                r["receiver"] for r in got if r["outcome"] == "delivered" and r["state"] == state
            }

        wait_until(
            lambda: set(receivers) <= delivered("firing"), 120, "firing delivered everywhere"
        )

        auth = {"Authorization": f"Bearer {API_TOKEN}"}
        api = worker.url
        assert (
            httpx.post(f"{api}/api/alerts/ack", json={"dedup_key": key}, timeout=5).status_code
            == 401
        )
        bad = {"Authorization": "Bearer not-the-token-000000"}
        assert httpx.get(f"{api}/api/silences", headers=bad, timeout=5).status_code == 401
        acked = httpx.post(
            f"{api}/api/alerts/ack", json={"dedup_key": key, "by": "ana"}, headers=auth, timeout=5
        )
        assert acked.status_code == 202
        wait_until(
            lambda: set(receivers) <= delivered("acknowledged"), 120, "acknowledged delivered"
        )
        assert pagerduty.incidents[0]["status"] == "acknowledged"

        silence = {
            "matchers": [{"name": "topic", "value": "boycott"}],
            "endsAt": (datetime.now(UTC) + timedelta(hours=1)).isoformat(),
            "createdBy": "ana",
            "comment": "known campaign",
        }
        created = httpx.post(f"{api}/api/silences", json=silence, headers=auth, timeout=5)
        assert created.status_code == 202, created.text

        def listed() -> list[dict[str, Any]]:
            return list(
                httpx.get(f"{api}/api/silences", headers=auth, timeout=5).json()["silences"]
            )

        wait_until(lambda: len(listed()) == 1, 60, "the silence to be applied")
        assert listed()[0]["status"] == {"state": "active"}

        # PagerDuty's webhook: a forged signature is refused, a signed one is accepted
        pd_body = json.dumps(
            {
                "event": {
                    "event_type": "incident.acknowledged",
                    "agent": {"summary": "Oncall Person"},
                    "data": {"type": "incident", "incident_key": key},
                }
            }
        ).encode()
        sig = "v1=" + hmac.new(PD_WEBHOOK_SECRET.encode(), pd_body, hashlib.sha256).hexdigest()
        forged = httpx.post(
            f"{api}/pagerduty/webhook",
            content=pd_body,
            headers={"X-PagerDuty-Signature": "v1=00"},
            timeout=5,
        )
        assert forged.status_code == 401
        signed = httpx.post(
            f"{api}/pagerduty/webhook",
            content=pd_body,
            headers={"X-PagerDuty-Signature": sig},
            timeout=5,
        )
        assert signed.status_code == 202 and signed.json() == {"accepted": True}

        # Slack's Resolve button, signed with the signing secret, resolves the alert everywhere
        payload = {
            "type": "block_actions",
            "user": {"id": "U0ANA", "username": "ana"},
            "actions": [{"action_id": "tocsin_resolve", "value": key}],
        }
        body = urlencode({"payload": json.dumps(payload)}).encode()
        assert httpx.post(f"{api}/slack/actions", content=body, timeout=5).status_code == 401
        pressed = httpx.post(
            f"{api}/slack/actions", content=body, headers=slack_signed(body), timeout=5
        )
        assert pressed.status_code == 200
        wait_until(lambda: set(receivers) <= delivered("resolved"), 120, "resolved delivered")

        # a firing boycott alert is silenced: receipts say so and no receiver sees it
        other = "brenmoor:boycott:20261122T1700Z"
        before = len(pagerduty.requests)
        produce(
            broker.bootstrap,
            "alerts",
            [alert_payload(other, "firing", topic="boycott")],
            keys=[other.encode()],
        )
        wait_until(
            lambda: any(
                r["dedup_key"] == other and r["outcome"] == "silenced"
                for r in consume(broker.bootstrap, "alerts.deliveries", want=1, timeout_s=5)
            ),
            60,
            "a silenced receipt",
        )
        assert len(pagerduty.requests) == before

        # expiring the silence keeps it listed, as expired
        silence_id = created.json()["silenceID"]
        gone = httpx.delete(f"{api}/api/silences/{silence_id}", headers=auth, timeout=5)
        assert gone.status_code == 202
        assert httpx.delete(f"{api}/api/silences/nope", headers=auth, timeout=5).status_code == 404
        wait_until(
            lambda: listed()[0]["status"] == {"state": "expired"}, 60, "the silence to expire"
        )

        metrics = worker.metrics_text()
        worker.stop()
        assert worker.log_path is not None
        log = worker.log_path.read_text(errors="replace")
        receipts = json.dumps(consume(broker.bootstrap, "alerts.deliveries", want=1, timeout_s=5))

    assert "HTTP Request: POST" in log, (
        "httpx request lines are logged (the check below means something)"
    )
    assert "retried" in receipts  # the scripted failures happened and were retried
    assert pagerduty.incidents[0]["status"] == "resolved" and len(pagerduty.incidents) == 1
    secrets = {
        "pagerduty routing key": PD_KEY,
        "slack webhook token": SLACK_HOOK_TOKEN,
        "slack webhook url": slack.webhook_url,
        "slack bot token": SLACK_BOT_TOKEN,
        "opsgenie key": GENIE_KEY,
        "teams sig": TEAMS_SIG,
        "teams url": teams.workflow_url,
        "webhook secret": HOOK_SECRET,
        "webhook url token": HOOK_PATH_TOKEN,
        "webhook url": hook_url,
        "api token": API_TOKEN,
        "slack signing secret": SLACK_SIGNING,
        "pagerduty webhook secret": PD_WEBHOOK_SECRET,
    }
    for name, secret in secrets.items():
        for form in forms(secret):
            for where, text in (("log", log), ("metrics", metrics), ("receipts", receipts)):
                assert form not in text, f"{name} ({form!r}) found in the worker's {where}"


ROUTING = """\
escalation_policies:
  fast:
    levels:
      - {after: 6s, receivers: [pagerduty]}
route:
  receiver: slack
  escalation: fast
  group_wait: 0s  # no grouping: this test times escalation, each alert must reach Slack at once
"""


def test_unacknowledged_alert_escalates_and_the_acknowledged_one_does_not(
    broker: Broker,
    start_worker: Callable[..., Worker],
    pagerduty: PagerDutyFake,
    slack: SlackWebhookFake,
    tmp_path: Path,
) -> None:
    """The escalation timer in a real worker: only the alert nobody acknowledged pages on-call."""
    routing = tmp_path / "routing.yaml"
    routing.write_text(ROUTING, encoding="utf-8")
    worker = start_worker(
        TOCSIN_SLACK_WEBHOOK_URL=slack.webhook_url,
        TOCSIN_PAGERDUTY_ROUTING_KEY=PD_KEY,
        TOCSIN_PAGERDUTY_EVENTS_URL=f"{pagerduty.base_url}/v2/enqueue",
        TOCSIN_ROUTING_FILE=str(routing),
        TOCSIN_ESCALATION_TICK_S="1",
        TOCSIN_API_TOKEN=API_TOKEN,
    )
    ignored, handled = "brenmoor:pricing:20261122T1800Z", "brenmoor:scandal:20261122T1800Z"
    produce(
        broker.bootstrap,
        "alerts",
        [alert_payload(ignored, "firing"), alert_payload(handled, "firing", topic="scandal")],
        keys=[ignored.encode(), handled.encode()],
    )
    wait_until(lambda: len(slack.messages) >= 2, 60, "both alerts in Slack")
    assert pagerduty.requests == []  # the route pages nobody at first
    auth = {"Authorization": f"Bearer {API_TOKEN}"}
    acked = httpx.post(
        f"{worker.url}/api/alerts/ack", json={"dedup_key": handled}, headers=auth, timeout=5
    )
    assert acked.status_code == 202
    wait_until(lambda: len(pagerduty.incidents) >= 1, 60, "the escalation to page on-call")
    time.sleep(5)  # more ticks: no second page, and the acknowledged alert never pages
    assert [i["dedup_key"] for i in pagerduty.incidents] == [ignored]
    assert pagerduty.incidents[0]["events"] == 1

    resolved = httpx.post(
        f"{worker.url}/api/alerts/ack",
        json={"dedup_key": ignored, "action": "resolve", "by": "ana"},
        headers=auth,
        timeout=5,
    )
    assert resolved.status_code == 202
    wait_until(lambda: pagerduty.incidents[0]["status"] == "resolved", 60, "on-call's resolve")
    texts = [m["text"].split()[0] for m in slack.messages]
    assert texts.count("ESCALATED") == 0  # the escalation went to its level only (PagerDuty)
    assert "RESOLVED" in texts and "ACKNOWLEDGED" in texts
    assert pagerduty.problems == [] and slack.problems == []
