"""The worker attacked through its doors the way an outside tester would (docs/operations.md,
"Attack surface"), on one live worker and broker for the module.

What ``test_hostile_http.py`` already tries (Faust's views, deep and huge JSON, signed-but-odd
Slack and PagerDuty bodies, the OpenAPI fuzz) is not repeated. Here: garbage produced straight
to every topic an agent reads besides ``mentions.raw`` (each record on ``mentions.dlq`` with a
reason, no agent crashing, good records still flowing); a malformed silence on
``alerts.silences`` (paging must go on); credentials and
form bodies that are not UTF-8 (a 4xx, never a 500); the sign-in's ``next=`` with CR/LF and dot
segments; and the worker's log searched for every secret it was given. A silence already stored
malformed (in the table's changelog before the agent checked) is the unit tests' case
(``tests/unit/oncall/test_attack_inputs.py``): a single worker never re-reads its own changelog.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, get_type_hints
from urllib.parse import quote

import faust
import httpx
import pytest
from kafka import KafkaProducer

from pipeline import records
from pipeline.approvals.audit import Origin, make_entry
from pipeline.approvals.flow import audit_record
from pipeline.ops.demo import metric_value
from pipeline.ops.procs import Broker, Worker, free_port
from pipeline.ops.topics import ensure_topics
from pipeline.topology import CHECKED_TOPICS
from tests.bad_mentions import dumps, good
from tests.e2e.approvals_harness import (
    BOT_TOKEN,
    LINK_SECRET,
    PEOPLE,
    PUBLISH_SECRET,
    SIGNING_SECRET,
    alert_payload,
    csrf_of,
    hidden,
    read_topic,
    tokens_env,
    wait_for,
    worker_env,
)
from tests.fakes_http import SlackApiFake, WebhookFake
from tests.fakes_publish import PublishWebhookFake
from tests.integration.conftest import produce

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

API_TOKEN = "attack-api-token-0a1b2c3d4e"
INGEST_TOKEN = "attack-ingest-token-5f6a7b8c"
METRICS_TOKEN = "attack-metrics-token-9d0e1f2a"
WEBHOOK_SECRET = "attack-webhook-hmac-secret-3b4c"
PSEUDONYM_KEY = "attack-pseudonym-key-5d6e7f8a9b"
SAFETY_TOKEN = "tok-safety-marchetti-attack07"  # l.marchetti, the users file's safety officer
SECRETS = (
    API_TOKEN,
    INGEST_TOKEN,
    METRICS_TOKEN,
    WEBHOOK_SECRET,
    PSEUDONYM_KEY,
    LINK_SECRET,
    SIGNING_SECRET,
    BOT_TOKEN,
    PUBLISH_SECRET,
    SAFETY_TOKEN,
    *(tok for tok, _slack in PEOPLE.values()),
)
API = {"Authorization": f"Bearer {API_TOKEN}"}
READ_TIMEOUT_S = 3  # the worker's wait for a request's body (30 s by default)
DATE = "2026-12-07T10:00:00+00:00"


@dataclass
class Target:
    broker: Broker
    worker: Worker
    webhook: WebhookFake

    @property
    def url(self) -> str:
        return self.worker.url

    def log(self) -> str:
        assert self.worker.log_path is not None
        return self.worker.log_path.read_text(errors="replace")

    def metrics(self) -> str:
        return self.worker.metrics_text()


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory, model_dir: Path) -> Iterator[Target]:
    tmp = tmp_path_factory.mktemp("attack")
    broker = Broker(port=free_port(), data_dir=tmp / "kafka")
    broker.start()
    try:
        ensure_topics(broker.bootstrap)
        with (
            SlackApiFake(BOT_TOKEN) as slack,
            PublishWebhookFake(PUBLISH_SECRET) as publisher,
            WebhookFake(WEBHOOK_SECRET.encode()) as webhook,
        ):
            port = free_port()
            env = {
                **worker_env(model_dir, tmp, slack, publisher, port),
                "TOCSIN_API_TOKEN": API_TOKEN,
                "TOCSIN_INGEST_TOKENS": f"attacker:{INGEST_TOKEN}",
                "TOCSIN_METRICS_TOKEN": METRICS_TOKEN,
                "TOCSIN_PSEUDONYM_KEY": PSEUDONYM_KEY,
                "TOCSIN_WEBHOOK_URL": f"{webhook.base_url}{WebhookFake.PATH}",
                "TOCSIN_WEBHOOK_SECRET": WEBHOOK_SECRET,
                "TOCSIN_AUTH_SLOW_AFTER": "1000",
                "TOCSIN_USER_TOKENS": f"{tokens_env()},l.marchetti:{SAFETY_TOKEN}",
                "TOCSIN_INGEST_READ_TIMEOUT_S": str(READ_TIMEOUT_S),
                "TOCSIN_REFUSALS_AUDITED_EACH": "1000",  # every refusal logged on its own line
            }
            worker = Worker(
                bootstrap=broker.bootstrap, data_dir=tmp / "worker", web_port=port, env=env
            )
            worker.start(loglevel="info")
            try:
                worker.wait_ready(timeout_s=180)
                yield Target(broker, worker, webhook)
            finally:
                worker.stop()
    finally:
        broker.stop()


def alive(t: Target) -> None:
    assert t.worker.proc is not None and t.worker.proc.poll() is None, "the worker died"
    assert httpx.get(f"{t.url}/healthz", timeout=5).status_code == 200
    log = t.log()
    assert "Crashed" not in log and "Restarting dead" not in log, "an agent crashed"


def letters_from(t: Target, topic: str) -> list[dict[str, Any]]:
    return [d for d in read_topic(t.broker.bootstrap, "mentions.dlq") if d["source_topic"] == topic]


# -- 1. garbage on every topic an agent reads ---------------------------------------------------
#: Bytes no record decodes from, and JSON objects Faust builds a record from whose field types are
#: wrong (a list where a key is a string: the agent crashed on it as an unhashable key).
UNDECODABLE = [b"\xff\xfe\x00garbage", b'{"truncated": ', b"[]", b"null", b'{"a": NaN}']
WRONG_TYPES: dict[str, dict[str, Any]] = {
    "mentions.classified": {
        "mention": {
            "id": "m",
            "platform": "x",
            "text": "t",
            "created_at": DATE,
            "brand": "brenmoor",
            "author": {"id": "a", "followers": "many"},
            "brands": ["brenmoor"],
        },
        "topics": ["pricing"],
        "scores": {"pricing": 0.9},
        "stance": "critical",
        "lang": "en",
        "model_version": "v",
    },
    "alerts": {**alert_payload("brenmoor", "scandal", "critical", 1), "dedup_key": ["x"]},
    "alerts.acks": {
        "dedup_key": [API_TOKEN],
        "action": "acknowledge",
        "by": "x",
        "via": "api",
        "at": DATE,
    },
    "alerts.silences": {"id": ["x"], "action": "expire", "at": DATE},
    "alerts.groups": {"group": ["g"], "action": "flush", "at": DATE},
    "responses.decisions": {
        "event_id": "e",
        "draft_id": ["d"],
        "at": DATE,
        "actor": {},
        "event": {},
    },
    "responses.approved": {
        "draft_id": ["d"],
        "alert_key": "k",
        "text": "t",
        "text_hash": "h",
        "approved_at": DATE,
        "approvers": ["a"],
    },
    "responses.audit": {"draft_id": ["d"], "at": DATE, "outcome": "ok", "entry": {}},
    "pv.cases": {"case_id": ["c"], "kind": "note", "at": DATE, "by": "x", "text": "t"},
    "privacy.erasures": {
        "erasure_id": "e",
        "table": "acks",
        "key": ["k"],
        "ids": ["a"],
        "at": DATE,
    },
}


RECORDS: dict[str, type[faust.Record]] = {
    "mentions.classified": records.ClassifiedMention,
    "alerts": records.Alert,
    "alerts.acks": records.AckCommand,
    "alerts.silences": records.SilenceCommand,
    "alerts.groups": records.GroupCommand,
    "responses.decisions": records.DecisionRecord,
    "responses.approved": records.ApprovedRecord,
    "responses.audit": records.AuditRecord,
    "pv.cases": records.CaseEvent,
    "privacy.erasures": records.ErasureCommand,
}


def every_field_a_list(topic: str) -> bytes:
    """Each field of the topic's record a list (dates left valid, so Faust builds the record; a
    nested record built from a list raised inside the consumer's loop and stopped the worker)."""
    hints = get_type_hints(RECORDS[topic])
    record_fields = RECORDS[topic]._options.fields
    value = {f: DATE if "datetime" in str(hints[f]) else ["x"] for f in record_fields}
    return json.dumps(value).encode()


