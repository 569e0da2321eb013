"""POST /api/ingest/{vendor} without a worker: authentication, replay, and the shared ingest path.

The vendor route must refuse before producing anything (404 unconfigured, 401 forged / missing /
meant for another vendor), and otherwise answer exactly as POST /api/mentions does, because it
runs the same :func:`pipeline.ingest.http.deliver`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from pipeline.brands import load_brands
from pipeline.errors import InvalidMention
from pipeline.ingest.http import IngestGate, Reply
from pipeline.ingest.vendors.push import VendorGate, handle_vendor, hub_signature
from pipeline.metrics import TocsinMetrics, get_metrics
from pipeline.settings import make_settings

BRANDS = load_brands(Path("pipeline/config/brands.yaml"))
SAMPLES = Path(__file__).parents[2] / "data" / "vendors"
BW_TOKEN = "brandwatch-relay-token-0123456789"
TW_TOKEN = "talkwalker-relay-token-9876543210"
MW_SECRET = "e2d264b524240b9572ebc2fc7eebd980"


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


class FakeSink:
    def __init__(self) -> None:
        self.raw: list[tuple[bytes, bytes]] = []
        self.dead: list[tuple[bytes, str, str, int]] = []

    async def _ack(self) -> None:
        return None

    async def accept(self, key: bytes, payload: bytes) -> Awaitable[Any]:
        self.raw.append((key, payload))
        return self._ack()

    async def reject(
        self, payload: bytes, error: InvalidMention, *, client: str, line: int
    ) -> Awaitable[Any]:
        self.dead.append((payload, error.reason, client, line))
        return self._ack()


async def chunks_of(body: bytes) -> AsyncIterator[bytes]:
    yield body


async def never_read() -> AsyncIterator[bytes]:
    raise AssertionError("the body was read although the request was refused from its headers")
    yield b""  # pragma: no cover - makes this an async generator


def gates(clock: Clock, **overrides: Any) -> tuple[IngestGate, VendorGate]:
    values: dict[str, Any] = {
        "vendor_brandwatch_token": BW_TOKEN,
        "vendor_talkwalker_token": TW_TOKEN,
        "vendor_meltwater_secret": MW_SECRET,
        **overrides,
    }
    cfg = make_settings(**values)
    return IngestGate.from_settings(cfg), VendorGate.from_settings(cfg, clock=clock)


async def push(
    vendor: str,
    body: bytes,
    headers: dict[str, str],
    *,
    clock: Clock | None = None,
    vgates: tuple[IngestGate, VendorGate] | None = None,
    sink: FakeSink | None = None,
    metrics: TocsinMetrics | None = None,
    chunks: AsyncIterator[bytes] | None = None,
    ctype: str = "application/json",
) -> Reply:
    gate, vendors = vgates or gates(clock or Clock())
    return await handle_vendor(
        vendor=vendor,
        gate=gate,
        vendors=vendors,
        headers={"Content-Type": ctype, **headers},
        chunks=chunks or chunks_of(body),
        sink=sink or FakeSink(),
        matcher=BRANDS,
        metrics=metrics or get_metrics(),
        ack_timeout_s=1.0,
    )


def signed(body: bytes, secret: str = MW_SECRET) -> dict[str, str]:
    return {"X-Hub-Signature": hub_signature(SecretStr(secret), body)}


MELTWATER = (SAMPLES / "meltwater.json").read_bytes()
BRANDWATCH = (SAMPLES / "brandwatch.json").read_bytes()
TALKWALKER = (SAMPLES / "talkwalker.ndjson").read_bytes()


def test_the_signature_is_meltwaters_documented_sha1_hmac() -> None:
    # The secret from Meltwater's X-Hook-Secret example, computed independently with openssl:
    # printf '{"id": "1"}' | openssl dgst -sha1 -hmac e2d264b524240b9572ebc2fc7eebd980
    assert hub_signature(SecretStr(MW_SECRET), b'{"id": "1"}') == (
        "sha1=f87ab51eb8e67355de4ad4faa7542d014d8e90f1"
    )


async def test_a_signed_meltwater_push_maps_produces_and_dead_letters() -> None:
    sink, metrics = FakeSink(), get_metrics()
    reply = await push("meltwater", MELTWATER, signed(MELTWATER), sink=sink, metrics=metrics)
    assert reply.status == 207
    assert reply.body["client"] == "vendor:meltwater"
    assert [k for k, _ in sink.raw] == [
        b"meltwater:1763631500000_K49ugt285FchyyIqJ15D85lyR5wA",
        b"meltwater:1763631600000_Pq82nmx0Vtw4ZZ8aLx1Q0c7B2sE",
    ]
    assert [(reason, client, n) for _, reason, client, n in sink.dead] == [
        ("missing_field", "vendor:meltwater", 3)
    ]
    assert b"A document without its id" in sink.dead[0][0]  # the vendor's item, kept whole
    assert [r["brand"] for r in reply.body["results"][:2]] == ["brenmoor", "valmoreau"]
    assert (
        metrics.registry.get_sample_value("tocsin_ingest_requests_total", {"outcome": "partial"})
        == 1
    )
    assert (
        metrics.registry.get_sample_value("tocsin_dead_letters_total", {"reason": "missing_field"})
        == 1
    )


@pytest.mark.parametrize(
    ("headers", "code"),
    [
        ({}, "signature_missing"),
        ({"X-Hub-Signature": ""}, "signature_missing"),
        ({"X-Hub-Signature": "sha1=" + "0" * 40}, "bad_signature"),
        (signed(MELTWATER, secret="another-secret-of-32-characters!"), "bad_signature"),
        (signed(MELTWATER + b" "), "bad_signature"),  # signed for another body
        ({"X-Hub-Signature": "sha256=" + "0" * 64}, "bad_signature"),
        ({"X-Hub-Signature": "sha1=\u00e9"}, "bad_signature"),
        (
            {"Authorization": f"Bearer {MW_SECRET}"},
            "signature_missing",
        ),  # a token is not a signature
    ],
)
async def test_a_forged_or_unsigned_meltwater_push_is_refused_and_nothing_produced(
    headers: dict[str, str], code: str
) -> None:
    sink, metrics = FakeSink(), get_metrics()
    reply = await push("meltwater", MELTWATER, headers, sink=sink, metrics=metrics)
    assert reply.status == 401 and reply.body["error"]["code"] == code
    assert "WWW-Authenticate" in reply.headers
    assert sink.raw == [] and sink.dead == []
    assert metrics.registry.get_sample_value("tocsin_ingest_requests_total", {"outcome": code}) == 1


async def test_a_replayed_signed_push_produces_nothing_until_the_window_is_over() -> None:
    clock = Clock()
    vgates = gates(clock)
    first, again, later = FakeSink(), FakeSink(), FakeSink()
    ok = await push("meltwater", MELTWATER, signed(MELTWATER), vgates=vgates, sink=first)
    assert ok.status == 207 and len(first.raw) == 2
    clock.now += 3600
    replay = await push("meltwater", MELTWATER, signed(MELTWATER), vgates=vgates, sink=again)
    assert replay.status == 200 and replay.body["duplicate"] is True
    assert again.raw == [] and again.dead == []
    # Past TOCSIN_VENDOR_REPLAY_WINDOW_S (default one day) the signature is forgotten: the
    # documented limit of a scheme without a timestamp; the ids are the same as the first time.
    clock.now += 86400
    late = await push("meltwater", MELTWATER, signed(MELTWATER), vgates=vgates, sink=later)
    assert late.status == 207 and [k for k, _ in later.raw] == [k for k, _ in first.raw]


async def test_a_push_the_broker_did_not_take_is_not_remembered_as_accepted() -> None:
    class Failing(FakeSink):
        async def _ack(self) -> None:
            raise ConnectionError("broker gone")

    vgates = gates(Clock())
    failed = await push("meltwater", MELTWATER, signed(MELTWATER), vgates=vgates, sink=Failing())
    assert failed.status == 503
    retry = FakeSink()
    ok = await push("meltwater", MELTWATER, signed(MELTWATER), vgates=vgates, sink=retry)
    assert ok.status == 207 and len(retry.raw) == 2  # the vendor's retry is taken


async def test_brandwatch_and_talkwalker_pushes_take_their_own_bearer_token() -> None:
    sink = FakeSink()
    bw = await push("brandwatch", BRANDWATCH, {"Authorization": f"Bearer {BW_TOKEN}"}, sink=sink)
    assert bw.status == 207 and bw.body["accepted"] == 2 and bw.body["rejected"] == 1
    tw = await push(
        "talkwalker",
        TALKWALKER,
        {"Authorization": f"bearer {TW_TOKEN}"},
        sink=sink,
        ctype="application/x-ndjson",
    )
    assert tw.status == 207 and tw.body["accepted"] == 2
    assert [d[2] for d in sink.dead] == ["vendor:brandwatch", "vendor:talkwalker"]


@pytest.mark.parametrize(
    ("vendor", "headers"),
    [
        ("brandwatch", {}),
        ("brandwatch", {"Authorization": f"Bearer {TW_TOKEN}"}),  # another vendor's token
        ("brandwatch", {"Authorization": BW_TOKEN}),  # no scheme
        ("brandwatch", {"Authorization": f"Basic {BW_TOKEN}"}),
        ("talkwalker", {"Authorization": f"Bearer {BW_TOKEN}"}),
        ("talkwalker", signed(TALKWALKER)),  # Meltwater's signature on another vendor's route
    ],
)
async def test_a_wrong_token_is_refused_before_the_body_is_read(
    vendor: str, headers: dict[str, str]
) -> None:
    reply = await push(vendor, b"", headers, chunks=never_read())
    assert reply.status == 401 and reply.body["error"]["code"] == "unauthorized"


async def test_a_bearer_token_on_the_meltwater_route_is_no_signature() -> None:
    body = BRANDWATCH
    reply = await push("meltwater", body, {"Authorization": f"Bearer {BW_TOKEN}"})
    assert reply.status == 401 and reply.body["error"]["code"] == "signature_missing"


@pytest.mark.parametrize("vendor", ["sprinklr", "BRANDWATCH", "", "../mentions", "meltwater"])
async def test_an_unknown_or_unconfigured_vendor_is_404_before_anything_else(vendor: str) -> None:
    # meltwater is known but not configured here: the same 404, so the route lists nothing.
    vgates = gates(Clock(), vendor_meltwater_secret=None)
    reply = await push(vendor, b"", signed(b""), vgates=vgates, chunks=never_read())
    assert reply.status == 404 and reply.body["error"]["code"] == "unknown_vendor"


async def test_vendor_pushes_keep_http_ingests_limits() -> None:
    vgates = gates(Clock(), ingest_max_body_bytes=1024, ingest_max_lines=1, ingest_burst=1)
    token = {"Authorization": f"Bearer {BW_TOKEN}"}
    too_big = await push(
        "brandwatch", b"", {**token, "Content-Length": "5000"}, vgates=vgates, chunks=never_read()
    )
    assert too_big.status == 413
    kind = await push(
        "brandwatch", b"", token, vgates=vgates, chunks=never_read(), ctype="text/csv"
    )
    assert kind.status == 415
    two = b'{"guid": "a"}\n{"guid": "b"}\n'
    too_many = await push("brandwatch", two, token, vgates=vgates, ctype="application/x-ndjson")
    assert too_many.status == 413 and too_many.body["error"]["code"] == "too_many_lines"
    empty = await push("brandwatch", b'{"results": []}', token, vgates=vgates)
    assert empty.status == 400 and empty.body["error"]["code"] == "empty_body"
