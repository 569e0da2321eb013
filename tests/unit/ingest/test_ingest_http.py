"""POST /api/mentions request logic, without a worker: a fake sink, an injected clock, a fresh registry.

The order of the checks matters as much as the checks: a request refused for its size or rate
must be refused before its body is read, which is asserted with a body that fails the test if it
is ever iterated.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from pipeline.brands import load_brands
from pipeline.errors import InvalidMention
from pipeline.ingest.http import IngestGate, Reply, handle
from pipeline.metrics import INGEST_OUTCOMES, TocsinMetrics, get_metrics
from pipeline.settings import make_settings, parse_client_tokens
from pipeline.token_bucket import TokenBucket

BRANDS = load_brands(Path("pipeline/config/brands.yaml"))
ACME = "acme-token-0123456789abcdef"
BETA = "beta-token-fedcba9876543210"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class FakeSink:
    """Keeps what would be produced; ``fail`` makes the broker's acknowledgement fail."""

    def __init__(self, fail: bool = False) -> None:
        self.raw: list[tuple[bytes, bytes]] = []
        self.dead: list[tuple[bytes, str, str, int]] = []
        self.fail = fail

    async def _ack(self) -> None:
        if self.fail:
            raise ConnectionError("broker gone")

    async def accept(self, key: bytes, payload: bytes) -> Awaitable[Any]:
        self.raw.append((key, payload))
        return self._ack()

    async def reject(
        self, payload: bytes, error: InvalidMention, *, client: str, line: int
    ) -> Awaitable[Any]:
        self.dead.append((payload, error.reason, client, line))
        return self._ack()


def mention(i: int, text: str = "Brenmoor tripled the price of Glytera") -> dict[str, Any]:
    return {
        "id": f"h:{i}",
        "platform": "x",
        "created_at": "2026-11-20T08:15:03Z",
        "text": text,
        "author": {"id": f"u{i}"},
    }


def ndjson(*objs: Any) -> bytes:
    return b"\n".join(o if isinstance(o, bytes) else json.dumps(o).encode() for o in objs) + b"\n"


async def chunks_of(body: bytes, size: int = 7) -> AsyncIterator[bytes]:
    for i in range(0, len(body), size):
        yield body[i : i + size]


async def never_read() -> AsyncIterator[bytes]:
    raise AssertionError("the body was read although the request was refused from its headers")
    yield b""  # pragma: no cover - makes this an async generator


def make_gate(clock: Clock | None = None, **overrides: Any) -> IngestGate:
    values: dict[str, Any] = {"ingest_tokens": f"acme:{ACME},beta:{BETA}", **overrides}
    return IngestGate.from_settings(make_settings(**values), clock=clock or Clock())


async def post(
    gate: IngestGate,
    body: bytes,
    *,
    token: str | None = ACME,
    ctype: str = "application/x-ndjson",
    sink: FakeSink | None = None,
    metrics: TocsinMetrics | None = None,
    chunks: AsyncIterator[bytes] | None = None,
    length: bool = True,
) -> Reply:
    headers = {"Content-Type": ctype}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    if length:
        headers["Content-Length"] = str(len(body))
    return await handle(
        gate=gate,
        headers=headers,
        chunks=chunks or chunks_of(body),
        sink=sink or FakeSink(),
        matcher=BRANDS,
        metrics=metrics or get_metrics(),
        ack_timeout_s=1.0,
    )


async def test_single_json_mention_is_produced_keyed_by_mention_id() -> None:
    sink = FakeSink()
    body = json.dumps(mention(1)).encode()
    reply = await post(make_gate(), body, ctype="application/json; charset=utf-8", sink=sink)
    assert reply.status == 202
    assert reply.body["accepted"] == 1 and reply.body["client"] == "acme"
    assert sink.raw == [(b"h:1", body)]
    assert reply.body["results"][0]["brand"] == "brenmoor"  # the answer still names the brand
    assert not sink.dead


async def test_mention_without_a_tracked_brand_is_keyed_by_id_too() -> None:
    sink = FakeSink()
    await post(make_gate(), ndjson(mention(5, "the weather is lovely")), sink=sink)
    assert sink.raw[0][0] == b"h:5"


