"""Fuzz POST /api/mentions on a live worker with a real broker: 10,000+ bad lines, good ones between.

Hypothesis draws NDJSON batches of bad-by-construction lines (``tests/bad_mentions.py``) with a few
valid mentions at random positions, and posts each batch to the worker. Pass conditions:

* every bad line is answered ``rejected`` with a reason code from the decoder's fixed set, and is
  on ``mentions.dlq`` (source ``http:/api/mentions``) with that same reason -- counted per reason;
* every good line is answered ``accepted`` and comes out classified on ``mentions.classified``;
* request-level abuse (no/wrong token, wrong media type, oversized body, too many lines, a client
  over its rate) gets the documented 4xx with a JSON reason code;
* the worker stays alive (``/healthz``) and ready (``/readyz``) throughout.

Each Hypothesis example draws 25-30 bad lines and one good one (longer lists are slow for
Hypothesis to draw); examples are queued and posted about 500 lines per request, so 10,000+ lines
take about 25 requests and the per-request cost (the broker's acknowledgement) stays small.
"""

from __future__ import annotations

import itertools
import time
from collections import Counter
from collections.abc import Callable

import httpx
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from pipeline.ingest.decoding import REASONS
from pipeline.ops.procs import Broker, Worker
from tests.bad_mentions import MAX_PAYLOAD_BYTES, MAX_TEXT_CHARS, bad_payloads, dumps, good
from tests.integration.conftest import consume

pytestmark = [pytest.mark.integration, pytest.mark.timeout(420)]

TOKEN = "fuzz-client-token-0a1b2c3d4e5f"
SLOW_TOKEN = "slow-client-token-9f8e7d6c5b4a"
DRAWN = (25, 30)  # bad lines per Hypothesis example: longer lists are slow to draw and overrun
EXAMPLES = 400  # 400 x 25..30 = 10,000..12,000 bad lines
LINES_PER_REQUEST = 500  # examples are queued and posted in batches of about this many lines


def post(worker: Worker, body: bytes, token: str = TOKEN, **headers: str) -> httpx.Response:
    return httpx.post(
        f"{worker.url}/api/mentions",
        content=body,
        headers={
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/x-ndjson",
            **headers,
        },
        timeout=60,
    )


def error_code(response: httpx.Response) -> str:
    code: str = response.json()["error"]["code"]
    return code


