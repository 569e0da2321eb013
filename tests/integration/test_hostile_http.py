"""Issue 22: what a hostile tester found, tried again on a live worker with every secret set.

One broker and one worker for the module (set up like the approvals end-to-end stack, with the
API, ingest, metrics, Slack and PagerDuty secrets added), then each finding as its own test:
Faust's own views, the 5,000-digit integer on Kafka and over HTTP, the far-future date, 500s
from hostile-but-signed vendor bodies and deep JSON, the readiness race, a token in the log,
refusal audit amplification and 401 slow-down, response headers, HEAD, /metrics, silences with
catastrophic regexes. Then the API fuzz from ``pipeline/worker/openapi.json`` with a scan of the log and
of every outbound request for the secrets; last (it stops the broker for a while), readiness
under a frozen broker.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest
from hypothesis import HealthCheck, Phase, given, settings

from pipeline.oncall.acks import pagerduty_signature
from pipeline.ops.demo import metric_value
from pipeline.ops.procs import Broker, Worker, free_port
from pipeline.ops.topics import ensure_topics
from pipeline.settings import make_settings
from pipeline.worker import openapi
from tests.bad_mentions import dumps, good
from tests.e2e.approvals_harness import (
    BOT_TOKEN,
    LINK_SECRET,
    PEOPLE,
    PUBLISH_SECRET,
    SIGNING_SECRET,
    audit_entries,
    read_topic,
    slack_headers,
    wait_for,
    worker_env,
)
from tests.fakes_http import SlackApiFake, SlackWebhookFake, WebhookFake
from tests.fakes_publish import PublishWebhookFake
from tests.integration.conftest import produce
from tests.openapi_fuzz import Drawn, Secrets, operations, requests

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

API_TOKEN = "hostile-api-token-5e4d3c2b1a"
INGEST_TOKEN = "hostile-ingest-token-a1b2c3d4"
METRICS_TOKEN = "hostile-metrics-token-77aa88bb"
PAGERDUTY_SECRET = "hostile-pagerduty-secret-0f9e"
SLACK_HOOK_TOKEN = "hostileSlackHookToken0a9b8c7d"  # the secret part of a Slack webhook URL
WEBHOOK_SECRET = "hostile-webhook-hmac-secret-42"
VENDORS = {
    "brandwatch": "hostile-brandwatch-token-3c4d",
    "talkwalker": "hostile-talkwalker-token-5e6f",
    "meltwater": "hostile-meltwater-secret-7a8b9c0d",
}
SECRETS = (
    *VENDORS.values(),
    API_TOKEN,
    INGEST_TOKEN,
    METRICS_TOKEN,
    PAGERDUTY_SECRET,
    SLACK_HOOK_TOKEN,
    WEBHOOK_SECRET,
    LINK_SECRET,
    SIGNING_SECRET,
    BOT_TOKEN,
    PUBLISH_SECRET,
    *(tok for tok, _slack in PEOPLE.values()),
)
SLOW_AFTER = 60  # 401s per client and minute answered at once (the fuzz sends a few dozen)
API = {"Authorization": f"Bearer {API_TOKEN}"}
BIG = "1" + "0" * 5000  # a 5,001-digit integer: past Python's 4,300-digit int parsing limit


@dataclass
class Hostile:
    broker: Broker
    worker: Worker
    slack: SlackApiFake
    publisher: PublishWebhookFake
    slack_hook: SlackWebhookFake
    webhook: WebhookFake

    @property
    def url(self) -> str:
        return self.worker.url

    def log(self) -> str:
        assert self.worker.log_path is not None
        return self.worker.log_path.read_text(errors="replace")


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory, model_dir: Path) -> Iterator[Hostile]:
    tmp = tmp_path_factory.mktemp("hostile")
    broker = Broker(port=free_port(), data_dir=tmp / "kafka")
    broker.start()
    try:
        ensure_topics(broker.bootstrap)
        with (
            SlackApiFake(BOT_TOKEN) as slack,
            PublishWebhookFake(PUBLISH_SECRET) as publisher,
            SlackWebhookFake(SLACK_HOOK_TOKEN) as slack_hook,
            WebhookFake(WEBHOOK_SECRET.encode()) as webhook,
        ):
            port = free_port()
            env = {
                **worker_env(model_dir, tmp, slack, publisher, port),
                "TOCSIN_API_TOKEN": API_TOKEN,
                "TOCSIN_INGEST_TOKENS": f"hostile:{INGEST_TOKEN}",
                "TOCSIN_METRICS_TOKEN": METRICS_TOKEN,
                "TOCSIN_PAGERDUTY_WEBHOOK_SECRET": PAGERDUTY_SECRET,
                "TOCSIN_VENDOR_BRANDWATCH_TOKEN": VENDORS["brandwatch"],
                "TOCSIN_VENDOR_TALKWALKER_TOKEN": VENDORS["talkwalker"],
                "TOCSIN_VENDOR_MELTWATER_SECRET": VENDORS["meltwater"],
                "TOCSIN_SLACK_WEBHOOK_URL": slack_hook.webhook_url,
                "TOCSIN_WEBHOOK_URL": f"{webhook.base_url}{WebhookFake.PATH}",
                "TOCSIN_WEBHOOK_SECRET": WEBHOOK_SECRET,
                "TOCSIN_AUTH_SLOW_AFTER": str(SLOW_AFTER),
                "TOCSIN_BROKER_PROBE_TIMEOUT_S": "8",
            }
            worker = Worker(
                bootstrap=broker.bootstrap, data_dir=tmp / "worker", web_port=port, env=env
            )
            worker.start(loglevel="info")
            try:
                worker.wait_ready(timeout_s=180)
                yield Hostile(broker, worker, slack, publisher, slack_hook, webhook)
            finally:
                worker.stop()
    finally:
        broker.stop()


def alive(h: Hostile) -> None:
    assert h.worker.proc is not None and h.worker.proc.poll() is None, "the worker died"
    assert httpx.get(f"{h.url}/healthz", timeout=5).status_code == 200


# -- 1. Faust's own views ------------------------------------------------------------------------
@pytest.mark.parametrize(
    "path",
    [
        "/table/open_buckets/brenmoor/",
        "/table/approvals/x/",
        "/table/audit_trail/x/",
        "/table/silences/x/",
        "/table/acks/x/",
        "/router/",
        "/router/open_buckets/brenmoor/",
        "/",
        "/graph/",
        "/stats/",
        "/performance/",
    ],
)
def test_faust_views_are_not_served(hostile: Hostile, path: str) -> None:
    for headers in ({}, API):
        r = httpx.get(f"{hostile.url}{path}", headers=headers, timeout=10)
        assert r.status_code == 404, (path, r.status_code, r.text[:200])


# -- 2. the 5,000-digit integer ------------------------------------------------------------------
def test_huge_integer_on_kafka_is_dead_lettered_and_the_agent_never_restarts(
    hostile: Hostile,
) -> None:
    bad = dumps({**good(1), "id": "huge:kafka"})[:-1] + b', "x": ' + BIG.encode() + b"}"
    after = dumps({**good(2), "id": "after:kafka", "created_at": "2026-11-20T08:16:00Z"})
    produce(hostile.broker.bootstrap, "mentions.raw", [bad, after])

    def letter() -> dict[str, object] | None:
        found = [
            d
            for d in read_topic(hostile.broker.bootstrap, "mentions.dlq")
            if d.get("source_topic") == "mentions.raw" and "huge:kafka" in str(d.get("payload"))
        ]
        return found[0] if found else None

    dead = wait_for(letter, timeout_s=90, what="the huge-integer mention on mentions.dlq")
    assert dead["reason"] == "invalid_json"
    assert "digits" in str(dead["detail"]) or "int" in str(dead["detail"])
    wait_for(
        lambda: any(
            m["mention"].get("id") == "after:kafka"
            for m in read_topic(hostile.broker.bootstrap, "mentions.classified")
        ),
        timeout_s=90,
        what="the mention after it on mentions.classified",
    )
    log = hostile.log()
    assert "Crashed" not in log and "Restarting" not in log, "the ingest agent crashed"
    alive(hostile)


def post_mentions(h: Hostile, body: bytes, kind: str = "application/x-ndjson") -> httpx.Response:
    return httpx.post(
        f"{h.url}/api/mentions",
        content=body,
        headers={"Authorization": f"Bearer {INGEST_TOKEN}", "Content-Type": kind},
        timeout=60,
    )


def test_huge_integer_over_http_refuses_that_line_and_accepts_the_rest(hostile: Hostile) -> None:
    lines = [dumps({**good(i), "id": f"batch:{i}"}) for i in range(99)]
    lines.insert(50, b'{"id": "batch:bad", "n": ' + BIG.encode() + b"}")
    r = post_mentions(hostile, b"\n".join(lines))
    assert r.status_code == 207, r.text[:300]
    body = r.json()
    assert (body["accepted"], body["rejected"]) == (99, 1)
    bad = body["results"][50]
    assert bad["status"] == "rejected" and bad["reason"] == "invalid_json" and bad["line"] == 51
    metrics = hostile.worker.metrics_text()
    assert metric_value(metrics, "tocsin_ingest_requests_total", outcome="internal_error") == 0


# -- 3. the far-future date ----------------------------------------------------------------------
def test_http_refuses_a_mention_dated_9999_like_the_agent_does(hostile: Hostile) -> None:
    far = dumps({**good(3), "created_at": "9999-06-01T00:00:00Z"})
    r = post_mentions(hostile, far, "application/json")
    assert r.status_code == 422, r.text[:300]
    assert r.json()["results"][0]["reason"] == "invalid_value"


# -- 4. 500s from hostile bodies -----------------------------------------------------------------
def slack_post(h: Hostile, body: bytes, headers: dict[str, str]) -> httpx.Response:
    return httpx.post(f"{h.url}/slack/actions", content=body, headers=headers, timeout=30)


def test_slack_timestamp_of_400_digits_is_refused_not_a_500(hostile: Hostile) -> None:
    body = urlencode({"payload": json.dumps({"type": "block_actions"})}).encode()
    headers = {**slack_headers(body), "X-Slack-Request-Timestamp": "1" + "0" * 400}
    assert slack_post(hostile, body, headers).status_code == 401


def test_slack_body_of_50000_brackets_is_refused_and_audited(hostile: Hostile) -> None:
    before = metric_value(hostile.worker.metrics_text(), "tocsin_approval_refusals_total")
    audited = len(audit_entries(hostile.broker.bootstrap))
    # the action prefix routes it to the approvals handler; the JSON is 50,000 levels deep
    body = b"payload=" + b"[" * 50_000 + b"tocsin_response_"
    r = slack_post(hostile, body, {"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 401
    after = metric_value(hostile.worker.metrics_text(), "tocsin_approval_refusals_total")
    assert after == before + 1
    wait_for(
        lambda: len(audit_entries(hostile.broker.bootstrap)) > audited,
        timeout_s=30,
        what="the refusal's audit record",
    )


def test_signed_but_malformed_slack_bodies_get_4xx(hostile: Hostile) -> None:
    for payload in (
        {"type": "block_actions", "actions": [1], "user": "x"},
        {"type": "block_actions", "actions": [{"action_id": "tocsin_acknowledge"}], "user": 7},
        {
            "type": "block_actions",
            "user": {"id": "U1"},
            "channel": "C1",
            "actions": [{"action_id": "tocsin_response_approve", "value": "d|h"}],
            "container": 3,
        },
        ["not", "an", "object"],
    ):
        body = urlencode({"payload": json.dumps(payload)}).encode()
        r = slack_post(hostile, body, slack_headers(body))
        assert r.status_code < 500, (payload, r.status_code, r.text[:200])


def pagerduty_post(h: Hostile, body: bytes, signature: str | bytes) -> httpx.Response:
    return httpx.post(
        f"{h.url}/pagerduty/webhook",
        content=body,
        headers={
            b"Content-Type": b"application/json",
            b"X-PagerDuty-Signature": signature
            if isinstance(signature, bytes)
            else signature.encode(),
        },
        timeout=30,
    )


def test_pagerduty_non_ascii_signature_and_malformed_signed_bodies(hostile: Hostile) -> None:
    assert pagerduty_post(hostile, b"{}", "v1=\u00e9\u00e9".encode()).status_code == 401
    secret = make_settings(pagerduty_webhook_secret=PAGERDUTY_SECRET).pagerduty_webhook_secret
    assert secret is not None
    for event in (
        {
            "event_type": "incident.acknowledged",
            "agent": "x",
            "data": {"type": "incident", "incident_key": "k1"},
        },
        {
            "event_type": "incident.resolved",
            "occurred_at": "9999-12-31T23:59:59-23:59",
            "data": {"type": "incident", "incident_key": "k2"},
        },
        {"event_type": "incident.resolved", "data": [1]},
    ):
        body = json.dumps({"event": event}).encode()
        r = pagerduty_post(hostile, body, pagerduty_signature(secret, body))
        assert r.status_code < 500, (event, r.status_code, r.text[:200])
    deep = b'{"event":' * 5000 + b"1" + b"}" * 5000
    r = pagerduty_post(hostile, deep, pagerduty_signature(secret, deep))
    assert r.status_code in (400, 413)


@pytest.mark.parametrize("path", ["/api/silences", "/api/alerts/ack"])
def test_deeply_nested_json_to_the_api_is_a_400(hostile: Hostile, path: str) -> None:
    for body in (b"[" * 50_000, b'{"a":' * 10_000 + b"1" + b"}" * 10_000, BIG.encode()):
        r = httpx.post(
            f"{hostile.url}{path}",
            content=body[:60_000],
            headers={**API, "Content-Type": "application/json"},
            timeout=30,
        )
        assert r.status_code == 400, (path, r.status_code, r.text[:200])


def test_silence_with_catastrophic_regex_is_refused(hostile: Hostile) -> None:
    silence = {
        "matchers": [{"name": "brand", "value": "(a+)+$", "isRegex": True}],
        "endsAt": "2099-01-01T00:00:00Z",
        "createdBy": "tester",
        "comment": "hostile",
    }
    r = httpx.post(f"{hostile.url}/api/silences", json=silence, headers=API, timeout=10)
    assert r.status_code == 400 and "unsafe regular expression" in r.text


# -- 5. readiness without racing itself ----------------------------------------------------------
def test_eight_concurrent_readyz_never_flap(hostile: Hostile) -> None:
    def ready(_: int) -> int:
        return httpx.get(f"{hostile.url}/readyz", timeout=10).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        for _round in range(4):
            assert list(pool.map(ready, range(8))) == [200] * 8
            time.sleep(5.5)  # past the probe's 5 s cache, so every round probes again
    assert "state folder problem" not in hostile.log()


# -- 6. log hygiene, audit amplification, 401 slow-down ------------------------------------------
def raw_request(h: Hostile, data: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", h.worker.web_port), timeout=10) as sock:
        sock.sendall(data)
        chunks = []
        while True:
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                break
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks)


def test_a_token_in_a_malformed_header_never_reaches_the_log_or_the_answer(
    hostile: Hostile,
) -> None:
    before = hostile.log()
    request = (
        f"GET /api/alerts HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {API_TOKEN}\x01\r\n\r\n"
    ).encode()
    answer = raw_request(hostile, request)
    assert answer.split(b" ", 2)[1] == b"400", answer[:200]
    assert API_TOKEN.encode() not in answer
    assert b"Server: tocsin" in answer
    for _ in range(40):  # a flood of malformed requests: a few lines, never a traceback each
        raw_request(hostile, b"GET / HTTP/1.1\r\nHost: x\r\nX-Bad: \x01\r\n\r\n")
    time.sleep(0.5)
    new = hostile.log()[len(before) :]
    assert API_TOKEN not in new
    assert "Traceback" not in new
    lines = [line for line in new.splitlines() if "malformed or failed HTTP request" in line]
    assert 1 <= len(lines) <= 10, lines


def test_refusals_are_audited_per_client_and_minute_and_401s_slowed(hostile: Hostile) -> None:
    time.sleep(max(0.0, 61 - time.time() % 60))  # a fresh minute: the ledger counts per minute
    audited = len(audit_entries(hostile.broker.bootstrap))
    before = metric_value(hostile.worker.metrics_text(), "tocsin_approval_refusals_total")
    took = []
    with httpx.Client(base_url=hostile.url, timeout=30) as c:
        for i in range(SLOW_AFTER + 6):
            started = time.monotonic()
            r = c.get("/approvals", headers={"Authorization": f"Bearer not-a-token-{i}"})
            took.append(time.monotonic() - started)
            assert r.status_code == 401
    after = metric_value(hostile.worker.metrics_text(), "tocsin_approval_refusals_total")
    assert after - before == SLOW_AFTER + 6  # every refusal counted
    slow = [(i, round(t, 2)) for i, t in enumerate(took) if t >= 0.25]
    assert [i for i, _t in slow] == list(range(SLOW_AFTER, SLOW_AFTER + 6)), slow  # later ones
    time.sleep(3)
    new = audit_entries(hostile.broker.bootstrap)[audited:]
    single = [e for e in new if e["reason"] == "bad_token"]
    assert len(single) == 10  # TOCSIN_REFUSALS_AUDITED_EACH, then one summary
    wait_for(
        lambda: [
            e
            for e in audit_entries(hostile.broker.bootstrap)[audited:]
            if e["reason"] == "refusals_summarised"
        ],
        timeout_s=100,
        what="the minute's summary audit record",
    )


# -- 7. headers, HEAD, /metrics ------------------------------------------------------------------
def test_security_headers_on_every_answer(hostile: Hostile) -> None:
    r = httpx.get(f"{hostile.url}/api/alerts", headers=API, timeout=10)
    assert r.status_code == 200
    assert r.headers["Server"] == "tocsin"
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["Cache-Control"] == "no-store"
    bad = httpx.post(f"{hostile.url}/api/mentions", content=b"x", timeout=10)
    assert bad.status_code == 401 and bad.headers["Server"] == "tocsin"
    assert bad.headers["Cache-Control"] == "no-store"
    missing = httpx.get(f"{hostile.url}/no/such/page", timeout=10)
    assert missing.status_code == 404 and missing.headers["Server"] == "tocsin"


def test_head_is_answered_like_get_without_a_body(hostile: Hostile) -> None:
    for path, headers in (("/healthz", {}), ("/api/alerts", API), ("/readyz", {})):
        head = httpx.head(f"{hostile.url}{path}", headers=headers, timeout=10)
        assert head.status_code == 200 and head.content == b"", (path, head.status_code)
    for method in ("GET", "HEAD"):  # a POST-only view: HEAD is not offered, and not answered
        refused = httpx.request(method, f"{hostile.url}/api/mentions", timeout=10)
        assert refused.status_code == 405
        assert "HEAD" not in refused.headers["Allow"] and "POST" in refused.headers["Allow"]


def test_metrics_need_the_token_and_openapi_is_served(hostile: Hostile) -> None:
    assert httpx.get(f"{hostile.url}/metrics", timeout=10).status_code == 401
    wrong = {"Authorization": "Bearer wrong-metrics-token"}
    assert httpx.get(f"{hostile.url}/metrics", headers=wrong, timeout=10).status_code == 401
    assert "tocsin_agent_messages_in_total" in hostile.worker.metrics_text()
    doc = httpx.get(f"{hostile.url}/openapi.json", timeout=10)
    assert doc.status_code == 200 and doc.json()["openapi"].startswith("3.1")


# -- the API fuzz, then the secrets scan ---------------------------------------------------------
FUZZ_EXAMPLES = 30  # per operation: about 570 requests, two minutes on two busy cores
FUZZ_TIMEOUT_S = 15.0  # per request: a slower answer fails the test (httpx raises)
FUZZ_BUDGET_S = 300.0  # the whole fuzz; about 50 s on an idle two-core machine


def test_api_fuzz_from_openapi_no_5xx_and_no_secret_leaks(hostile: Hostile) -> None:
    doc = openapi.document()
    secrets = Secrets(
        bearer={
            "apiToken": API_TOKEN,
            "ingestToken": INGEST_TOKEN,
            "metricsToken": METRICS_TOKEN,
            "userToken": PEOPLE["e.lindqvist"][0],
        },
        slack_signing=SIGNING_SECRET,
        pagerduty=PAGERDUTY_SECRET,
        vendors=VENDORS,
    )
    # an alert on the way, so the worker also talks to the outside (Slack) during the fuzz
    from tests.e2e.approvals_harness import alert_payload, produce_json

    alert = alert_payload("brenmoor", "scandal", "critical", 5)
    produce_json(hostile.broker.bootstrap, "alerts", alert["dedup_key"], alert)

    statuses: dict[str, dict[int, int]] = {}
    server_errors: list[str] = []
    started = time.monotonic()
    client = httpx.Client(base_url=hostile.url, timeout=FUZZ_TIMEOUT_S)
    try:
        for op in operations(doc):
            seen = statuses.setdefault(f"{op.method} {op.path}", {})

            def checker(seen: dict[int, int]) -> Callable[[Drawn], None]:
                def check(drawn: Drawn) -> None:
                    r = client.request(
                        drawn.operation.method,
                        drawn.url_path,
                        params=drawn.query,
                        headers=drawn.raw_headers(),
                        content=drawn.body,
                    )
                    seen[r.status_code] = seen.get(r.status_code, 0) + 1
                    if r.status_code >= 500 and drawn.operation.path != "/readyz":
                        server_errors.append(
                            f"{drawn.operation.method} {drawn.url_path} -> {r.status_code} "
                            f"{r.text[:200]}"
                        )

                return check

            one = settings(
                max_examples=FUZZ_EXAMPLES,
                deadline=None,
                database=None,
                derandomize=True,
                suppress_health_check=list(HealthCheck),
                phases=[Phase.generate],  # no shrinking against a live worker
            )(given(drawn=requests(doc, op, secrets))(checker(seen)))
            one()
    finally:
        client.close()
    fuzz_s = time.monotonic() - started
    assert fuzz_s < FUZZ_BUDGET_S, f"the fuzz took {fuzz_s:.0f} s"
    total = sum(sum(v.values()) for v in statuses.values())
    print(
        f"API fuzz: {total} requests over {len(statuses)} operations in "
        f"{time.monotonic() - started:.0f} s; statuses {statuses}"
    )
    assert not server_errors, server_errors[:5]
    assert total >= FUZZ_EXAMPLES * len(statuses) * 0.8  # every operation was tried in earnest
    alive(hostile)
    assert httpx.get(f"{hostile.url}/readyz", timeout=10).status_code == 200

    # nothing configured as a secret shows up in the worker's log or in any outbound request,
    # except each destination's own credential where it belongs (the bot token in Slack's
    # Authorization header, the webhook token in its own URL path)
    wait_for(
        lambda: hostile.slack_hook.requests and hostile.webhook.requests,
        timeout_s=60,
        what="the alert delivered to the Slack webhook and the generic webhook",
    )
    log = hostile.log()
    own = {id(hostile.slack_hook): SLACK_HOOK_TOKEN}
    outbound = [
        (fake, seen_req)
        for fake in (hostile.slack, hostile.publisher, hostile.slack_hook, hostile.webhook)
        for seen_req in fake.requests
    ]
    for secret in SECRETS:
        assert secret not in log, "a secret is in the worker's log"
        for fake, seen_req in outbound:
            path = "" if own.get(id(fake)) == secret else seen_req.path
            where = path + json.dumps(seen_req.query) + seen_req.body.decode("latin-1")
            assert secret not in where, f"a secret in an outbound request to {type(fake).__name__}"
            others = {k: v for k, v in seen_req.headers.items() if k != "authorization"}
            assert secret not in json.dumps(others)
    print(
        f"secrets scan: {len(SECRETS)} secrets, {len(log)} log bytes, "
        f"{len(outbound)} outbound requests: none found"
    )


# -- 5b. a frozen broker (last: it stops the broker for a while) ---------------------------------
def test_readyz_turns_false_while_the_broker_is_frozen(hostile: Hostile) -> None:
    pid = int((hostile.broker.data_dir / "kafka.pid").read_text().strip())
    os.kill(pid, signal.SIGSTOP)
    try:
        started = time.monotonic()
        status = wait_for(
            lambda: (r := httpx.get(f"{hostile.url}/readyz", timeout=10)).status_code == 503 and r,
            timeout_s=30,
            what="/readyz 503 with the broker frozen",
        )
        took = time.monotonic() - started
        assert status.json()["checks"]["broker"] is False
        print(f"readyz false {took:.0f} s after the broker froze")
    finally:
        os.kill(pid, signal.SIGCONT)
    wait_for(
        lambda: httpx.get(f"{hostile.url}/readyz", timeout=10).status_code == 200,
        timeout_s=60,
        what="/readyz 200 again after the broker thawed",
    )
