"""One decode, one schema, one key: every front door of ``mentions.raw`` applies the same rule.

A line goes through HTTP ingest (``handle``), through replay (``read_lines``, then the ingest
agent's :func:`intake`) and straight to the agent; each bad line must be refused with the same
reason on every path, each good one accepted on every path and keyed by its mention id.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry
from pydantic import SecretStr

from bench.stream import LapStream
from pipeline.brands import load_brands
from pipeline.ingest.decoding import Limits, decode, to_mention
from pipeline.ingest.http import IngestGate, handle
from pipeline.ingest.intake import intake
from pipeline.ingest.keys import raw_key
from pipeline.ingest.pseudonyms import Pseudonymiser
from pipeline.ingest.replay import read_lines
from pipeline.metrics import TocsinMetrics
from pipeline.records import DeadLetter, Mention
from pipeline.settings import make_settings
from tests.unit.ingest.test_ingest_http import ACME, FakeSink

BRANDS = load_brands(Path("pipeline/config/brands.yaml"))
PSEUDONYMS = Pseudonymiser(SecretStr("unit-test-pseudonym-key-0123456789"), "t1")
NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
SETTINGS = make_settings(
    ingest_tokens=f"acme:{ACME}", max_text_chars=300, max_payload_bytes=4096, max_future_s=600
)


def line(**changes: Any) -> bytes:
    obj: dict[str, Any] = {
        "id": "x:1",
        "platform": "x",
        "created_at": "2026-11-20T08:15:03Z",
        "text": "Brenmoor tripled the price of Glytera",
        "author": {"id": "u1", "followers": 12},
        "engagement": {"likes": 2, "shares": 1, "replies": 0},
    }
    obj.update(changes)
    return json.dumps(obj).encode()


BAD = {
    "oversized": line(text="Brenmoor " + "a" * 5000),
    "text_too_long": line(text="Brenmoor " + "a " * 200),
    "invalid_json": b'{"id": "x:1",',
    "missing_field": b'{"id": "x:1", "platform": "x"}',
    "wrong_type": line(author={"id": 7}),
    "future": line(created_at="2026-11-20T09:10:01Z"),  # 601 s past NOW
}


async def http_result(payload: bytes) -> tuple[dict[str, Any], FakeSink]:
    """One NDJSON line through ``handle`` (the metrics it counts into are a fresh registry's)."""
    gate = IngestGate.from_settings(SETTINGS)
    gate.wall_clock = lambda: NOW
    sink = FakeSink()
    reply = await handle(
        gate=gate,
        headers={"Authorization": f"Bearer {ACME}", "Content-Type": "application/x-ndjson"},
        chunks=_once(payload),
        sink=sink,
        matcher=BRANDS,
        metrics=TocsinMetrics(CollectorRegistry(), receivers=("console",)),
    )
    result: dict[str, Any] = reply.body["results"][0]
    return result, sink


async def _once(payload: bytes) -> Any:
    yield payload


def agent_result(payload: bytes) -> Mention | DeadLetter | None:
    return intake(
        payload,
        topic="mentions.raw",
        partition=2,
        offset=40,
        limits=Limits.from_settings(SETTINGS),
        matcher=BRANDS,
        pseudonyms=PSEUDONYMS,
        now=NOW,
    )


def replayed(payload: bytes, tmp_path: Path) -> tuple[bytes, bytes | None]:
    path = tmp_path / "stream.jsonl"
    path.write_bytes(payload + b"\n")
    (got,) = read_lines(path)
    return got.payload, got.key


@pytest.mark.parametrize("name", sorted(BAD))
async def test_a_bad_line_is_refused_alike_by_http_replay_and_the_agent(
    name: str, tmp_path: Path
) -> None:
    payload = BAD[name]
    http, sink = await http_result(payload)
    direct = agent_result(payload)
    sent, _ = replayed(payload, tmp_path)
    via_replay = agent_result(sent)  # replay forwards the bytes; the agent decides
    assert http["status"] == "rejected" and not sink.raw
    assert isinstance(direct, DeadLetter) and isinstance(via_replay, DeadLetter)
    expected = "invalid_value" if name == "future" else name
    assert http["reason"] == direct.reason == via_replay.reason == expected
    assert sink.dead[0][1] == expected  # HTTP dead-letters it with the same reason


async def test_a_good_line_is_accepted_alike_and_keyed_by_id_everywhere(tmp_path: Path) -> None:
    payload = line(id="x:42")
    http, sink = await http_result(payload)
    mention = agent_result(payload)
    sent, replay_key = replayed(payload, tmp_path)
    assert http["status"] == "accepted" and http["brand"] == "brenmoor"
    assert isinstance(mention, Mention) and mention.brand == "brenmoor"
    assert (mention.raw_partition, mention.raw_offset) == (2, 40)
    assert sent == payload
    assert sink.raw == [(b"x:42", payload)] and replay_key == b"x:42" == raw_key("x:42")


def test_the_bench_driver_keys_by_mention_id_too(tmp_path: Path) -> None:
    path, crisis = tmp_path / "stream.jsonl", tmp_path / "crisis.json"
    path.write_bytes(line(id="x:7") + b"\n")
    crisis.write_text(
        json.dumps(
            {
                "mention_ids": [],
                "brand": "brenmoor",
                "topic": "pricing",
                "start": "2026-11-20T08:00:00Z",
                "end": "2026-11-20T09:00:00Z",
            }
        )
    )
    stream = LapStream(path, crisis, BRANDS)
    assert stream.payload(0)[0] == raw_key("x:7")
    assert stream.payload(1)[0] == raw_key("x:7~1")  # a later lap's copy is its own mention


def test_the_key_rule_is_stable_and_total() -> None:
    assert raw_key("x:1") == raw_key("x:1") == b"x:1"
    assert raw_key("é") == "é".encode()
    assert raw_key("\ud800") == b"\xed\xa0\x80"  # a lone surrogate still gets one stable key


def test_the_mention_record_is_the_input_contract_plus_matching_in_one_step() -> None:
    raw = decode(
        line(url="https://x.example/1", lang="en", kind="reply"), Limits(4096, 300, 0), NOW
    )
    mention = to_mention(raw, BRANDS, PSEUDONYMS)
    assert mention is not None
    source = raw.model_dump()
    record = mention.asdict()
    for name, value in source.items():
        got = record[name]
        got = got.asdict() if hasattr(got, "asdict") else got
        if name == "author":  # the one change: the author leaves pseudonymised
            assert got == {
                **value,
                "id": PSEUDONYMS.of(raw.platform, value["id"]),
                "handle": None,
                "key_id": "t1",
            }
            continue
        assert got == value, name
    assert set(record) - set(source) == {
        "brand",
        "brands",
        "raw_partition",
        "raw_offset",
        "received_at",
    }
