"""Issue 22 without a worker: every door refuses hostile input with a reason, never an exception.

The same findings as ``tests/integration/test_hostile_http.py``, at the function that failed:
the decoder on a 5,000-digit integer, the HTTP door on a far-future date and on that integer in a
batch, Slack and PagerDuty verification and parsing on overflowing, non-ASCII, deeply nested and
oddly shaped (but signed) bodies, silences on catastrophic regexes, the state-folder probe under
concurrent readiness checks, and the pieces that bound what a flood of refusals costs.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import SecretStr

from pipeline import safejson
from pipeline.approvals import slack_verify
from pipeline.approvals.errors import ApprovalRefused, SignatureRefused
from pipeline.approvals.slack import claimed_user, parse_interaction
from pipeline.errors import InvalidMention
from pipeline.ingest.decoding import decode_raw
from pipeline.metrics import get_metrics
from pipeline.oncall import regex_guard
from pipeline.oncall.acks import (
    AckRejected,
    pagerduty_signature,
    parse_pagerduty_event,
    parse_slack_action,
    verify_pagerduty,
)
from pipeline.oncall.silences import SilenceError, parse_silence
from pipeline.refusals import RefusalLedger
from pipeline.worker import statedir
from pipeline.worker.broker_probe import BrokerProbe
from tests.unit.ingest.test_ingest_http import FakeSink, chunks_of, make_gate, mention, ndjson, post

BIG = "1" + "0" * 5000
LIMITS: dict[str, Any] = {"max_bytes": 64 * 1024, "max_text_chars": 2000}
SECRET = SecretStr("unit-signing-secret-0123")
NOW = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)


# -- 2. decoding can only refuse -----------------------------------------------------------------
def test_a_5000_digit_integer_is_invalid_json_not_a_value_error() -> None:
    payload = json.dumps(mention(1))[:-1].encode() + b', "n": ' + BIG.encode() + b"}"
    with pytest.raises(InvalidMention) as info:
        decode_raw(payload, **LIMITS)
    assert info.value.reason == "invalid_json"


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.binary(max_size=300),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
            lambda c: (
                st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=10), c, max_size=4)
            ),
            max_leaves=20,
        ).map(lambda v: json.dumps(v).encode()),
        st.sampled_from(
            [b"[" * 100_000, BIG.encode(), b'{"created_at": "9999-12-31T23:59-23:59"}']
        ),
    )
)
def test_decode_raw_raises_nothing_but_invalid_mention(payload: bytes) -> None:
    with contextlib.suppress(InvalidMention):
        decode_raw(payload, max_bytes=1 << 20, max_text_chars=2000, not_after=NOW)


async def test_http_batch_with_a_huge_integer_accepts_the_good_lines() -> None:
    sink, metrics = FakeSink(), get_metrics()
    lines: list[Any] = [mention(i) for i in range(99)]
    lines.insert(50, b'{"id": "bad", "n": ' + BIG.encode() + b"}")
    reply = await post(make_gate(ingest_max_lines=500), ndjson(*lines), sink=sink, metrics=metrics)
    assert reply.status == 207
    assert (reply.body["accepted"], reply.body["rejected"]) == (99, 1)
    assert reply.body["results"][50]["reason"] == "invalid_json"
    assert len(sink.raw) == 99 and [d[1] for d in sink.dead] == ["invalid_json"]


# -- 3. HTTP refuses what the agent would dead-letter --------------------------------------------
async def test_http_refuses_a_mention_from_the_year_9999() -> None:
    far = {**mention(1), "created_at": "9999-01-01T00:00:00Z"}
    reply = await post(make_gate(), json.dumps(far).encode(), ctype="application/json")
    assert reply.status == 422
    assert reply.body["results"][0]["reason"] == "invalid_value"


# -- 4. vendor pushes ----------------------------------------------------------------------------
def test_slack_timestamp_of_401_digits_is_a_refusal_not_an_overflow() -> None:
    with pytest.raises(SignatureRefused) as info:
        slack_verify.verify(
            SECRET, body=b"x", timestamp="1" + "0" * 400, signature="v0=00", now=time.time()
        )
    assert info.value.reason == "stale_timestamp"


def test_pagerduty_non_ascii_signature_is_a_refusal_not_a_type_error() -> None:
    with pytest.raises(AckRejected):
        verify_pagerduty(SECRET, {"x-pagerduty-signature": "v1=\u00e9t\u00e9"}, b"{}")


def slack_form(payload: Any) -> bytes:
    return urlencode({"payload": json.dumps(payload)}).encode()


@pytest.mark.parametrize(
    "payload",
    [
        {"type": "block_actions", "actions": [1]},
        {"type": "block_actions", "actions": [{"action_id": "tocsin_resolve"}], "user": "x"},
        {"type": "block_actions", "actions": "tocsin_acknowledge"},
    ],
)
def test_odd_slack_ack_payloads_are_refused_or_ignored(payload: Any) -> None:
    with contextlib.suppress(AckRejected):
        parse_slack_action(slack_form(payload), now=NOW)


def test_fifty_thousand_brackets_are_a_bad_payload() -> None:
    body = b"payload=tocsin_response_" + b"[" * 50_000
    with pytest.raises(ApprovalRefused) as info:
        parse_interaction(body)
    assert info.value.reason == "bad_payload"
    assert claimed_user(b"payload=" + b"[" * 50_000) == "anonymous"
    with pytest.raises(AckRejected):
        parse_slack_action(b"payload=" + b"[" * 50_000, now=NOW)


@pytest.mark.parametrize(
    "payload",
    [
        {
            "type": "block_actions",
            "user": {"id": "U1"},
            "channel": "C1",
            "container": 3,
            "actions": [{"action_id": "tocsin_response_approve", "value": "d|h"}],
        },
        {
            "type": "block_actions",
            "user": {"id": "U1"},
            "state": [1],
            "message": "x",
            "actions": [{"action_id": "tocsin_response_reject", "value": "d|h"}],
        },
        ["block_actions"],
    ],
)
def test_odd_approval_payloads_parse_or_are_bad_payload(payload: Any) -> None:
    try:
        parse_interaction(slack_form(payload))
    except ApprovalRefused as exc:
        assert exc.reason == "bad_payload"


@pytest.mark.parametrize(
    "event",
    [
        {
            "event_type": "incident.acknowledged",
            "agent": "x",
            "data": {"type": "incident", "incident_key": "k"},
        },
        {
            "event_type": "incident.resolved",
            "occurred_at": "9999-12-31T23:59:59-23:59",
            "data": {"type": "incident", "incident_key": "k"},
        },
    ],
)
def test_signed_but_odd_pagerduty_events_become_acks(event: dict[str, Any]) -> None:
    body = json.dumps({"event": event}).encode()
    verify_pagerduty(SECRET, {"x-pagerduty-signature": pagerduty_signature(SECRET, body)}, body)
    ack = parse_pagerduty_event(body, now=NOW)
    assert ack is not None and ack.dedup_key == "k" and ack.at <= NOW


def test_deep_json_is_refused_before_parsing() -> None:
    with pytest.raises(ValueError, match="nested deeper"):
        safejson.loads(b"[" * 50_000)
    with pytest.raises(ValueError, match="not JSON"):
        safejson.loads(BIG)
    assert safejson.loads('{"a": "[[[[", "b": [1, {"c": 2}]}') == {"a": "[[[[", "b": [1, {"c": 2}]}


# -- 7. silences ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "pattern", ["(a+)+$", "(a*)*", "(.*a){20}", "(a|ab)*", "(a*)\\1", "a*a*a*a*b"]
)
def test_catastrophic_silence_regexes_are_refused(pattern: str) -> None:
    body = {
        "matchers": [{"name": "brand", "value": pattern, "isRegex": True}],
        "endsAt": "2026-11-23T09:00:00Z",
        "createdBy": "t",
        "comment": "c",
    }
    with pytest.raises(SilenceError, match="unsafe regular expression"):
        parse_silence(body, silence_id="s", now=NOW)


@pytest.mark.parametrize(
    "pattern", ["brenmoor|glytera", "pricing.*", "[a-z]+_(price|safety)", "x{2,5}"]
)
def test_ordinary_silence_regexes_pass(pattern: str) -> None:
    regex_guard.check(pattern)


# -- 5. readiness --------------------------------------------------------------------------------
async def test_concurrent_readiness_checks_share_one_probe(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = []
    real = statedir.problem

    def counted(path: Path, min_free: int) -> str | None:
        calls.append(path)
        time.sleep(0.05)
        return real(path, min_free)

    monkeypatch.setattr(statedir, "problem", counted)
    watch = statedir.StateDirWatch(tmp_path, 0)
    results = await asyncio.gather(*(watch.current() for _ in range(8)))
    assert results == [None] * 8
    assert len(calls) == 1
    assert not await asyncio.to_thread(lambda: list(tmp_path.iterdir()))  # probe file removed


def test_parallel_probes_of_one_folder_do_not_trip_each_other(tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(8) as pool:
        found = list(pool.map(lambda _: statedir.problem(tmp_path, 0), range(200)))
    assert found == [None] * 200


async def test_broker_probe_turns_false_when_the_broker_stops_answering() -> None:
    now = [100.0]
    probe = BrokerProbe(stale_after_s=0.2, clock=lambda: now[0])
    assert probe.problem() == "the broker has not answered yet"

    async def answers() -> bool:
        return True

    async def frozen() -> bool:
        await asyncio.sleep(10)
        return True

    await probe.probe(answers)
    assert probe.problem() is None
    now[0] += 0.1
    await probe.probe(frozen)  # bounded by stale_after_s, does not hang
    now[0] += 0.2
    assert "has not answered for" in str(probe.problem())
    await probe.probe(answers)
    assert probe.problem() is None


# -- 6. refusals and log lines -------------------------------------------------------------------
def test_refusals_past_the_threshold_are_summarised_per_client_and_minute() -> None:
    now = [600.0]
    ledger = RefusalLedger(audit_each=3, clock=lambda: now[0])
    singles = [ledger.refused("10.0.0.1", "bad_token") for _ in range(1000)]
    assert singles.count(True) == 3
    assert ledger.refused("10.0.0.2", "bad_token")  # another client has its own count
    assert ledger.take_summaries() == []  # the minute is not over
    now[0] += 60
    (summary,) = ledger.take_summaries()
    assert (summary.client, summary.count, summary.reasons) == ("10.0.0.1", 997, {"bad_token": 997})


def test_repeated_auth_failures_are_slowed_per_client() -> None:
    ledger = RefusalLedger(slow_after=5, clock=lambda: 0.0)
    delays = [ledger.failed_auth("a") for _ in range(12)]
    assert delays[:5] == [0.0] * 5
    assert delays[5:8] == [0.25, 0.5, 1.0] and max(delays) == 4.0
    assert ledger.failed_auth("b") == 0.0


def test_malformed_request_log_lines_are_one_line_and_rate_limited() -> None:
    from pipeline.web_guard import RateLimitedLines

    filt = RateLimitedLines(window_s=60, burst=2)
    passed = []
    for _ in range(10):
        try:
            raise ValueError("Invalid header value char: b'Bearer secret-token\\x01'")
        except ValueError:
            record = logging.LogRecord(
                "aiohttp.server",
                logging.ERROR,
                __file__,
                1,
                "Error handling request from %s",
                ("127.0.0.1",),
                exc_info=__import__("sys").exc_info(),
            )
        if filt.filter(record):
            passed.append(record)
    assert len(passed) == 2
    for record in passed:
        assert record.exc_info is None
        text = record.getMessage()
        assert "secret-token" not in text and "\n" not in text and "127.0.0.1" in text


def test_the_web_guard_is_installed_once_however_often_faust_asks() -> None:
    from aiohttp import web

    from pipeline import web_guard

    aiohttp_app = web.Application()
    for _ in range(3):  # Faust calls on_webserver_init more than once on a worker
        web_guard.install(aiohttp_app, {})
    assert len(aiohttp_app.middlewares) == 1
    assert list(aiohttp_app.on_response_prepare).count(web_guard.add_headers) == 1


def test_replay_source_passes_unreadable_lines_on_instead_of_crashing(tmp_path: Path) -> None:
    from pipeline.ingest.replay import read_lines

    lines = [
        b"[" * 50_000,
        b'{"id": "a", "n": ' + BIG.encode() + b"}",
        b'{"id": "b", "created_at": "9999-12-31T23:59:59-23:59"}',
        json.dumps(mention(1)).encode(),
    ]
    path = tmp_path / "replay.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    read = list(read_lines(path))
    assert [r.payload for r in read] == lines
    assert read[-1].key == b"h:1" and read[-1].at is not None


async def test_an_unexpected_ingest_failure_is_counted_and_answered_without_detail() -> None:
    from prometheus_client import CollectorRegistry

    from pipeline.ingest.http import handle
    from pipeline.metrics import TocsinMetrics

    class Broken:
        def match(self, text: str) -> list[str]:
            raise RuntimeError("secret detail")

    metrics = TocsinMetrics(CollectorRegistry())
    body = json.dumps(mention(1)).encode()
    reply = await handle(
        gate=make_gate(),
        headers={
            "Authorization": "Bearer acme-token-0123456789abcdef",
            "Content-Type": "application/json",
        },
        chunks=chunks_of(body),
        sink=FakeSink(),
        matcher=Broken(),  # type: ignore[arg-type]
        metrics=metrics,
    )
    assert reply.status == 500 and "secret" not in json.dumps(reply.body)
    assert (
        metrics.registry.get_sample_value(
            "tocsin_ingest_requests_total", {"outcome": "internal_error"}
        )
        == 1.0
    )
