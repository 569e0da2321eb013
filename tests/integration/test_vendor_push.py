"""Vendor pushes on a live worker with a real broker: each vendor's documented JSON reaches
``mentions.raw`` and comes out classified; forged pushes are refused and produce nothing.

The bodies are the documented-shape samples in tests/data/vendors, posted as a vendor (or its
relay) would: Meltwater's signed with ``X-Hub-Signature``, Brandwatch's and Talkwalker's with
their bearer tokens.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from pipeline.ops.procs import Broker, Worker
from tests.integration.conftest import consume

pytestmark = [pytest.mark.integration, pytest.mark.timeout(420)]

SAMPLES = Path(__file__).parents[1] / "data" / "vendors"
BW_TOKEN = "it-brandwatch-token-1a2b3c4d"
TW_TOKEN = "it-talkwalker-token-5e6f7a8b"
MW_SECRET = "it-meltwater-shared-secret-9c0d1e2f"
FORGED_ID = "forged-document-0001"


def sign(body: bytes, secret: str = MW_SECRET) -> str:
    return "sha1=" + hmac.new(secret.encode(), body, hashlib.sha1).hexdigest()


def post(url: str, vendor: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
    return httpx.post(f"{url}/api/ingest/{vendor}", content=body, headers=headers, timeout=60)


def test_signed_pushes_reach_classification_and_forged_ones_produce_nothing(
    broker: Broker, start_worker: Callable[..., Worker]
) -> None:
    worker = start_worker(
        TOCSIN_VENDOR_BRANDWATCH_TOKEN=BW_TOKEN,
        TOCSIN_VENDOR_TALKWALKER_TOKEN=TW_TOKEN,
        TOCSIN_VENDOR_MELTWATER_SECRET=MW_SECRET,
    )
    json_type = {"Content-Type": "application/json"}
    forged = json.dumps(
        {
            "id": FORGED_ID,
            "published_date": "2026-11-20T10:00:00Z",
            "url": "https://x.com/a/1",
            "content": {"title": "Brenmoor is a fraud"},
            "author": {"handle": "mallory"},
        }
    ).encode()

    # Refused first, so nothing later can be mistaken for what they produced.
    refusals = [
        post(worker.url, "meltwater", forged, {**json_type, "X-Hub-Signature": sign(b"other")}),
        post(
            worker.url,
            "meltwater",
            forged,
            {**json_type, "X-Hub-Signature": sign(forged, "x" * 20)},
        ),
        post(worker.url, "meltwater", forged, json_type),
        post(
            worker.url, "brandwatch", forged, {**json_type, "Authorization": f"Bearer {TW_TOKEN}"}
        ),
    ]
    assert [r.status_code for r in refusals] == [401, 401, 401, 401]
    assert [r.json()["error"]["code"] for r in refusals] == [
        "bad_signature",
        "bad_signature",
        "signature_missing",
        "unauthorized",
    ]
    assert post(worker.url, "sprinklr", forged, json_type).status_code == 404

    meltwater = (SAMPLES / "meltwater.json").read_bytes()
    answers = {
        "brandwatch": post(
            worker.url,
            "brandwatch",
            (SAMPLES / "brandwatch.json").read_bytes(),
            {**json_type, "Authorization": f"Bearer {BW_TOKEN}"},
        ),
        "talkwalker": post(
            worker.url,
            "talkwalker",
            (SAMPLES / "talkwalker.ndjson").read_bytes(),
            {"Content-Type": "application/x-ndjson", "Authorization": f"Bearer {TW_TOKEN}"},
        ),
        "meltwater": post(
            worker.url, "meltwater", meltwater, {**json_type, "X-Hub-Signature": sign(meltwater)}
        ),
    }
    accepted: set[str] = set()
    for vendor, answer in answers.items():
        assert answer.status_code == 207, (vendor, answer.text)
        body = answer.json()
        assert body["accepted"] == 2 and body["rejected"] == 1, (vendor, body)
        accepted |= {r["id"] for r in body["results"] if r["status"] == "accepted"}
    # The same signed Meltwater push again (a replay, or the vendor's retry): nothing produced.
    again = post(
        worker.url, "meltwater", meltwater, {**json_type, "X-Hub-Signature": sign(meltwater)}
    )
    assert again.status_code == 200 and again.json()["duplicate"] is True

    classified = consume(broker.bootstrap, "mentions.classified", want=6, timeout_s=180)
    assert {c["mention"]["id"] for c in classified} == accepted
    assert {c["mention"]["brand"] for c in classified} == {"brenmoor", "valmoreau", "quillon"}
    raw = consume(broker.bootstrap, "mentions.raw", want=6, timeout_s=30, settle_s=3)
    assert sorted(m["id"] for m in raw) == sorted(accepted)  # each once; nothing forged
    letters = consume(broker.bootstrap, "mentions.dlq", want=3, timeout_s=30, settle_s=3)
    assert sorted(d["source_topic"] for d in letters) == [
        "http:/api/ingest/brandwatch",
        "http:/api/ingest/meltwater",
        "http:/api/ingest/talkwalker",
    ]
    assert all(FORGED_ID not in str(d["payload"]) for d in letters)

    metrics = worker.metrics_text()
    for outcome, count in (
        ("bad_signature", 2),
        ("signature_missing", 1),
        ("unauthorized", 1),
        ("unknown_vendor", 1),
        ("partial", 3),
        ("duplicate", 1),
    ):
        assert f'tocsin_ingest_requests_total{{outcome="{outcome}"}} {float(count)}' in metrics
    assert worker.log_path is not None
    assert MW_SECRET not in worker.log_path.read_text(errors="replace")
