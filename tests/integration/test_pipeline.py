"""The core path on a real broker with real worker processes and the real model. No mocks."""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from pipeline.ops.demo import metric_value, wait_drained
from pipeline.ops.procs import Broker, Worker
from tests.integration.conftest import consume, produce

pytestmark = pytest.mark.integration

PRICING = [
    "Brenmoor just tripled the price of Glytera overnight, patients cannot afford it",
    "Glytera now costs $1,400 a month thanks to Brenmoor's price hike. Disgusting.",
    "Brenmoor raised the list price of Glytera again, insurance won't cover the difference",
    "Le prix du Glytera a triplé, Brenmoor se moque des patients",
]
CALM = [
    "Brenmoor presents new Cardelio data at the cardiology congress this week",
    "Brenmoor is hiring data engineers in Princeton",
    "Picked up my Respivel refill from the Brenmoor pharmacy program today",
]


TOKEN = "it-token-5e1f0c9a7b"


def mention(i: int, at: datetime, text: str) -> bytes:
    return json.dumps(
        {
            "id": f"it:{i}",
            "platform": "x",
            "url": f"https://x.example/status/{i}",
            "created_at": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "text": text,
            "author": {
                "id": f"u{i % 97}",
                "followers": 100 + i,
                "verified": False,
                "kind": "patient",
            },
            "kind": "post",
        }
    ).encode()


def test_mentions_on_raw_come_out_as_an_alert(
    broker: Broker, start_worker: Callable[..., Worker]
) -> None:
    """Three quiet hours of one-minute buckets, then a pricing surge: one firing alert, right
    brand/topic, paged early (while its bucket filled) within 90 s of event time."""
    worker = start_worker(
        TOCSIN_BUCKET_SECONDS="60", TOCSIN_ALLOWED_LATENESS_S="30", TOCSIN_API_TOKEN=TOKEN
    )
    t0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
    payloads = []
    for minute in range(180):  # calm: one mention a minute, every 4th about pricing
        text = PRICING[minute % 4] if minute % 4 == 0 else CALM[minute % 3]
        payloads.append(mention(minute, t0 + timedelta(minutes=minute, seconds=5), text))
    surge_start = t0 + timedelta(minutes=180)
    for k in range(120):  # 40 pricing mentions a minute for three minutes
        payloads.append(mention(1000 + k, surge_start + timedelta(seconds=k * 1.5), PRICING[k % 4]))
    for minute in range(183, 190):  # calm again, moving the watermark past the surge
        payloads.append(mention(2000 + minute, t0 + timedelta(minutes=minute, seconds=5), CALM[0]))
    # One raw partition keeps event order = processing order, as a live source would deliver them;
    # spread over 4 partitions the calm tail could close the surge buckets before they fill.
    produce(broker.bootstrap, "mentions.raw", payloads, keys=[b"brenmoor"] * len(payloads))

    alerts = consume(broker.bootstrap, "alerts", want=1, timeout_s=120)
    firing = [a for a in alerts if a["state"] == "firing"]
    assert [(a["brand"], a["topic"]) for a in firing] == [("brenmoor", "pricing")]
    alert = firing[0]
    assert alert["dedup_key"].startswith("brenmoor:pricing:20261120T12")
    assert alert["early"] and alert["tipping_mention"]["id"].startswith("it:1")
    fired_at = datetime.fromisoformat(alert["fired_at"].replace("Z", "+00:00"))
    assert timedelta(0) < fired_at - surge_start <= timedelta(seconds=90), alert["fired_at"]
    assert alert["observed"] > 3 * alert["expected"]
    assert alert["why"]["language"] in ("en", "fr") and alert["why"]["author_kind"] == "patient"
    assert alert["top_mentions"], "an alert carries its evidence"
    # the console receiver delivered it, and said so on the receipts topic
    receipts = consume(broker.bootstrap, "alerts.deliveries", want=1, timeout_s=30)
    assert receipts[0]["outcome"] == "delivered" and receipts[0]["receiver"] == "console"
    assert worker.log_path is not None and "[tocsin] FIRING" in worker.log_path.read_text()
    # the alert is on the authenticated API, and only there
    api = f"{worker.url}/api/alerts"
    assert httpx.get(api, timeout=5).status_code == 401
    wrong = httpx.get(api, headers={"Authorization": "Bearer nope-nope-nope"}, timeout=5)
    assert wrong.status_code == 401
    listed = httpx.get(api, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=5)
    assert listed.status_code == 200
    keys = {a["dedup_key"] for a in listed.json()["alerts"]}
    assert alert["dedup_key"] in keys
    assert TOKEN not in worker.log_path.read_text()
    metrics = worker.metrics_text()
    assert metric_value(metrics, "tocsin_alerts_total", state="firing") == 1
    assert (
        metric_value(metrics, "tocsin_deliveries_total", receiver="console", outcome="delivered")
        >= 1
    )


