"""``tocsin notify test`` against the real-HTTP fakes on 127.0.0.1 (no Kafka, no mocks).

The command builds receivers from the environment exactly as the worker does, so each test sets
``TOCSIN_*`` variables with ``monkeypatch`` and reads what the fake service received.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from pipeline.cli import cli
from tests.fakes_http import Fault, PagerDutyFake, SlackWebhookFake, WebhookFake

ROUTING_KEY = "R0UT1NGKEYr0ut1ngkeyR0UT1NGKEY32"
OTHER_KEY = "0THERKEY0therkey0THERKEY0therk32"
WEBHOOK_SECRET = "whsec-0123456789"
SLACK_TOKEN = "XoxTokenPathS3cr3t0123"
KEY_LINE = re.compile(r"^test alert (tocsin-test:[0-9a-f]{32}) \(critical\) to (\w+):$", re.M)


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only what a test sets: no TOCSIN_* from the developer's shell, fast retries."""
    for name in list(os.environ):
        if name.startswith("TOCSIN_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("TOCSIN_DELIVERY_BACKOFF_S", "0.01")
    monkeypatch.setenv("TOCSIN_DELIVERY_BACKOFF_MAX_S", "0.02")
    monkeypatch.setenv("TOCSIN_HTTP_TIMEOUT_S", "2")


@pytest.fixture
def pagerduty(monkeypatch: pytest.MonkeyPatch) -> Iterator[PagerDutyFake]:
    with PagerDutyFake(ROUTING_KEY) as fake:
        monkeypatch.setenv("TOCSIN_PAGERDUTY_ROUTING_KEY", ROUTING_KEY)
        monkeypatch.setenv("TOCSIN_PAGERDUTY_EVENTS_URL", f"{fake.base_url}/v2/enqueue")
        yield fake


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, ["notify", "test", *args])


def step_line(output: str, receiver: str, step: str) -> str:
    lines = [line for line in output.splitlines() if line.split()[:2] == [receiver, step]]
    assert len(lines) == 1, output
    return lines[0]


def test_pagerduty_gets_one_trigger_and_one_resolve_with_one_dedup_key(
    pagerduty: PagerDutyFake,
) -> None:
    result = run("--receiver", "pagerduty")
    assert result.exit_code == 0, result.output
    events = [seen.json() for seen in pagerduty.requests]
    assert [e["event_action"] for e in events] == ["trigger", "resolve"]
    key = events[0]["dedup_key"]
    assert events[1]["dedup_key"] == key
    assert key.startswith("tocsin-test:")
    assert (
        events[0]["payload"]["summary"] == "[critical] tocsin-test/test: Tocsin test notification"
    )
    assert pagerduty.incidents == [
        {
            "dedup_key": key,
            "status": "resolved",
            "events": 2,
            "summary": events[0]["payload"]["summary"],
        }
    ]
    assert pagerduty.problems == []
    assert KEY_LINE.findall(result.output) == [(key, "pagerduty")]
    for step in ("firing", "resolved"):
        line = step_line(result.output, "pagerduty", step)
        assert re.search(r"delivered status=202\s+attempts=1 latency_ms=\d+$", line), line
    assert ROUTING_KEY not in result.output

    again = run("--receiver", "pagerduty", "--no-resolve")
    assert again.exit_code == 0, again.output
    assert len(pagerduty.requests) == 3
    second = pagerduty.requests[2].json()
    assert second["event_action"] == "trigger" and second["dedup_key"] != key
    assert "resolved" not in again.output


def test_429_with_retry_after_is_retried_after_the_wait(pagerduty: PagerDutyFake) -> None:
    pagerduty.script(Fault.rate_limited("1"))
    result = run("--receiver", "pagerduty")
    assert result.exit_code == 0, result.output
    assert [seen.status for seen in pagerduty.requests] == [429, 202, 202]
    firing = step_line(result.output, "pagerduty", "firing")
    assert "delivered status=202  attempts=2" in firing
    latency = int(firing.rsplit("latency_ms=", 1)[1])
    assert latency >= 1000  # backoff alone is at most 20 ms here: the Retry-After was honoured
    waited = pagerduty.requests[1].at - pagerduty.requests[0].at
    assert waited >= 1.0
    assert "attempts=1" in step_line(result.output, "pagerduty", "resolved")


