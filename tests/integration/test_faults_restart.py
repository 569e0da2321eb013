"""Faults of the processes themselves: the worker SIGKILLed mid-burst, the broker restarted mid-stream.

Real broker, real workers, real model; the receivers are the real-HTTP fakes of
``tests/fakes_http.py`` on 127.0.0.1 (PagerDuty Events API v2, the signed generic webhook with
idempotency keys). Pass conditions are what the people at the far end would see: every alert
arrives, no alert pages twice, and no mention is lost on the way.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from pipeline.ops.procs import Broker, Worker
from pipeline.worker.lag import topic_size
from tests.fakes_http import PagerDutyFake, WebhookFake
from tests.integration.conftest import consume, produce
from tests.integration.test_pipeline import CALM, PRICING, mention

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

PD_KEY = "R0UT1NGKEYr0ut1ngkeyR0UT1NGKEY32"
HOOK_SECRET = "whsec-restart-fault-0123456789"
TOKEN = "fault-api-token-7c1d2e"
T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
VALMOREAU_PRICING = [
    "Valmoreau just doubled the price of Neviora, migraine patients cannot afford it",
    "Le prix du Neviora a doublé, Valmoreau se moque des patients",
    "Neviora now costs 900 euros a month after Valmoreau's price hike. Scandalous.",
    "Valmoreau raised the list price of Osteliq again, my insurance won't cover it",
]
VALMOREAU_CALM = [
    "Valmoreau presents new Neviora data at the headache congress in Lyon",
    "Valmoreau is hiring pharmacists in Lyon",
    "Got my Osteliq injection today, the nurse from the Valmoreau programme was lovely",
]
SERIES = {"brenmoor": (PRICING, CALM), "valmoreau": (VALMOREAU_PRICING, VALMOREAU_CALM)}


def surge_stream(brand: str, first_id: int) -> list[bytes]:
    """Three calm hours of one-minute buckets, three minutes of a pricing surge, calm again."""
    surge, calm = SERIES[brand]
    out = []
    for minute in range(180):
        text = surge[minute % 4] if minute % 4 == 0 else calm[minute % 3]
        out.append(mention(first_id + minute, T0 + timedelta(minutes=minute, seconds=5), text))
    start = T0 + timedelta(minutes=180)
    for k in range(120):
        out.append(mention(first_id + 1000 + k, start + timedelta(seconds=k * 1.5), surge[k % 4]))
    for minute in range(183, 190):
        at = T0 + timedelta(minutes=minute, seconds=5)
        out.append(mention(first_id + 2000 + minute, at, calm[0]))
    return out


def routing_everything_to(path: Path, receivers: list[str]) -> Path:
    """One route, no grouping wait: the test is about delivery, not about batching."""
    path.write_text(
        "route:\n"
        f"  receivers: [{', '.join(receivers)}]\n"
        "  group_by: [brand, topic]\n"
        "  group_wait: 0s\n"
        "  group_interval: 1s\n"
        "  repeat_interval: 4h\n"
        "inhibit_rules: []\n"
    )
    return path


def wait_for(condition: Callable[[], bool], timeout_s: float, what: str) -> float:
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout_s:
            raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")
        time.sleep(1)
    return time.monotonic() - started


def test_worker_sigkilled_mid_burst_loses_no_alert_and_pages_once(
    broker: Broker, start_worker: Callable[..., Worker], tmp_path: Path
) -> None:
    routing = routing_everything_to(tmp_path / "routing.yaml", ["pagerduty", "webhook"])
    with PagerDutyFake(PD_KEY) as pagerduty, WebhookFake(HOOK_SECRET.encode()) as hook:
        env = {
            "TOCSIN_BUCKET_SECONDS": "60",
            "TOCSIN_ALLOWED_LATENESS_S": "30",
            "TOCSIN_API_TOKEN": TOKEN,
            "TOCSIN_ROUTING_FILE": str(routing),
            "TOCSIN_PAGERDUTY_ROUTING_KEY": PD_KEY,
            "TOCSIN_PAGERDUTY_EVENTS_URL": f"{pagerduty.base_url}/v2/enqueue",
            "TOCSIN_WEBHOOK_URL": f"{hook.base_url}{WebhookFake.PATH}",
            "TOCSIN_WEBHOOK_SECRET": HOOK_SECRET,
        }
        first = start_worker(**env)
        streams = {brand: surge_stream(brand, n * 10_000) for n, brand in enumerate(SERIES)}
        total = sum(len(s) for s in streams.values())
        # keyed by brand: one raw partition per brand keeps each brand's event order
        for brand, payloads in streams.items():
            produce(
                broker.bootstrap, "mentions.raw", payloads, keys=[brand.encode()] * len(payloads)
            )
        # kill in the middle of the burst: some output is out, most of it is not
        wait_for(
            lambda: topic_size(broker.bootstrap, "mentions.classified") >= total // 3,
            240,
            "a third of the mentions classified",
        )
        classified_at_kill = topic_size(broker.bootstrap, "mentions.classified")
        first.kill()
        second = start_worker(**env)

        keys = {f"{brand}:pricing" for brand in SERIES}

        def paged() -> set[str]:
            return {i["dedup_key"].rsplit(":", 1)[0] for i in pagerduty.incidents}

        waited = wait_for(lambda: paged() >= keys, 420, "both surges paged")
        wait_for(
            lambda: {k.rsplit(":", 1)[0] for k in hook.accepted if "/firing/" in k} >= keys,
            60,
            "both surges on the webhook",
        )
        time.sleep(5)  # room for a duplicate to show up, if the pipeline were going to send one
        print(
            f"sigkill mid-burst: {total} mentions, killed at {classified_at_kill} classified; "
            f"both alerts delivered {waited:.0f} s after the restart"
        )

        # No alert lost, none paged twice, as seen by the receivers. The two pricing surges must
        # page; the classifier may also give a surge text a second topic (the int8 encoder's
        # activation scale is per batch, so a borderline score can flip with its batch-mates), and
        # such a series pages too: whatever pages, pages once, at both receivers alike.
        incidents = Counter(i["dedup_key"] for i in pagerduty.incidents)
        assert all(n == 1 for n in incidents.values()), incidents
        assert {k.rsplit(":", 1)[0] for k in incidents} >= keys
        assert hook.duplicates == 0, "the webhook saw an idempotency key twice"
        firing = Counter(k.split("/")[0] for k in hook.accepted if "/firing/" in k)
        assert all(n == 1 for n in firing.values()), firing
        assert set(firing) == set(incidents), (firing, incidents)
        assert not pagerduty.problems and not hook.problems

    # No mention lost: every id made it to mentions.classified (some twice, that is allowed).
    out = consume(broker.bootstrap, "mentions.classified", want=total, timeout_s=120, settle_s=2)
    ids = {item["mention"]["id"] for item in out}
    assert len(ids) == total, f"{total - len(ids)} mentions never classified"
    # The tables came back: the restarted worker's alert book lists both episodes as firing.
    listed = httpx.get(
        f"{second.url}/api/alerts", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=5
    ).json()["alerts"]
    assert {a["dedup_key"] for a in listed} >= set(incidents)


def test_broker_restarted_mid_stream_worker_reconnects_and_loses_nothing(
    broker: Broker, start_worker: Callable[..., Worker]
) -> None:
    worker = start_worker()
    total = 600
    payloads = [mention(i, T0 + timedelta(seconds=i), f"{CALM[i % 3]} #{i}") for i in range(total)]
    produce(broker.bootstrap, "mentions.raw", payloads[:300])
    wait_for(
        lambda: topic_size(broker.bootstrap, "mentions.classified") >= 100,
        180,
        "the first mentions classified",
    )
    broker.stop()  # the broker goes away mid-stream (its script stops it by PID)
    time.sleep(5)
    assert worker.proc is not None and worker.proc.poll() is None, "the worker died with the broker"
    started = time.monotonic()
    broker.start()  # same port, same data folder: the topics and committed offsets are still there
    produce(broker.bootstrap, "mentions.raw", payloads[300:])

    def all_classified() -> bool:
        out = consume(broker.bootstrap, "mentions.classified", want=total, timeout_s=20, settle_s=1)
        return {item["mention"]["id"] for item in out} == {f"it:{i}" for i in range(total)}

    waited = wait_for(all_classified, 300, "every mention classified after the broker restart")
    print(
        f"broker restart: all {total} mentions classified {time.monotonic() - started:.0f} s "
        f"after the broker came back (last check took {waited:.0f} s)"
    )
    assert worker.proc.poll() is None
    assert httpx.get(f"{worker.url}/healthz", timeout=5).status_code == 200
