"""Shared set-up for the approvals end-to-end tests: one broker, one worker, the outside fakes.

Broker-backed tests are expensive on a 2-core box, so one module starts one broker and one worker
(module-scoped) and the tests follow one story: an alert fires, a draft is approved on the web and
in Slack, published; then the security cases are tried against the same worker; then the worker
is restarted. The fakes are real HTTP servers on 127.0.0.1: Slack's Web API (posts, in-place
updates) and a publish endpoint that checks the signature and de-duplicates by idempotency key.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import json
import re
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import yaml
from kafka import KafkaConsumer, KafkaProducer

from pipeline.ops.procs import REPO, Worker
from tests.fakes_http import SlackApiFake
from tests.fakes_publish import PublishWebhookFake

LINK_SECRET = "e2e-link-secret-7f3a9c2d51b8"
SIGNING_SECRET = "e2e-slack-signing-4b1d8e6f2a"
BOT_TOKEN = "xoxb-e2e-0123456789-abcdef"
PUBLISH_SECRET = "e2e-publish-secret-9e8d7c6b"
CHANNEL = "C0TOCSIN01"

#: user id -> (token, slack id) for the people the tests act as.
PEOPLE: dict[str, tuple[str, str | None]] = {
    "e.lindqvist": ("tok-exec-lindqvist-0001", "U0TOCS0003"),  # approver-exec
    "a.fontaine": ("tok-legal-fontaine-0002", "U0TOCS0007"),  # reviewer-legal
    "m.brennan": ("tok-legal-brennan-00003", "U0TOCS0008"),  # reviewer-legal
    "h.dubois": ("tok-viewer-dubois-00004", None),  # viewer
    "c.moreau": ("tok-responder-moreau-05", "U0TOCS0001"),  # responder
    "x.dual": ("tok-dual-responder-exec6", "U0E2EDUAL1"),  # responder + approver-exec
}


def users_file(tmp: Path) -> Path:
    """The repo's fictional users plus one person holding both responder and exec roles."""
    doc = yaml.safe_load((REPO / "pipeline" / "config" / "users.yaml").read_text())
    for user in doc["users"]:
        user.pop("token_env", None)
    doc["users"].append(
        {
            "id": "x.dual",
            "name": "Dana Dual",
            "roles": ["responder", "approver-exec"],
            "slack_user_id": PEOPLE["x.dual"][1],
        }
    )
    path = tmp / "users.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def tokens_env() -> str:
    return ",".join(f"{uid}:{tok}" for uid, (tok, _slack) in PEOPLE.items())


def bearer(user: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {PEOPLE[user][0]}"}


def alert_payload(brand: str, topic: str, severity: str, minute: int) -> dict[str, Any]:
    started = datetime(2026, 11, 22, 9, minute, tzinfo=UTC)
    return {
        "dedup_key": f"{brand}:{topic}:{started:%Y%m%dT%H%MZ}",
        "state": "firing",
        "severity": severity,
        "brand": brand,
        "topic": topic,
        "started_at": started.isoformat(),
        "updated_at": started.isoformat(),
        "observed": 42.0,
        "expected": 3.1,
        "score": 0.9995,
        "summary": f"{brand} {topic}: 42 mentions in 5 minutes, 3.1 expected",
        "why": {"observed_vs_expected": "42 vs 3.1", "first_source": "x", "language": "en"},
        "top_mentions": [
            {
                "text": "Whistleblower says Brenmoor hid Glytera safety data from regulators",
                "url": "https://x.example/status/1001",
                "platform": "x",
                "lang": "en",
                "author": {"kind": "journalist"},
            },
            {
                "text": "If Brenmoor lied about Glytera what else are they hiding? <script>x</script>",
                "url": "https://x.example/status/1002",
                "platform": "x",
                "lang": "en",
                "author": {"kind": "patient"},
            },
            {
                "text": "Thread: everything we know about the Brenmoor allegations so far",
                "url": None,
                "platform": "reddit",
                "lang": "en",
                "author": {"kind": "unknown"},
            },
        ],
    }


def produce_json(bootstrap: str, topic: str, key: str, value: dict[str, Any]) -> None:
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    try:
        producer.send(topic, key=key.encode(), value=json.dumps(value).encode())
        producer.flush(timeout=30)
    finally:
        producer.close(timeout=10)


def read_topic(bootstrap: str, topic: str, *, idle_s: float = 2.0) -> list[dict[str, Any]]:
    """Everything on ``topic`` now (read from the start until ``idle_s`` without a message)."""
    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        consumer_timeout_ms=int(idle_s * 1000),
    )
    try:
        out = []
        for message in consumer:
            value = json.loads(message.value)
            value.pop("__faust", None)
            out.append(value)
        return out
    finally:
        consumer.close()