def test_garbage_on_every_topic_an_agent_reads_is_dead_lettered_and_no_agent_crashes(
    target: Target,
) -> None:
    assert set(WRONG_TYPES) == set(RECORDS) == set(CHECKED_TOPICS), "a topic is not attacked"
    for topic in CHECKED_TOPICS:
        payloads = [
            *UNDECODABLE,
            json.dumps(WRONG_TYPES[topic]).encode(),
            every_field_a_list(topic),
        ]
        produce(target.broker.bootstrap, topic, payloads, [b"attack"] * len(payloads))

    def all_lettered() -> dict[str, list[dict[str, Any]]] | None:
        found = {topic: letters_from(target, topic) for topic in CHECKED_TOPICS}
        return found if all(len(v) >= len(UNDECODABLE) + 2 for v in found.values()) else None

    letters = wait_for(all_lettered, timeout_s=120, what="a dead letter for every bad record")
    for topic, got in letters.items():
        got.sort(key=lambda d: d["offset"])
        assert [d["offset"] for d in got] == list(range(len(UNDECODABLE) + 2)), topic
        reasons = [d["reason"] for d in got]
        assert reasons == ["undecodable"] * len(UNDECODABLE) + ["malformed_record"] * 2, topic
        assert "expected str, got list" in got[-2]["detail"] or "expected int" in got[-2]["detail"]
        assert got[0]["payload_encoding"] == "base64"  # the invalid UTF-8 kept whole
    metrics = target.metrics()
    for topic in CHECKED_TOPICS:
        count = metric_value(metrics, "tocsin_internal_dead_letters_total", topic=topic)
        assert count == len(UNDECODABLE) + 2, (topic, count)
    alive(target)