async def test_mixed_batch_gives_207_with_a_result_per_line_and_bad_lines_dead_lettered() -> None:
    sink, metrics = FakeSink(), get_metrics()
    body = ndjson(mention(1), b"{not json", {"id": "h:2"}, b"", mention(3), b"\xff\xfe")
    reply = await post(make_gate(), body, sink=sink, metrics=metrics)
    assert reply.status == 207
    results = reply.body["results"]
    assert [(r["line"], r["status"]) for r in results] == [
        (1, "accepted"),
        (2, "rejected"),
        (3, "rejected"),
        (5, "accepted"),  # the blank line 4 is skipped, numbering follows the body
        (6, "rejected"),
    ]
    assert [r.get("reason") for r in results if r["status"] == "rejected"] == [
        "invalid_json",
        "missing_field",
        "invalid_utf8",
    ]
    assert [(reason, client, line) for _, reason, client, line in sink.dead] == [
        ("invalid_json", "acme", 2),
        ("missing_field", "acme", 3),
        ("invalid_utf8", "acme", 6),
    ]
    assert len(sink.raw) == 2
    value = metrics.registry.get_sample_value
    assert value("tocsin_ingest_requests_total", {"outcome": "partial"}) == 1
    assert value("tocsin_ingest_mentions_total", {"result": "accepted"}) == 2
    assert value("tocsin_ingest_mentions_total", {"result": "rejected"}) == 3
    assert value("tocsin_dead_letters_total", {"reason": "invalid_json"}) == 1


async def test_all_lines_bad_is_422_and_nothing_reaches_the_raw_topic() -> None:
    sink = FakeSink()
    reply = await post(make_gate(), ndjson(b"[1]", b'"x"'), sink=sink)
    assert reply.status == 422
    assert {r["reason"] for r in reply.body["results"]} == {"not_an_object"}
    assert not sink.raw and len(sink.dead) == 2


@pytest.mark.parametrize(
    ("token", "status", "code"),
    [
        (None, 401, "unauthorized"),
        ("nope-nope-nope-nope", 401, "unauthorized"),
        (ACME + "x", 401, "unauthorized"),
    ],
)
async def test_bad_tokens_are_refused_before_reading(
    token: str | None, status: int, code: str
) -> None:
    reply = await post(make_gate(), b"{}", token=token, chunks=never_read())
    assert (reply.status, reply.body["error"]["code"]) == (status, code)
    assert reply.headers["WWW-Authenticate"].startswith("Bearer")


async def test_each_client_is_identified_by_its_own_token() -> None:
    reply = await post(make_gate(), ndjson(mention(1)), token=BETA)
    assert reply.body["client"] == "beta"


async def test_no_tokens_configured_means_closed() -> None:
    gate = IngestGate.from_settings(make_settings())
    reply = await post(gate, b"{}", chunks=never_read())
    assert (reply.status, reply.body["error"]["code"]) == (503, "ingest_disabled")


async def test_wrong_media_type_is_415() -> None:
    reply = await post(
        make_gate(), b"a=b", ctype="application/x-www-form-urlencoded", chunks=never_read()
    )
    assert (reply.status, reply.body["error"]["code"]) == (415, "unsupported_media_type")


async def test_declared_length_over_limit_is_413_without_reading() -> None:
    gate = make_gate(ingest_max_body_bytes=2048)
    headers = {
        "Authorization": f"Bearer {ACME}",
        "Content-Type": "application/x-ndjson",
        "Content-Length": "2049",
    }
    metrics = get_metrics()
    reply = await handle(
        gate=gate,
        headers=headers,
        chunks=never_read(),
        sink=FakeSink(),
        matcher=BRANDS,
        metrics=metrics,
    )
    assert (reply.status, reply.body["error"]["code"]) == (413, "body_too_large")
    assert (
        metrics.registry.get_sample_value(
            "tocsin_ingest_requests_total", {"outcome": "body_too_large"}
        )
        == 1
    )


async def test_body_longer_than_declared_or_chunked_is_cut_off_while_reading() -> None:
    gate = make_gate(ingest_max_body_bytes=2048)
    big = ndjson(*(mention(i) for i in range(40)))
    assert len(big) > 2048
    chunked = await post(gate, big, length=False)
    assert (chunked.status, chunked.body["error"]["code"]) == (413, "body_too_large")
    lying = await handle(
        gate=gate,
        headers={
            "Authorization": f"Bearer {ACME}",
            "Content-Type": "application/x-ndjson",
            "Content-Length": "100",
        },
        chunks=chunks_of(big, 512),
        sink=FakeSink(),
        matcher=BRANDS,
        metrics=get_metrics(),
    )
    assert lying.status == 413