def bad_payloads() -> list[tuple[bytes, str]]:
    """100 malformed payloads of five kinds, with the reason each must be dead-lettered for."""
    good = json.loads(mention(0, datetime(2026, 11, 20, tzinfo=UTC), PRICING[0]))
    out: list[tuple[bytes, str]] = []
    for i in range(20):
        out.append((b'{"id": "bad-json-%d", "text": ' % i, "invalid_json"))
        missing = {
            k: v for k, v in good.items() if k != ("text", "author", "created_at", "id")[i % 4]
        }
        out.append((json.dumps(missing).encode(), "missing_field"))
        wrong = dict(good, **{("text", "created_at", "author")[i % 3]: [1, 2, 3]})
        out.append((json.dumps(wrong).encode(), "wrong_type"))
        huge = dict(good, id=f"huge-{i}", text="Brenmoor " + "x" * 1_000_000)
        out.append((json.dumps(huge).encode(), "oversized"))
        out.append((b'{"id": "utf8-%d", "text": "\xff\xfe\xfa Brenmoor"}' % i, "invalid_utf8"))
    return out


def test_malformed_payloads_go_to_the_dlq_and_good_ones_flow(
    broker: Broker, start_worker: Callable[..., Worker]
) -> None:
    worker = start_worker()
    bad = bad_payloads()
    t0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
    payloads: list[bytes] = []
    for i, (payload, _) in enumerate(bad):
        payloads.append(payload)
        if i % 2 == 0:
            payloads.append(mention(i, t0 + timedelta(seconds=i), CALM[i % 3]))
    produce(broker.bootstrap, "mentions.raw", payloads)

    letters = consume(broker.bootstrap, "mentions.dlq", want=100, timeout_s=120, settle_s=2)
    assert len(letters) == 100
    assert Counter(letter["reason"] for letter in letters) == Counter(reason for _, reason in bad)
    assert all(letter["detail"] and letter["payload"] for letter in letters)
    # nothing lost: the oversized payloads are kept whole, the non-UTF-8 ones as base64
    assert max(len(letter["payload"]) for letter in letters) > 1_000_000
    assert {
        letter["payload_encoding"] for letter in letters if letter["reason"] == "invalid_utf8"
    } == {"base64"}
    good = consume(broker.bootstrap, "mentions.classified", want=50, timeout_s=60, settle_s=2)
    assert len(good) == 50
    # the worker is alive and still processing
    assert httpx.get(f"{worker.url}/healthz", timeout=5).status_code == 200
    assert httpx.get(f"{worker.url}/readyz", timeout=5).json()["ready"] is True
    # no token configured: the API is closed, not open
    assert httpx.get(f"{worker.url}/api/alerts", timeout=5).status_code == 503
    produce(broker.bootstrap, "mentions.raw", [mention(999, t0, CALM[0])])
    assert len(consume(broker.bootstrap, "mentions.classified", want=51, timeout_s=60)) == 51
    text = worker.metrics_text()
    assert metric_value(text, "tocsin_dead_letters_total") == 100
    assert metric_value(text, "tocsin_dead_letters_total", reason="oversized") == 20
    # consumer lag per partition is exported, and is zero once the group has committed everything
    wait_drained(broker.bootstrap, timeout_s=60)
    text = worker.metrics_text()
    lag_lines = [line for line in text.splitlines() if line.startswith("tocsin_consumer_lag{")]
    assert any('topic="mentions.raw"' in line for line in lag_lines), lag_lines
    assert metric_value(text, "tocsin_consumer_lag", topic="mentions.raw") == 0
    # a drained mention path is never judged stalled (the liveness half of /healthz)
    assert metric_value(text, "tocsin_stalled_partitions") == 0