def test_a_good_mention_and_a_good_silence_still_flow_after_the_garbage(target: Target) -> None:
    before = metric_value(target.metrics(), "tocsin_mentions_classified_total")
    mention = dumps({**good(1), "id": "attack:after", "created_at": "2026-11-20T08:16:00Z"})
    produce(target.broker.bootstrap, "mentions.raw", [mention])
    wait_for(
        lambda: metric_value(target.metrics(), "tocsin_mentions_classified_total") > before,
        timeout_s=120,
        what="the good mention classified",
    )
    ends = datetime.now(UTC) + timedelta(days=1)
    body = {
        "matchers": [{"name": "brand", "value": "valmoreau"}],
        "endsAt": ends.isoformat(),
        "createdBy": "attack",
        "comment": "after the garbage",
    }
    made = httpx.post(f"{target.url}/api/silences", json=body, headers=API, timeout=10)
    assert made.status_code == 202, made.text
    sid = made.json()["silenceID"]

    def listed() -> bool:
        r = httpx.get(f"{target.url}/api/silences", headers=API, timeout=10)
        assert r.status_code == 200, r.text
        return any(s["id"] == sid for s in r.json()["silences"])

    wait_for(listed, timeout_s=60, what="the good silence listed")
    alive(target)


def test_well_typed_but_meaningless_commands_are_refused_and_no_agent_crashes(
    target: Target,
) -> None:
    """Right types, wrong content: each crashed its agent before (restart, record lost)."""
    alert = alert_payload("brenmoor", "pricing", "warning", 9)
    bad_group = {
        "group": "route|brand=brenmoor",
        "action": "add",
        "at": DATE,
        "key": ["route", [["brand", "brenmoor"]]],
        "alert": alert,
        "receivers": ["webhook"],
        "grouping": {"group_by": ["brand"]},  # no timers: KeyError in the agent
    }
    decision = {
        "event_id": "e-x",
        "draft_id": "d-x",
        "at": DATE,
        "actor": {},
        "event": {"type": "x"},
    }
    bare_open = {"case_id": "case-x", "kind": "open", "at": DATE, "by": "attacker"}
    produce(target.broker.bootstrap, "alerts.groups", [json.dumps(bad_group).encode()], [b"g"])
    produce(target.broker.bootstrap, "responses.decisions", [json.dumps(decision).encode()], [b"d"])
    produce(target.broker.bootstrap, "pv.cases", [json.dumps(bare_open).encode()], [b"case-x"])
    tombstone = KafkaProducer(bootstrap_servers=target.broker.bootstrap, acks="all")
    try:  # a record with no value at all (a delete marker): Faust threw it into the agent too
        tombstone.send("alerts.acks", key=b"tombstone", value=None)
        tombstone.flush(timeout=30)
    finally:
        tombstone.close(timeout=10)

    def reasons() -> set[str] | None:
        found = {
            d["reason"]
            for topic in ("alerts.groups", "responses.decisions")
            for d in letters_from(target, topic)
            if d["reason"].startswith("invalid_")
        }
        return found if len(found) == 2 else None

    found = wait_for(reasons, timeout_s=60, what="the group command and the decision dead-lettered")
    assert found == {"invalid_group_command", "invalid_decision"}
    wait_for(
        lambda: [
            d
            for d in letters_from(target, "alerts.acks")
            if d["payload"] == "" and d["reason"] == "undecodable"
        ],
        timeout_s=60,
        what="the tombstone on mentions.dlq",
    )
    wait_for(
        lambda: "case event refused (open case-x): an open event without a case" in target.log(),
        timeout_s=60,
        what="the bare case event refused",
    )
    alive(target)