def test_failure_exits_1_with_the_error_and_no_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    with SlackWebhookFake(SLACK_TOKEN) as slack:
        url = slack.webhook_url
        monkeypatch.setenv("TOCSIN_SLACK_WEBHOOK_URL", url)
        monkeypatch.setenv("TOCSIN_DELIVERY_ATTEMPTS", "2")
        # an error body that echoes the URL: the printed error must still not show the token
        echo = Fault(500, {}, f"upstream refused {url}".encode())
        slack.script(echo, echo)
        result = run("--receiver", "slack")
    assert result.exit_code == 1, result.output
    firing = step_line(result.output, "slack", "firing")
    assert "failed    status=500  attempts=2" in firing
    assert "error=slack: HTTP 500 (upstream refused" in firing
    assert "***" in firing
    assert "delivered" in step_line(result.output, "slack", "resolved")  # resolve still sent
    assert SLACK_TOKEN not in result.output
    assert [m["text"].split()[0] for m in slack.messages] == ["RESOLVED"]


def test_permanent_refusal_is_not_retried(monkeypatch: pytest.MonkeyPatch) -> None:
    with PagerDutyFake(ROUTING_KEY) as fake:
        monkeypatch.setenv("TOCSIN_PAGERDUTY_ROUTING_KEY", OTHER_KEY)
        monkeypatch.setenv("TOCSIN_PAGERDUTY_EVENTS_URL", f"{fake.base_url}/v2/enqueue")
        result = run("--receiver", "pagerduty", "--no-resolve")
    assert result.exit_code == 1, result.output
    line = step_line(result.output, "pagerduty", "firing")
    assert "failed    status=400  attempts=1" in line
    assert "error=pagerduty: HTTP 400" in line
    assert OTHER_KEY not in result.output and ROUTING_KEY not in result.output
    assert len(fake.requests) == 1


def test_webhook_idempotency_keys_are_dispatch_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    with WebhookFake(WEBHOOK_SECRET.encode()) as hook:
        monkeypatch.setenv("TOCSIN_WEBHOOK_URL", f"{hook.base_url}{WebhookFake.PATH}")
        monkeypatch.setenv("TOCSIN_WEBHOOK_SECRET", WEBHOOK_SECRET)
        result = run("--receiver", "webhook")
    assert result.exit_code == 0, result.output
    [(key, _)] = KEY_LINE.findall(result.output)
    assert list(hook.accepted) == [f"{key}/firing/webhook", f"{key}/resolved/webhook"]
    assert [a["state"] for a in hook.accepted.values()] == ["firing", "resolved"]
    assert {a["brand"] for a in hook.accepted.values()} == {"tocsin-test"}
    assert hook.problems == [] and hook.duplicates == 0


def test_unknown_receiver_lists_the_configured_ones(pagerduty: PagerDutyFake) -> None:
    result = run("--receiver", "slack")
    assert result.exit_code == 2
    assert "unknown receiver 'slack'; configured: pagerduty, console" in result.output
    assert pagerduty.requests == []


def test_invalid_settings_are_a_config_error_without_the_value(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TOCSIN_WEBHOOK_URL", "https://hooks.example/tocsin-abcdef")
    result = run("--receiver", "webhook")
    assert result.exit_code == 2
    assert "TOCSIN_WEBHOOK_URL and TOCSIN_WEBHOOK_SECRET go together" in result.output
    assert "tocsin-abcdef" not in result.output


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_config_routing_file_checks_the_receiver(
    pagerduty: PagerDutyFake, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("TOCSIN_WEBHOOK_URL", "https://hooks.example/tocsin-abcdef")
    monkeypatch.setenv("TOCSIN_WEBHOOK_SECRET", WEBHOOK_SECRET)
    routed = write(
        tmp_path / "routing.yaml",
        "route:\n  receiver: console\n  routes:\n"
        "    - match: {severity: critical}\n      escalation: oncall\n"
        "escalation_policies:\n  oncall:\n    levels:\n"
        "      - after: 5m\n        receivers: [pagerduty]\n",
    )
    ok = run("--receiver", "pagerduty", "--config", str(routed))
    assert ok.exit_code == 0, ok.output  # routed by an escalation level only
    assert len(pagerduty.requests) == 2

    unrouted = run("--receiver", "webhook", "--config", str(routed))
    assert unrouted.exit_code == 2
    assert "receiver 'webhook' is configured but no route or escalation level" in unrouted.output
    assert "routed: console, pagerduty" in unrouted.output

    wrong = write(tmp_path / "wrong.yaml", "route:\n  receivers: [console, teams]\n")
    refused = run("--receiver", "pagerduty", "--config", str(wrong))
    assert refused.exit_code == 2
    assert "wrong.yaml:2" in refused.output and "unknown receiver 'teams'" in refused.output
    assert len(pagerduty.requests) == 2  # nothing sent on a config error


def test_help_names_the_settings() -> None:
    result = CliRunner().invoke(cli, ["notify", "test", "--help"])
    assert result.exit_code == 0
    for text in ("--receiver", "--config", "--no-resolve", "TOCSIN_DELIVERY_ATTEMPTS"):
        assert text in result.output