def test_restarted_worker_resumes_from_committed_offsets(
    broker: Broker, start_worker: Callable[..., Worker]
) -> None:
    """SIGKILL mid-stream and restart: nothing lost, only uncommitted input comes out twice."""
    first = start_worker()
    t0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
    total = 600
    payloads = [mention(i, t0 + timedelta(seconds=i), f"{CALM[i % 3]} #{i}") for i in range(total)]
    produce(broker.bootstrap, "mentions.raw", payloads[:300])
    consume(broker.bootstrap, "mentions.classified", want=300, timeout_s=120)
    wait_drained(broker.bootstrap, timeout_s=60)  # the first half is processed *and committed*
    produce(broker.bootstrap, "mentions.raw", payloads[300:])
    first.kill()  # no clean shutdown, no final commit
    second = start_worker()
    # every mention comes out (the property), and then the group's commits reach the log end: both
    # failed before pipeline/redelivery.py (Faust dropped refetched messages after a rebalance,
    # which lost them and left the commit stuck below them for good)
    deadline = time.monotonic() + 300
    while True:  # duplicates can fill the count before the last mentions are through: poll by id
        out = consume(broker.bootstrap, "mentions.classified", want=total, timeout_s=60, settle_s=2)
        ids = Counter(item["mention"]["id"] for item in out)
        if len(ids) == total or time.monotonic() > deadline:
            break
        time.sleep(5)
    lost = sorted({f"it:{i}" for i in range(total)} - set(ids))
    assert not lost, f"{len(lost)} mentions lost: {lost[:20]}"
    duplicated = {i for i, n in ids.items() if n > 1}
    # at-least-once: only the uncommitted second half may come out twice, never the committed first
    committed_twice = sorted(i for i in duplicated if int(i.split(":")[1]) < 300)
    assert not committed_twice, f"committed input processed again: {committed_twice[:20]}"
    wait_drained(broker.bootstrap, timeout_s=120)  # raises with the lag per topic if stuck
    # The restart resumed from the committed offsets: it read the uncommitted second half (plus any
    # redelivery a rebalance allows), never the committed first half from the start.
    resumed = metric_value(
        second.metrics_text(), "tocsin_agent_messages_in_total", agent="classify_mentions"
    )
    assert resumed < total, f"the restarted worker read {resumed} messages: it started over"


QUILLON_CALM = [
    "Quillon presents new Epidra data at the dermatology congress in Paris",
    "Quillon is hiring clinical research associates in Cambridge",
    "Picked up my Artivane refill today, the Quillon nurse line was helpful",
]


def test_a_brand_gone_quiet_resolves_as_its_partition_moves_on(
    broker: Broker, start_worker: Callable[..., Worker]
) -> None:
    """brenmoor surges, pages, and then nobody mentions it again; quillon (same ``mentions``
    partition: both keys hash to 0 of 4) keeps being mentioned. brenmoor's buckets must close
    from quillon's event time so its alert resolves; before, they waited for brenmoor's next
    mention and the alert stayed firing."""
    start_worker(
        TOCSIN_BUCKET_SECONDS="60",
        TOCSIN_ALLOWED_LATENESS_S="30",
        TOCSIN_QUIET_CLOSE_AFTER_S="5",
        TOCSIN_API_TOKEN=TOKEN,
    )
    t0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)

    def quillon(minutes: range) -> list[tuple[datetime, bytes]]:
        out = []
        for minute in minutes:
            at = t0 + timedelta(minutes=minute, seconds=35)
            out.append((at, mention(5000 + minute, at, QUILLON_CALM[minute % 3])))
        return out

    first: list[tuple[datetime, bytes]] = quillon(range(183))
    for minute in range(180):
        at = t0 + timedelta(minutes=minute, seconds=5)
        text = PRICING[minute % 4] if minute % 4 == 0 else CALM[minute % 3]
        first.append((at, mention(minute, at, text)))
    for k in range(120):  # the surge, brenmoor's last mentions (to 12:02:58)
        at = t0 + timedelta(minutes=180, seconds=k * 1.5)
        first.append((at, mention(1000 + k, at, PRICING[k % 4])))
    first.sort(key=lambda pair: pair[0])  # one raw partition, in event order, as a live source
    produce(broker.bootstrap, "mentions.raw", [p for _, p in first], keys=[b"live"] * len(first))
    wait_drained(broker.bootstrap, timeout_s=180)
    # brenmoor's own mentions closed the surge's first buckets: it pages, and stays firing
    alerts = consume(broker.bootstrap, "alerts", want=1, timeout_s=60, settle_s=2)
    assert [(a["brand"], a["topic"], a["state"]) for a in alerts] == [
        ("brenmoor", "pricing", "firing")
    ]
    time.sleep(8)  # brenmoor is now quiet for longer than TOCSIN_QUIET_CLOSE_AFTER_S
    later = quillon(range(183, 330))
    produce(broker.bootstrap, "mentions.raw", [p for _, p in later], keys=[b"live"] * len(later))
    alerts = consume(broker.bootstrap, "alerts", want=2, timeout_s=180)
    states = [(a["brand"], a["topic"], a["state"]) for a in alerts]
    assert states == [("brenmoor", "pricing", "firing"), ("brenmoor", "pricing", "resolved")]
