"""Fault: the receivers fail for a minute each (429 + Retry-After, 500/503, timeouts), then recover.

A real broker and worker; the receivers are the real-HTTP fakes of ``tests/fakes_http.py``
(PagerDuty Events API v2 and the signed generic webhook) on 127.0.0.1. Alert steps are produced
straight to the ``alerts`` topic (firing -> acknowledged -> resolved for five dedup keys); each
fake answers every request with the next failure of a cycle for ``OUTAGE_S`` seconds from the
first request it gets. The worker delivers one step to one receiver at a time, so the webhook's
outage only starts once PagerDuty's is over: about two minutes of failing deliveries in all.

The issue asks for "minutes"; each outage is scaled down to 60 s to keep the test near three
minutes. What makes the scaling honest is the retry budget: the worker is started with 20
attempts and backoff capped at 10 s, whose *minimum* total wait (equal jitter: half of each
ceiling, 0.25 + 0.5 + 1 + 2 + 4 + 14 x 5 = 77.75 s) outlasts the outage, so the test checks
what the pipeline does when the budget is sized for the outage -- not luck. With the default
budget (5 attempts, about 8-15 s) a step is given up after a failure this long.

Pass conditions, as seen by the receivers after recovery:
* every step reached the webhook exactly once (its idempotency keys, no duplicate deliveries);
* per dedup key the steps arrived in order (firing, acknowledged, resolved);
* PagerDuty holds exactly one incident per dedup key, resolved -- although some timed-out
  requests were processed by it (the caller never heard), which only the dedup key absorbs;
* the receipts on ``alerts.deliveries`` show one ``delivered`` per step and receiver, after
  ``retried`` ones during the outage; the worker stayed alive.
"""

from __future__ import annotations

import itertools
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from pipeline.ops.procs import Broker, Worker
from pipeline.records import Alert
from tests.fakes_http import FakeAPI, Fault, PagerDutyFake, WebhookFake
from tests.integration.conftest import consume, produce

pytestmark = [pytest.mark.integration, pytest.mark.timeout(400)]

OUTAGE_S = 60.0
CLIENT_TIMEOUT_S = 1.0
PD_KEY = "R0UT1NGKEYr0ut1ngkeyR0UT1NGKEY32"
HOOK_SECRET = "whsec-fault-test-0123456789"
STEPS = ("firing", "acknowledged", "resolved")
SERIES = [
    ("brenmoor", "pricing"),
    ("brenmoor", "scandal"),
    ("valmoreau", "pricing"),
    ("quillon", "boycott"),
    ("quillon", "adverse_event"),
]
T0 = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)


class Outage:
    """Makes a fake answer each request with the next fault of ``faults`` for ``seconds``,
    counted from the first request it receives.

    Built on the fake's own fault script (one scripted fault is queued per request while the
    outage lasts), so the fakes keep their behaviour and this test adds no mode to them. The
    clock starts at the first request because the worker delivers one step to one receiver at a
    time: while PagerDuty is down the webhook is not called at all, so an outage on a shared
    clock would be over before the webhook saw any of it.
    """

    def __init__(self, fake: FakeAPI, faults: list[Fault], seconds: float) -> None:
        self.faults: Iterator[Fault] = itertools.cycle(faults)
        self.seconds = seconds
        self.began: float | None = None
        serve = fake._serve

        def serve_with_outage(handler: Any) -> None:
            with fake._lock:
                now = time.monotonic()
                self.began = self.began if self.began is not None else now
                if now < self.began + self.seconds and not fake._faults:
                    fake._faults.append(next(self.faults))
            serve(handler)

        fake._serve = serve_with_outage  # type: ignore[method-assign]

    @property
    def ended(self) -> float:
        assert self.began is not None, "the fake never received a request"
        return self.began + self.seconds


def alert(brand: str, topic: str, step: int) -> Alert:
    state = STEPS[step]
    return Alert(
        dedup_key=f"{brand}:{topic}:20261122T0900Z",
        state=state,
        severity="critical",
        brand=brand,
        topic=topic,
        started_at=T0,
        updated_at=T0 + timedelta(minutes=5 * step),
        observed=40.0,
        expected=3.0,
        score=0.9999,
        summary=f"{brand} {topic}: 40 mentions in 5 min vs 3 expected ({state})",
        top_mentions=[
            {"id": "x:1", "text": "they tripled the price", "url": "https://x.example/1"}
        ],
    )