def test_ten_thousand_bad_lines_rejected_with_reasons_good_ones_processed(
    broker: Broker, start_worker: Callable[..., Worker]
) -> None:
    worker = start_worker(
        TOCSIN_INGEST_TOKENS=f"fuzz:{TOKEN},slow:{SLOW_TOKEN}",
        TOCSIN_MAX_PAYLOAD_BYTES=str(MAX_PAYLOAD_BYTES),
        TOCSIN_MAX_TEXT_CHARS=str(MAX_TEXT_CHARS),
        TOCSIN_INGEST_MAX_LINES="1000",
        TOCSIN_INGEST_BURST="100000",
        TOCSIN_INGEST_RATE_PER_S="100000",
        TOCSIN_INGEST_MAX_BODY_BYTES=str(2 * 1024 * 1024),
    )
    answered: Counter[str] = Counter()
    good_ids: list[str] = []
    numbers = itertools.count()
    started = time.monotonic()

    pending: list[tuple[str | None, bytes]] = []
    requests = 0

    def flush() -> None:
        """POST the pending lines as one NDJSON batch and check the answer line by line."""
        nonlocal requests
        lines = pending[:]
        pending.clear()
        requests += 1
        response = post(worker, b"\n".join(line for _, line in lines) + b"\n")
        assert response.status_code == 207, response.text[:500]
        results = response.json()["results"]
        assert len(results) == len(lines)
        for (gid, line), result in zip(lines, results, strict=True):
            if gid is None:
                assert result["status"] == "rejected", f"accepted: {line[:200]!r}"
                assert result["reason"] in REASONS and result["detail"]
                answered[result["reason"]] += 1
            else:
                assert result == {
                    "line": result["line"],
                    "status": "accepted",
                    "id": gid,
                    "brand": "brenmoor",
                }
                good_ids.append(gid)
        assert httpx.get(f"{worker.url}/healthz", timeout=5).status_code == 200

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.generate],  # shrinking against a live worker takes longer than CI has
    )
    @given(
        bad=st.lists(bad_payloads, min_size=DRAWN[0], max_size=DRAWN[1]),
        slot=st.integers(0, DRAWN[0]),
    )
    def draw(bad: list[bytes], slot: int) -> None:
        """One example: 25-30 bad lines with one good mention among them, queued for a batch."""
        lines: list[tuple[str | None, bytes]] = [(None, b) for b in bad]
        gid = f"good:{next(numbers)}"
        lines.insert(slot, (gid, dumps({**good(0), "id": gid})))
        pending.extend(lines)
        if len(pending) >= LINES_PER_REQUEST:
            flush()

    draw()
    if pending:
        flush()
    fuzz_s = time.monotonic() - started
    total_bad = sum(answered.values())
    print(
        f"HTTP fuzz: {total_bad} bad lines in {requests} requests, {len(good_ids)} good, "
        f"{fuzz_s:.0f} s; reasons {dict(answered)}"
    )
    assert total_bad >= 10_000

    # Request-level refusals: each a 4xx with a JSON reason code, nothing read or produced.
    one = dumps(good(1)) + b"\n"
    assert (r := post(worker, one, token="not-a-valid-token-000")).status_code == 401
    assert error_code(r) == "unauthorized" and r.headers["WWW-Authenticate"].startswith("Bearer")
    assert (
        error_code(httpx.post(f"{worker.url}/api/mentions", content=one, timeout=10))
        == "unauthorized"
    )
    assert (r := post(worker, one, **{"Content-Type": "text/plain"})).status_code == 415
    assert error_code(r) == "unsupported_media_type"
    huge = b"x" * (2 * 1024 * 1024 + 1)
    assert (r := post(worker, huge)).status_code == 413 and error_code(r) == "body_too_large"
    many = b"\n".join(dumps(good(i)) for i in range(1001))
    assert (r := post(worker, many)).status_code == 413 and error_code(r) == "too_many_lines"
    assert (r := post(worker, b"\n\n")).status_code == 400 and error_code(r) == "empty_body"
    assert httpx.get(f"{worker.url}/api/mentions", timeout=10).status_code == 405

    # Everything rejected is on the dead-letter topic with the same reason, from this endpoint.
    letters = consume(broker.bootstrap, "mentions.dlq", want=total_bad, timeout_s=120, settle_s=3)
    assert len(letters) == total_bad
    assert all(letter["source_topic"] == "http:/api/mentions" for letter in letters)
    assert Counter(letter["reason"] for letter in letters) == answered

    # The good mentions around them went all the way through the model.
    classified = consume(broker.bootstrap, "mentions.classified", want=len(good_ids), timeout_s=120)
    assert set(good_ids) <= {item["mention"]["id"] for item in classified}

    metrics = worker.metrics_text()
    assert f'tocsin_ingest_mentions_total{{result="rejected"}} {float(total_bad)}' in metrics
    assert httpx.get(f"{worker.url}/healthz", timeout=5).status_code == 200
    assert httpx.get(f"{worker.url}/readyz", timeout=5).status_code == 200
    assert worker.proc is not None and worker.proc.poll() is None


def test_rate_limit_per_client_on_a_live_worker(
    broker: Broker, start_worker: Callable[..., Worker]
) -> None:
    """A client over its bucket gets 429 + Retry-After; another client is unaffected."""
    worker = start_worker(
        TOCSIN_INGEST_TOKENS=f"fuzz:{TOKEN},slow:{SLOW_TOKEN}",
        TOCSIN_INGEST_MAX_LINES="20",
        TOCSIN_INGEST_BURST="20",
        TOCSIN_INGEST_RATE_PER_S="2",
    )
    batch = b"\n".join(dumps(good(i)) for i in range(15))
    assert post(worker, batch, token=SLOW_TOKEN).status_code == 202
    limited = post(worker, batch, token=SLOW_TOKEN)
    assert limited.status_code == 429 and error_code(limited) == "rate_limited"
    wait = int(limited.headers["Retry-After"])
    assert 1 <= wait <= 6
    assert post(worker, batch, token=TOKEN).status_code == 202
    time.sleep(wait)
    assert post(worker, batch, token=SLOW_TOKEN).status_code == 202
    assert 'tocsin_ingest_requests_total{outcome="rate_limited"} 1.0' in worker.metrics_text()
