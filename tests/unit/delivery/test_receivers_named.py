"""Named receivers in the routing file, and the shared outbound pieces (deliver once, Slack client)."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from pipeline.delivery.once import deliver_once
from pipeline.delivery.receivers import build_receivers
from pipeline.delivery.receivers.email import EmailReceiver
from pipeline.delivery.receivers.named import parse_named_receivers
from pipeline.delivery.receivers.slack import SlackWebhookReceiver
from pipeline.delivery.redaction import redact, secrets_of
from pipeline.delivery.retry import RetryPolicy
from pipeline.delivery.slack_web import SlackWebClient
from pipeline.errors import ConfigError, PermanentDelivery, RateLimited, RetryableDelivery
from pipeline.oncall.routing import load_routing
from pipeline.settings import make_settings

FR_HOOK = "https://hooks.slack.example/services/T0/B0/frenchsecret1"
EN_HOOK = "https://hooks.slack.example/services/T0/B1/englishsecret2"

ROUTING = """
route:
  receiver: comms-en
  group_wait: 0s
  routes:
    - match: {language: fr}
      receivers: [comms-fr, press-fr]
receivers:
  - name: comms-fr
    slack_configs:
      - api_url_file: fr-hook.txt
  - name: comms-en
    slack_configs:
      - api_url_env: TEST_EN_HOOK
  - name: press-fr
    email_configs:
      - to: [presse@brand.example, oncall@brand.example]
        from: tocsin@alerts.example
        smarthost: smtp.example:2525
        starttls: false