def test_receivers_failing_for_a_minute_then_every_alert_delivered_once_in_order(
    broker: Broker, start_worker: Callable[..., Worker]
) -> None:
    with PagerDutyFake(PD_KEY) as pagerduty, WebhookFake(HOOK_SECRET.encode()) as hook:
        pd_outage = Outage(
            pagerduty,
            [
                Fault.rate_limited("3"),
                Fault.error(500),
                Fault.timeout(CLIENT_TIMEOUT_S * 2, process=True),  # acted on, answer lost
                Fault.error(503),
            ],
            OUTAGE_S,
        )
        hook_outage = Outage(
            hook,
            [Fault.error(500), Fault.rate_limited("2"), Fault.timeout(CLIENT_TIMEOUT_S * 2)],
            OUTAGE_S,
        )
        worker = start_worker(
            TOCSIN_PAGERDUTY_ROUTING_KEY=PD_KEY,
            TOCSIN_PAGERDUTY_EVENTS_URL=f"{pagerduty.base_url}/v2/enqueue",
            TOCSIN_WEBHOOK_URL=f"{hook.base_url}{WebhookFake.PATH}",
            TOCSIN_WEBHOOK_SECRET=HOOK_SECRET,
            TOCSIN_HTTP_TIMEOUT_S=str(CLIENT_TIMEOUT_S),
            TOCSIN_DELIVERY_ATTEMPTS="20",
            TOCSIN_DELIVERY_BACKOFF_S="0.5",
            TOCSIN_DELIVERY_BACKOFF_MAX_S="10",
        )
        started = time.monotonic()
        steps = [alert(b, t, s) for s in range(len(STEPS)) for b, t in SERIES]
        produce(
            broker.bootstrap,
            "alerts",
            [a.dumps() for a in steps],
            keys=[a.dedup_key.encode() for a in steps],
        )

        want = {f"{a.dedup_key}/{a.state}/webhook" for a in steps}
        deadline = started + 2 * OUTAGE_S + 120
        while time.monotonic() < deadline and set(hook.accepted) != want:
            assert worker.proc is not None and worker.proc.poll() is None, "worker died"
            time.sleep(1)
        took = time.monotonic() - started

        def failures(fake: FakeAPI) -> int:
            return sum(1 for r in fake.requests if r.status not in (200, 202))

        print(
            f"receivers fault: {len(steps)} steps, each receiver down {OUTAGE_S:.0f} s from its "
            f"first request; all delivered {took:.0f} s after producing; webhook "
            f"{len(hook.requests)} requests ({failures(hook)} failed), PagerDuty "
            f"{len(pagerduty.requests)} ({failures(pagerduty)} failed)"
        )

        # Webhook: each step exactly once, in order per dedup key.
        assert set(hook.accepted) == want
        assert hook.duplicates == 0
        assert not hook.problems and not pagerduty.problems
        order: dict[str, list[str]] = {}
        for key in hook.accepted:  # insertion order = order of acceptance
            dedup, state, _ = key.rsplit("/", 2)
            order.setdefault(dedup, []).append(state)
        assert all(states == list(STEPS) for states in order.values()), order

        # PagerDuty: one incident per dedup key, resolved (a resolve before its trigger would
        # have been dropped and left the incident open).
        by_key = Counter(i["dedup_key"] for i in pagerduty.incidents)
        assert by_key == Counter({a.dedup_key: 1 for a in steps})
        assert {i["status"] for i in pagerduty.incidents} == {"resolved"}

        # The outage really happened to both receivers, and lasted: no success before its end.
        for fake, outage in ((hook, hook_outage), (pagerduty, pd_outage)):
            assert failures(fake) >= 5
            first_ok = min(r.at for r in fake.requests if r.status in (200, 202))
            assert first_ok >= outage.ended - 0.5

    receipts = consume(broker.bootstrap, "alerts.deliveries", want=1, timeout_s=60, settle_s=5)
    outcomes = Counter((r["dedup_key"], r["state"], r["receiver"], r["outcome"]) for r in receipts)
    for a in steps:
        for receiver in ("webhook", "pagerduty"):
            assert outcomes[(a.dedup_key, a.state, receiver, "delivered")] == 1, (a, receiver)
            assert outcomes[(a.dedup_key, a.state, receiver, "failed")] == 0
    assert sum(n for (_, _, _, outcome), n in outcomes.items() if outcome == "retried") >= 10
    assert httpx.get(f"{worker.url}/healthz", timeout=5).status_code == 200
