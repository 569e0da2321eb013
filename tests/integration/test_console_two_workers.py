"""Two workers in one consumer group: each console shows every alert, whichever worker's
partitions it is on. With SQLite each worker's feed reads every partition into its own store;
with PostgreSQL (a real server, started for the session) both share one store, which exactly one
of the two feeds writes."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from kafka import KafkaProducer

from pipeline.ops.procs import Broker, Worker
from tests.e2e.approvals_harness import LINK_SECRET, PEOPLE, tokens_env, users_file, wait_for
from tests.unit.console.records import T0, alert

pytestmark = [pytest.mark.integration, pytest.mark.timeout(400)]


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_both_workers_show_the_alerts_of_every_partition(
    broker: Broker,
    start_worker: Callable[..., Worker],
    tmp_path: Path,
    backend: str,
    request: pytest.FixtureRequest,
) -> None:
    env = {
        "TOCSIN_APPROVAL_LINK_SECRET": LINK_SECRET,
        "TOCSIN_USERS_FILE": str(users_file(tmp_path)),
        "TOCSIN_USER_TOKENS": tokens_env(),
        "TOCSIN_CONSOLE_ALERTS": "false",
    }
    if backend == "postgres":
        env["TOCSIN_CONSOLE_DSN"] = request.getfixturevalue("postgres_dsn")
    workers = [start_worker(**env), start_worker(**env)]
    keys = [f"valmoreau:pricing:{p}" for p in range(4)]
    producer = KafkaProducer(bootstrap_servers=broker.bootstrap, acks="all")
    try:
        for p, key in enumerate(keys):  # one alert on each partition of `alerts`
            value = alert(key, started=T0 + timedelta(minutes=p))
            producer.send("alerts", key=key.encode(), value=json.dumps(value).encode(), partition=p)
        producer.flush(timeout=30)
    finally:
        producer.close(timeout=10)

    auth = {"Authorization": f"Bearer {PEOPLE['h.dubois'][0]}"}
    for worker in workers:
        with httpx.Client(base_url=worker.url, headers=auth, timeout=30) as client:

            def inbox(c: httpx.Client = client) -> list[str]:
                rows = c.get("/console/inbox.json").json()["rows"]
                return [r["key"] for r in rows]

            wait_for(lambda: len(inbox()) == 4, timeout_s=60, what=f"4 alerts on {worker.url}")
            assert inbox() == keys[::-1]
    if backend == "postgres":  # one shared store, written by exactly one of the two feeds
        writers = [_gauge(w.metrics_text(), "tocsin_console_store_writer") for w in workers]
        assert sorted(writers) == [0.0, 1.0]
        password = request.getfixturevalue("postgres_server").password
        for worker in workers:  # the DSN is a secret: never in a log line
            assert worker.log_path is not None
            assert password not in worker.log_path.read_text(errors="replace")


def _gauge(text: str, name: str) -> float:
    found = [line.split()[-1] for line in text.splitlines() if line.startswith(f"{name} ")]
    assert len(found) == 1, f"{name} not exported"
    return float(found[0])