"""


def write_routing(tmp_path: Path, text: str = ROUTING) -> Path:
    (tmp_path / "fr-hook.txt").write_text(FR_HOOK + "\n", encoding="utf-8")
    path = tmp_path / "routing.yaml"
    path.write_text(text, encoding="utf-8")
    return path


async def test_named_receivers_are_built_with_their_names_and_secrets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEST_EN_HOOK", EN_HOOK)
    path = write_routing(tmp_path)
    settings = make_settings(console_alerts=False, routing_file=path)
    async with httpx.AsyncClient(timeout=1.0) as client:
        receivers = build_receivers(settings, client)
    by_name = {r.name: r for r in receivers}
    assert list(by_name) == ["comms-fr", "comms-en", "press-fr"]
    assert isinstance(by_name["comms-fr"], SlackWebhookReceiver)
    assert by_name["comms-fr"].kind == "slack" and by_name["press-fr"].kind == "email"
    assert isinstance(by_name["press-fr"], EmailReceiver)
    assert [s.get_secret_value() for s in by_name["comms-fr"].secrets] == [FR_HOOK]
    assert [s.get_secret_value() for s in by_name["comms-en"].secrets] == [EN_HOOK]
    # the default limit of the type applies to every instance of it
    limiter = by_name["comms-en"].limiter
    assert limiter is not None and limiter.limit.per_min == 60
    # routes may name them
    tree = load_routing(path, known_receivers=by_name)
    assert tree.receiver_names() == {"comms-en", "comms-fr", "press-fr"}
    masked = redact(f"error at {EN_HOOK}", secrets_of(settings, by_name["comms-en"].secrets))
    assert EN_HOOK not in masked and "***" in masked


def test_env_shorthand_and_named_receivers_live_side_by_side(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEST_EN_HOOK", EN_HOOK)
    settings = make_settings(
        console_alerts=True,
        routing_file=write_routing(tmp_path),
        slack_webhook_url="https://hooks.slack.example/services/T0/B9/defaultsecret",
    )
    names = [r.name for r in build_receivers(settings)]
    assert names == ["slack", "comms-fr", "comms-en", "press-fr", "console"]


@pytest.mark.parametrize(
    ("config", "problem"),
    [
        ("slack_configs: [{api_url: 'https://hooks.example/x/secretvalue'}]", "no inline secrets"),
        ("slack_configs: [{api_url_env: UNSET_VARIABLE_X}]", "UNSET_VARIABLE_X is not set"),
        ("slack_configs: [{api_url_file: absent.txt}]", "cannot read"),
        ("slack_configs: [{api_url_env: A, api_url_file: b}]", "not both"),
        ("slack_configs: [{}]", "missing"),
        ("slack_configs: [{api_url_env: SHORT}]", "placeholder"),
        ("slack_configs: [{api_url_env: SHORT}, {api_url_env: SHORT}]", "one integration"),
        ("pigeon_configs: [{}]", "unknown"),
        ("slack_api_configs: [{token_env: SHORT_OK}]", "channel: missing"),
        (
            "email_configs: [{to: a@b.example, from: 'Me <c@d.example>', smarthost: h}]",
            "not a plain e-mail address",
        ),
    ],
)
def test_bad_named_receivers_are_refused_with_file_line_and_field(
    config: str, problem: str, tmp_path: Path
) -> None:
    text = f"route:\n  receiver: x\nreceivers:\n  - name: x\n    {config}\n"
    env = {"SHORT": "abc", "SHORT_OK": "xoxb-1234567890"}
    with pytest.raises(ConfigError) as info:
        parse_named_receivers(text, source="routing.yaml", env=env, base=tmp_path)
    assert problem in str(info.value)
    assert "secretvalue" not in str(info.value)
    if "email" not in config:
        assert str(info.value).startswith("routing.yaml:")


def test_a_named_receiver_cannot_take_a_default_receivers_name(tmp_path: Path) -> None:
    (tmp_path / "hook.txt").write_text(FR_HOOK, encoding="utf-8")
    path = tmp_path / "routing.yaml"
    path.write_text(
        "route:\n  receiver: slack\nreceivers:\n"
        "  - name: slack\n    slack_configs: [{api_url_file: hook.txt}]\n",
        encoding="utf-8",
    )
    settings = make_settings(routing_file=path, slack_webhook_url=EN_HOOK)
    with pytest.raises(ConfigError, match="also configured by TOCSIN_"):
        build_receivers(settings)
    names = [r.name for r in build_receivers(make_settings(routing_file=path))]
    assert names == ["slack", "console"]


def test_duplicate_names_are_refused() -> None:
    text = (
        "route: {receiver: a}\nreceivers:\n"
        "  - {name: a, alertmanager_configs: [{url: 'http://127.0.0.1:9093'}]}\n"
        "  - {name: a, alertmanager_configs: [{url: 'http://127.0.0.1:9094'}]}\n"
    )
    with pytest.raises(ConfigError, match="declared twice"):
        parse_named_receivers(text)


async def test_deliver_once_skips_a_marked_step_and_marks_a_delivered_one() -> None:
    calls: list[int] = []
    outcomes: list[str] = []
    duplicates: list[bool] = []

    async def send() -> int | None:
        calls.append(1)
        if len(calls) == 1:
            raise RetryableDelivery("flaky", status_code=503)
        return 200

    async def on_attempt(attempt: int, outcome: str, status: int | None, error: str | None) -> None:
        outcomes.append(outcome)

    async def no_sleep(_: float) -> None:
        return None

    done: dict[str, str] = {}
    policy = RetryPolicy(attempts=3, backoff_s=0.001)
    assert await deliver_once(
        done, "firing/slack", send, policy=policy, on_attempt=on_attempt, sleep=no_sleep
    )
    assert outcomes == ["retried", "delivered"] and "firing/slack" in done
    again = await deliver_once(
        done,
        "firing/slack",
        send,
        policy=policy,
        on_attempt=on_attempt,
        on_duplicate=lambda: duplicates.append(True),
    )
    assert again and duplicates == [True] and len(calls) == 2


@pytest.mark.parametrize(
    ("response", "error"),
    [
        (httpx.Response(200, json={"ok": False, "error": "channel_not_found"}), PermanentDelivery),
        (httpx.Response(200, json={"ok": False, "error": "internal_error"}), RetryableDelivery),
        (httpx.Response(429, headers={"Retry-After": "7"}, json={"ok": False}), RateLimited),
    ],
)
async def test_the_slack_web_client_classifies_slack_errors(
    response: httpx.Response, error: type[Exception]
) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return response

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler), timeout=1) as client:
        slack = SlackWebClient(SecretStr("xoxb-0123456789"), "C01", client, api_url="https://s/api")
        with pytest.raises(error) as info:
            await slack.call("chat.postMessage", {"channel": "C01"}, receiver="slack_thread")
    assert str(info.value).startswith("slack_thread:")
    if isinstance(info.value, RateLimited):
        assert info.value.retry_after == 7
    [request] = seen
    assert request.url == "https://s/api/chat.postMessage"
    assert request.headers["Authorization"] == "Bearer xoxb-0123456789"
    assert json.loads(request.content) == {"channel": "C01"}


def test_settings_grouped_by_concern_read_the_same_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TOCSIN_SLACK_WEBHOOK_URL", EN_HOOK)
    monkeypatch.setenv("TOCSIN_EMAIL_TO", "a@b.example, c@d.example")
    monkeypatch.setenv("TOCSIN_SMTP_HOST", "smtp.example")
    monkeypatch.setenv("TOCSIN_SMTP_FROM", "tocsin@alerts.example")
    monkeypatch.setenv("TOCSIN_INGEST_BURST", "4000")
    monkeypatch.setenv("TOCSIN_DELIVERY_ATTEMPTS", "7")
    monkeypatch.setenv("TOCSIN_APPROVAL_LINK_TTL_S", "600")
    settings = make_settings()
    receivers = settings.delivery.receivers
    assert isinstance(receivers.slack.webhook_url, SecretStr)
    assert receivers.slack.webhook_url.get_secret_value() == EN_HOOK
    assert EN_HOOK not in repr(settings.delivery)
    assert receivers.email.to == ("a@b.example", "c@d.example")
    assert settings.delivery.attempts == 7 and settings.ingest.burst == 4000
    assert settings.approvals.link_ttl_s == 600
    assert settings.model.batch_size == settings.batch_size
    assert settings.detection.bucket_seconds == settings.bucket_seconds
    assert RetryPolicy.from_settings(settings).attempts == 7