def audit_entries(bootstrap: str) -> list[dict[str, Any]]:
    return [r["entry"] for r in read_topic(bootstrap, "responses.audit")]


def wait_for(
    predicate: Any, *, timeout_s: float = 60.0, every_s: float = 0.5, what: str = ""
) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = predicate()
        if found:
            return found
        time.sleep(every_s)
    raise AssertionError(f"timed out after {timeout_s:.0f}s waiting for {what}")


def csrf_of(page: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', page)
    assert match, "no CSRF field on the page"
    return html.unescape(match.group(1))


def hidden(page: str, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]*)"', page)
    assert match, f"no {name} field on the page"
    return html.unescape(match.group(1))


def slack_body(
    user: str, action: str, draft_id: str, text_hash: str, message_ts: str, comment: str = ""
) -> bytes:
    payload = {
        "type": "block_actions",
        "user": {"id": user, "username": "someone"},
        "channel": {"id": CHANNEL},
        "container": {"type": "message", "message_ts": message_ts, "channel_id": CHANNEL},
        "message": {"ts": message_ts},
        "response_url": "https://hooks.slack.invalid/actions/T0/1/x",
        "actions": [
            {
                "action_id": f"tocsin_response_{action}",
                "block_id": "tocsin_response",
                "value": f"{draft_id}|{text_hash}",
                "type": "button",
            }
        ],
        "state": {"values": {"tocsin_comment": {"comment": {"value": comment or None}}}},
    }
    return urlencode({"payload": json.dumps(payload)}).encode()


def slack_headers(
    body: bytes, *, secret: str = SIGNING_SECRET, at: int | None = None
) -> dict[str, str]:
    ts = str(int(time.time()) if at is None else at)
    digest = hmac.new(secret.encode(), f"v0:{ts}:".encode() + body, hashlib.sha256).hexdigest()
    return {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": f"v0={digest}",
    }


@dataclass
class Stack:
    """The running pieces of one test module."""

    bootstrap: str
    worker: Worker
    slack: SlackApiFake
    publisher: PublishWebhookFake
    tmp: Path
    env: dict[str, str]
    drafts: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return self.worker.url

    def client(self, user: str | None = None) -> httpx.Client:
        return httpx.Client(
            base_url=self.url,
            headers=bearer(user) if user else {},
            timeout=30,
            follow_redirects=False,
        )

    def state(self, draft_id: str, user: str = "h.dubois") -> str:
        with self.client(user) as c:
            return c.get(f"/approvals/{draft_id}").text

    def restart(self) -> None:
        """Stop the worker (SIGTERM) and start a new one with an EMPTY state folder.

        A fresh folder means the tables can only come back from their Kafka changelogs.
        """
        self.worker.stop()
        fresh = Worker(
            bootstrap=self.bootstrap,
            data_dir=self.tmp / f"worker-after-restart-{int(time.time())}",
            web_port=self.worker.web_port,
            env=self.env,
        )
        fresh.start(loglevel="info")
        fresh.wait_ready(timeout_s=180)
        self.worker = fresh


def worker_env(
    model_dir: Path, tmp: Path, slack: SlackApiFake, publisher: PublishWebhookFake, web_port: int
) -> dict[str, str]:
    return {
        "TOCSIN_MODEL_DIR": str(model_dir),
        "TOCSIN_USERS_FILE": str(users_file(tmp)),
        "TOCSIN_USER_TOKENS": tokens_env(),
        "TOCSIN_APPROVAL_LINK_SECRET": LINK_SECRET,
        "TOCSIN_SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "TOCSIN_SLACK_BOT_TOKEN": BOT_TOKEN,
        "TOCSIN_SLACK_CHANNEL": CHANNEL,
        "TOCSIN_SLACK_API_URL": f"{slack.base_url}/api",
        "TOCSIN_PUBLISH_WEBHOOK_URL": publisher.url,
        "TOCSIN_PUBLISH_WEBHOOK_SECRET": PUBLISH_SECRET,
        "TOCSIN_PUBLIC_URL": f"http://127.0.0.1:{web_port}",
        "TOCSIN_CONSOLE_ALERTS": "false",
        "TOCSIN_DELIVERY_BACKOFF_S": "0.2",
    }


def artefacts_dir() -> Path:
    path = REPO / "tests" / "artefacts"
    path.mkdir(parents=True, exist_ok=True)
    return path