# -- 2. a malformed silence must not stop paging -------------------------------------------------
def silence_command(sid: str, silence: Any) -> bytes:
    return json.dumps({"id": sid, "action": "create", "at": DATE, "silence": silence}).encode()


def test_a_malformed_silence_is_refused_and_paging_goes_on(target: Target) -> None:
    ok = {
        "id": "s-bad-regex",
        "matchers": [{"name": "brand", "value": "(a+)+$", "isRegex": True, "isEqual": True}],
        "startsAt": DATE,
        "endsAt": "2099-01-01T00:00:00+00:00",
        "createdBy": "attacker",
        "comment": "catastrophic regex straight onto the topic",
    }
    bad = [
        silence_command("s-no-id", {"x": 1}),  # was stored, and every alert step then crashed
        silence_command("s-bad-regex", ok),
        silence_command(
            "s-other-id", {**ok, "id": "s-elsewhere", "matchers": [{"name": "brand", "value": "x"}]}
        ),
        silence_command("s-not-a-dict", "brand=x"),
    ]
    produce(target.broker.bootstrap, "alerts.silences", bad, [b"attack"] * len(bad))
    expected = {
        "s-no-id": "invalid_silence",
        "s-bad-regex": "invalid_silence",
        "s-other-id": "invalid_silence",
        "s-not-a-dict": "malformed_record",  # the record's silence field is not an object
    }

    def lettered() -> dict[str, str] | None:
        found = {
            sid: d["reason"]
            for d in letters_from(target, "alerts.silences")
            for sid in expected
            if f'"id": "{sid}"' in d["payload"]
        }
        return found if len(found) == len(expected) else None

    assert wait_for(lettered, timeout_s=60, what="every malformed silence on mentions.dlq") == (
        expected
    )
    listing = httpx.get(f"{target.url}/api/silences", headers=API, timeout=10)
    assert listing.status_code == 200, listing.text
    assert not any(s["id"].startswith("s-") for s in listing.json()["silences"])

    alert = alert_payload("brenmoor", "scandal", "critical", 7)
    produce(
        target.broker.bootstrap,
        "alerts",
        [json.dumps(alert).encode()],
        [alert["dedup_key"].encode()],
    )
    wait_for(
        lambda: any(
            a.get("dedup_key") == alert["dedup_key"] for a in target.webhook.accepted.values()
        ),
        timeout_s=90,
        what="the alert delivered to the webhook despite the poisoned silences",
    )
    alive(target)