async def test_malformed_content_length_is_400() -> None:
    reply = await handle(
        gate=make_gate(),
        headers={
            "Authorization": f"Bearer {ACME}",
            "Content-Type": "application/json",
            "Content-Length": "-5",
        },
        chunks=never_read(),
        sink=FakeSink(),
        matcher=BRANDS,
        metrics=get_metrics(),
    )
    assert (reply.status, reply.body["error"]["code"]) == (400, "bad_content_length")


async def test_empty_body_and_too_many_lines() -> None:
    gate = make_gate(ingest_max_lines=3, ingest_burst=10)
    empty = await post(gate, b"\n \n")
    assert (empty.status, empty.body["error"]["code"]) == (400, "empty_body")
    many = await post(gate, ndjson(*(mention(i) for i in range(4))))
    assert (many.status, many.body["error"]["code"]) == (413, "too_many_lines")


async def test_rate_limit_counts_mentions_per_client_and_says_when_to_retry() -> None:
    clock = Clock()
    gate = make_gate(clock, ingest_rate_per_s=2.0, ingest_burst=10, ingest_max_lines=10)
    six = ndjson(*(mention(i) for i in range(6)))
    assert (await post(gate, six)).status == 202
    limited = await post(gate, six)  # 4 tokens left, 6 wanted: 2 missing at 2/s -> 1 s
    assert (limited.status, limited.body["error"]["code"]) == (429, "rate_limited")
    assert limited.headers["Retry-After"] == "1"
    assert (await post(gate, six, token=BETA)).status == 202  # another client has its own bucket
    clock.now += 1.0
    assert (await post(gate, six)).status == 202
    # Now empty: refused from the headers, before the body is read.
    empty = await post(gate, six, chunks=never_read())
    assert empty.status == 429
    assert int(empty.headers["Retry-After"]) >= 1


def test_token_bucket_refills_to_capacity_only() -> None:
    bucket = TokenBucket(capacity=5, rate=1.0, tokens=5, updated=0.0)
    assert bucket.take(5, 0.0) == 0.0
    assert bucket.take(1, 0.0) == pytest.approx(1.0)
    assert bucket.take(1, 100.0) == 0.0
    assert bucket.tokens == pytest.approx(4.0)


async def test_slow_body_is_408() -> None:
    async def slow() -> AsyncIterator[bytes]:
        yield b'{"id":'
        await asyncio.sleep(5)
        yield b"}"

    gate = make_gate(ingest_read_timeout_s=0.05)
    reply = await post(gate, b"", chunks=slow(), length=False)
    assert (reply.status, reply.body["error"]["code"]) == (408, "read_timeout")


async def test_broker_not_acknowledging_is_503_with_retry_after() -> None:
    reply = await post(make_gate(), ndjson(mention(1)), sink=FakeSink(fail=True))
    assert (reply.status, reply.body["error"]["code"]) == (503, "unavailable")
    assert reply.headers["Retry-After"].isdigit()


async def test_every_outcome_code_is_a_preinitialised_metric_label() -> None:
    metrics = get_metrics()
    for code in INGEST_OUTCOMES:
        assert (
            metrics.registry.get_sample_value("tocsin_ingest_requests_total", {"outcome": code})
            == 0
        )
    reply = await post(make_gate(), b"", chunks=chunks_of(b""), length=False)
    assert reply.body["error"]["code"] in INGEST_OUTCOMES


def test_client_tokens_are_validated_without_echoing_them() -> None:
    assert set(parse_client_tokens(f"acme:{ACME}, beta:{BETA}")) == {"acme", "beta"}
    for bad in (
        f"acme:{ACME},acme:{BETA}",
        f"acme:{ACME},beta:{ACME}",
        "acme:short",
        "no token",
        f"a b:{ACME}",
    ):
        with pytest.raises(ValueError) as info:
            parse_client_tokens(bad)
        assert ACME not in str(info.value) and BETA not in str(info.value)
    with pytest.raises(ValidationError):
        make_settings(ingest_tokens=f"acme:{ACME}", ingest_burst=10, ingest_max_lines=100)
