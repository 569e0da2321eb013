"""build_receivers wiring, settings for receivers, and the webhook signature helpers."""

from __future__ import annotations

import logging

import httpx
import pytest
from pydantic import ValidationError

from pipeline.delivery.receivers import build_receivers
from pipeline.delivery.receivers.base import SecretRedactor, protect_secrets
from pipeline.delivery.receivers.webhook import sign, verify_signature
from pipeline.settings import make_settings


async def test_nothing_configured_means_console_only() -> None:
    assert [r.name for r in build_receivers(make_settings(console_alerts=False))] == ["console"]


async def test_every_configured_receiver_is_built_over_one_client() -> None:
    async with httpx.AsyncClient(timeout=1.0) as client:
        receivers = build_receivers(
            make_settings(
                console_alerts=False,
                slack_webhook_url="https://hooks.slack.example/services/T/B/abcdefgh",
                slack_bot_token="xoxb-1-2-abcdefgh",
                slack_channel="C0TOCSIN01",
                pagerduty_routing_key="R0UT1NGKEYr0ut1ngkeyR0UT1NGKEY32",
                opsgenie_api_key="5f1e0c7a-genie-key",
                teams_workflow_url="https://prod.example/workflows/x?sig=abcdefgh",
                alertmanager_url="http://127.0.0.1:9093",
                webhook_url="https://hooks.example/tocsin-abcdef",
                webhook_secret="whsec-0123456789",
            ),
            client,
        )
    names = [r.name for r in receivers]
    assert names == [
        "slack",
        "slack_api",
        "pagerduty",
        "opsgenie",
        "teams",
        "alertmanager",
        "webhook",
    ]
    assert all(vars(r)["_client"] is client for r in receivers)


@pytest.mark.parametrize(
    "values",
    [
        {"webhook_url": "https://hooks.example/tocsin-abcdef"},
        {"slack_bot_token": "xoxb-1-2-abcdefgh"},
        {"pagerduty_routing_key": "changeme"},
    ],
)
def test_half_configured_or_placeholder_is_refused_without_echoing(values: dict[str, str]) -> None:
    with pytest.raises(ValidationError) as info:
        make_settings(**values)
    for secret in values.values():
        assert secret not in str(info.value)


def test_signature_round_trip_and_replay_window() -> None:
    secret, body = b"whsec-0123456789", b'{"a":1}'
    signature = sign(secret, 1_763_800_000, body)
    assert signature.startswith("v1=")
    assert verify_signature(secret, "1763800000", body, signature, now=1_763_800_100)
    assert not verify_signature(secret, "1763800000", body, signature, now=1_763_800_301)
    assert not verify_signature(secret, "1763800000", body + b" ", signature, now=1_763_800_000)
    assert not verify_signature(b"other", "1763800000", body, signature, now=1_763_800_000)
    assert not verify_signature(secret, None, body, signature, now=1_763_800_000)


def test_redactor_masks_secrets_in_http_log_lines(caplog: pytest.LogCaptureFixture) -> None:
    # on the httpx logger itself: a command run earlier in the process (`tocsin sources run`
    # turns httpx's request lines down to WARNING) must not hide the lines under test
    caplog.set_level(logging.INFO, logger="httpx")
    log = logging.getLogger("httpx")
    try:
        protect_secrets("https://hooks.example/T/B/tok3n?sig=s1gnature", None)
        protect_secrets("https://hooks.example/T/B/tok3n?sig=s1gnature")  # idempotent
        assert sum(isinstance(f, SecretRedactor) for f in log.filters) == 1
        log.info("HTTP Request: %s %s", "POST", "https://hooks.example/T/B/tok3n?sig=s1gnature")
        log.info("query alone: sig=s1gnature")
    finally:
        for f in [f for f in log.filters if isinstance(f, SecretRedactor)]:
            log.removeFilter(f)
        for f in [
            f for f in logging.getLogger("httpcore").filters if isinstance(f, SecretRedactor)
        ]:
            logging.getLogger("httpcore").removeFilter(f)
    assert "tok3n" not in caplog.text and "s1gnature" not in caplog.text
    assert caplog.text.count("***") == 2


def test_redacted_records_still_format_under_the_workers_log_formatter() -> None:
    """mode's formatter (what `tocsin worker` logs through) wraps non-tuple args as (args,)."""
    import io

    from mode.utils.logging import ExtensionFormatter

    secret = "https://hooks.example/T000/B000/redact-me-please"
    redactor = SecretRedactor()
    redactor.add(secret)
    record = logging.LogRecord(
        "httpx",
        logging.INFO,
        __file__,
        1,
        'HTTP Request: %s %s "%s"',
        ("POST", secret, "200"),
        None,
    )
    assert redactor.filter(record)
    line = ExtensionFormatter(stream=io.StringIO(), fmt="%(message)s").format(record)
    assert line == 'HTTP Request: POST *** "200"'