# -- 3. credentials and forms that are not UTF-8 -------------------------------------------------
def raw_request(t: Target, head: bytes, body: bytes = b"") -> bytes:
    port = int(t.url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(head + b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(body) + body)
        out = b""
        while chunk := sock.recv(65536):
            out += chunk
    return out


DOORS = [
    (b"GET", b"/api/alerts"),
    (b"POST", b"/api/alerts/ack"),
    (b"POST", b"/api/silences"),
    (b"POST", b"/api/mentions"),
    (b"POST", b"/api/ingest/brandwatch"),
    (b"GET", b"/metrics"),
    (b"GET", b"/approvals"),
    (b"GET", b"/console"),
    (b"GET", b"/console/inbox.json"),
    (b"POST", b"/console/alerts/k/ack"),
    (b"GET", b"/safety"),
    (b"POST", b"/safety/cases/c/note"),
]


@pytest.mark.parametrize(
    "header", [b"Authorization: Bearer \xff\xfe", b"Cookie: tocsin_session=\xff.\xfe.\xfd.\xfc"]
)
def test_credentials_that_are_not_utf8_are_a_400_on_every_door(
    target: Target, header: bytes
) -> None:
    for method, path in DOORS:
        answer = raw_request(
            target, method + b" " + path + b" HTTP/1.1\r\nHost: x\r\n" + header + b"\r\n"
        )
        status = answer.split(b"\r\n", 1)[0]
        assert status == b"HTTP/1.1 400 Bad Request", (path, status, answer[-200:])
        assert b"Traceback" not in answer
    alive(target)


def test_another_sites_cookie_that_is_not_utf8_is_left_alone(target: Target) -> None:
    """Cookies are per host, not per port: a loopback neighbour's cookie must not lock us out."""
    auth = f"Authorization: Bearer {API_TOKEN}\r\n".encode()
    answer = raw_request(
        target, b"GET /api/alerts HTTP/1.1\r\nHost: x\r\n" + auth + b"Cookie: other=\xff\xfe\r\n"
    )
    assert answer.split(b"\r\n", 1)[0] == b"HTTP/1.1 200 OK", answer[-200:]


def test_form_bodies_that_are_not_utf8_are_refused_not_a_500(target: Target) -> None:
    responder = f"Authorization: Bearer {PEOPLE['c.moreau'][0]}\r\n".encode()
    form = b"Content-Type: application/x-www-form-urlencoded\r\n"
    for path, auth in [
        (b"/approvals/login", b""),
        (b"/approvals/d-1/decide", responder),
        (b"/console/alerts/k/ack", responder),
        (b"/console/alerts/k/silence", responder),
        (b"/safety/cases/c/move", f"Authorization: Bearer {SAFETY_TOKEN}\r\n".encode()),
    ]:
        answer = raw_request(
            target,
            b"POST " + path + b" HTTP/1.1\r\nHost: x\r\n" + auth + form,
            b"csrf=\xff\xfe&action=\xfd",
        )
        status = int(answer.split(b" ", 2)[1])
        assert 400 <= status < 500, (path, answer[:300])
    assert "failed: UnicodeDecodeError" not in target.log()
    alive(target)


#: Every door that reads a body, with what gets it past authentication to the read.
BODY_DOORS = [
    ("/api/mentions", f"Bearer {INGEST_TOKEN}", "application/x-ndjson"),
    ("/api/silences", f"Bearer {API_TOKEN}", "application/json"),
    ("/api/alerts/ack", f"Bearer {API_TOKEN}", "application/json"),
    ("/slack/actions", "", "application/x-www-form-urlencoded"),
    ("/pagerduty/webhook", "", "application/json"),
    ("/approvals/login", "", "application/x-www-form-urlencoded"),
    (
        "/approvals/d-1/decide",
        f"Bearer {PEOPLE['c.moreau'][0]}",
        "application/x-www-form-urlencoded",
    ),
    (
        "/console/alerts/k/ack",
        f"Bearer {PEOPLE['c.moreau'][0]}",
        "application/x-www-form-urlencoded",
    ),
    (
        "/console/alerts/k/draft",
        f"Bearer {PEOPLE['c.moreau'][0]}",
        "application/x-www-form-urlencoded",
    ),
    ("/safety/cases/c/note", f"Bearer {SAFETY_TOKEN}", "application/x-www-form-urlencoded"),
]


def post_all(url: str, body: bytes, **headers: str) -> list[tuple[str, httpx.Response]]:
    """The same body to every door of :data:`BODY_DOORS` at once (each on its own connection)."""

    def one(door: tuple[str, str, str]) -> httpx.Response:
        path, auth, kind = door
        sent = {"Content-Type": kind, **headers, **({"Authorization": auth} if auth else {})}
        return httpx.post(f"{url}{path}", content=body, headers=sent, timeout=30)

    with ThreadPoolExecutor(len(BODY_DOORS)) as pool:
        answers = list(pool.map(one, BODY_DOORS))
    return [(path, r) for (path, _, _), r in zip(BODY_DOORS, answers, strict=True)]


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
def test_a_body_that_is_not_its_content_encoding_is_a_400_on_every_door(
    target: Target, encoding: str
) -> None:
    """aiohttp inflates gzip/deflate bodies as they are read; bytes that do not inflate answered
    a 500 on every door that reads a body."""
    for path, r in post_all(target.url, b"not compressed at all", **{"Content-Encoding": encoding}):
        assert r.status_code == 400, (path, r.status_code, r.text[:200])
        assert r.json()["error"]["code"] == "bad_body", (path, r.text[:200])
    alive(target)


def test_a_body_that_never_ends_is_a_408_on_every_door(target: Target) -> None:
    """A raw deflate stream with no end (aiohttp waits for the rest) and a body shorter than its
    Content-Length held the API, Slack, PagerDuty and form doors open for ever: no read limit."""
    endless = b"csrf=x&not=compressed"  # inflates as raw deflate, never reaching its end block
    started = time.monotonic()
    for path, r in post_all(target.url, endless, **{"Content-Encoding": "deflate"}):
        # aiohttp either waits for the stream's end (408 at the limit) or sees it broken (400)
        assert r.status_code in (400, 408), (path, r.status_code, r.text[:200])
    port = int(target.url.rsplit(":", 1)[1])

    def half_a_body(door: bytes) -> bytes:
        with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
            sock.sendall(b"POST " + door + b" HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nab")
            return sock.recv(65536).split(b"\r\n", 1)[0]

    doors = [b"/slack/actions", b"/pagerduty/webhook", b"/api/silences", b"/approvals/login"]
    with ThreadPoolExecutor(len(doors)) as pool:
        for door, status in zip(doors, pool.map(half_a_body, doors), strict=True):
            assert status == b"HTTP/1.1 408 Request Timeout", (door, status)
    assert time.monotonic() - started < 2 * READ_TIMEOUT_S + 10
    alive(target)


# -- 3b. roles ------------------------------------------------------------------------------------
def test_the_safety_queue_and_its_audit_trail_are_for_the_safety_role_only(target: Target) -> None:
    """The safety pages refuse every other role; the audit log keys a case's entries by its id,
    and ``/approvals/{id}/audit`` (open to every signed-in reader) served them: who opened,
    moved and annotated which case, to a viewer. It serves only drafts' trails now."""
    case = "case-attack0000000001"
    entry = make_entry(
        at=datetime.now(UTC),
        actor="l.marchetti",
        action="pv_case_move",
        draft_id=case,
        origin=Origin("web", "127.0.0.1"),
        detail="possible -> valid",
    )
    produce(
        target.broker.bootstrap, "responses.audit", [audit_record(entry).dumps()], [case.encode()]
    )
    safety = {"Authorization": f"Bearer {SAFETY_TOKEN}"}
    with httpx.Client(base_url=target.url, follow_redirects=False, timeout=30) as client:
        assert client.get("/safety", headers=safety).status_code == 200  # audited under "-"
        for person in (
            "h.dubois",
            "c.moreau",
            "s.naidoo" if "s.naidoo" in PEOPLE else "a.fontaine",
        ):
            other = {"Authorization": f"Bearer {PEOPLE[person][0]}"}
            for path in ("/safety", f"/safety/cases/{case}"):
                assert client.get(path, headers=other).status_code == 403, (person, path)
        viewer = {"Authorization": f"Bearer {PEOPLE['h.dubois'][0]}"}
        until = time.monotonic() + 8  # the audit table applies the entries within a second or two
        while time.monotonic() < until:
            for trail in (case, "-"):
                r = client.get(f"/approvals/{trail}/audit", headers=viewer)
                assert r.status_code == 404, (trail, r.status_code)
                assert "l.marchetti" not in r.text and "pv case" not in r.text, trail
            time.sleep(1)
    alive(target)


def test_the_api_token_is_no_clearance_for_health_data(target: Target) -> None:
    """``GET /api/alerts`` gave an adverse-event alert's evidence whole (its top mentions and
    tipping mention, a patient's words) to any holder of the API token; Slack, e-mail and the
    console's uncleared readers get it withheld."""
    words = "my liver gave out two weeks after starting Glytera"
    alert = alert_payload("brenmoor", "adverse_event", "critical", 40)
    alert["dedup_key"] = "brenmoor:adverse_event:attack-api"
    alert["top_mentions"] = [{"text": words, "url": "https://x.example/ae/1", "platform": "x"}]
    alert["tipping_mention"] = {"text": words, "url": "https://x.example/ae/1", "id": "ae1"}
    produce(target.broker.bootstrap, "alerts", [json.dumps(alert).encode()], [b"attack-api"])

    def listed() -> dict[str, Any] | None:
        found = httpx.get(f"{target.url}/api/alerts", headers=API, timeout=10).json()["alerts"]
        return next((a for a in found if a["dedup_key"] == alert["dedup_key"]), None)

    shown = wait_for(listed, timeout_s=60, what="the adverse-event alert on /api/alerts")
    assert words not in json.dumps(shown), shown
    assert shown["top_mentions"][0]["url"] == "https://x.example/ae/1"  # the link stays
    assert shown["tipping_mention"]["id"] == "ae1"


# -- 4. where a sign-in returns to ---------------------------------------------------------------
@pytest.mark.parametrize(
    ("nxt", "location"),
    [
        ("/console/alerts/k?done=1", "/console/alerts/k?done=1"),
        ("/console/\r\nSet-Cookie: tocsin_session=forged", "/approvals"),
        ("/approvals/../evil", "/approvals"),
        ("/approvals/%2e%2e//evil.example", "/approvals"),
        ("//evil.example/approvals", "/approvals"),
    ],
)
def test_sign_in_returns_only_to_the_signed_in_pages(
    target: Target, nxt: str, location: str
) -> None:
    with httpx.Client(base_url=target.url, follow_redirects=False, timeout=30) as client:
        page = client.get("/approvals/login", params={"next": nxt})
        assert page.status_code == 200
        token = PEOPLE["h.dubois"][0]
        form = {"csrf": csrf_of(page.text), "token": token, "next": nxt}
        assert hidden(page.text, "next") == location  # the page offers only where it may go
        r = client.post("/approvals/login", data=form)
        assert r.status_code == 303, r.text[:200]
        assert r.headers["location"] == location
        assert "set-cookie" in r.headers and "forged" not in r.headers["set-cookie"]


# -- 5. log lines --------------------------------------------------------------------------------
def test_a_refused_request_cannot_forge_a_log_line(target: Target) -> None:
    """The draft id (from the URL) and the action (from the form) are logged with a refusal."""
    fake = "[2026-12-07 10:00:00,000] [1] [INFO] approved FORGED-DRAFT by e.lindqvist"
    r = httpx.post(
        f"{target.url}/approvals/d%0a{quote(fake, safe='')}/decide",
        content=f"csrf=forged&action=approve%0d%0a{quote(fake, safe='')}".encode(),
        headers={
            "Authorization": f"Bearer {PEOPLE['h.dubois'][0]}",
            "Content-Type": "application/x-www-form-urlencoded",
        },
        timeout=30,
    )
    assert r.status_code == 403, r.text[:200]
    lines = wait_for(
        lambda: [ln for ln in target.log().splitlines() if "FORGED-DRAFT" in ln],
        timeout_s=30,
        what="the refusal logged",
    )
    assert all(not ln.startswith("[2026-12-07 10:00:00,000]") for ln in lines), lines
    assert any("\\x0a" in ln for ln in lines), lines


# -- 6. secrets ----------------------------------------------------------------------------------
def test_no_secret_reaches_the_log(target: Target) -> None:
    """Last: after every attack above (one of them put the API token inside a bad record)."""
    time.sleep(1)
    log = target.log()
    leaked = [s[:6] + "..." for s in SECRETS if s in log]
    assert not leaked, f"secrets in the worker log: {leaked}"
    alive(target)
