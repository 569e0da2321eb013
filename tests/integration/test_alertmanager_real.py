"""A real Alertmanager (Debian ``prometheus-alertmanager``) receives Tocsin alerts and routes them.

The test starts Alertmanager on free loopback ports (no cluster listener, storage in tmp) with a
route to a webhook receiver: a tiny HTTP server in this test. Tocsin's Alertmanager receiver posts
a firing step and then its resolved step to ``/api/v2/alerts``; the webhook must receive a
``firing`` notification carrying Tocsin's labels and then a ``resolved`` one. Alertmanager is
stopped by the PID this test started.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from pipeline.delivery.receivers.alertmanager import ALERTNAME, AlertmanagerReceiver
from pipeline.delivery.retry import RetryPolicy, deliver
from pipeline.ops.procs import free_port
from pipeline.records import Alert

pytestmark = pytest.mark.integration

BINARY = shutil.which("prometheus-alertmanager") or "/usr/bin/prometheus-alertmanager"


@dataclass
class Hook:
    """The webhook Alertmanager notifies: records each JSON notification."""

    received: list[dict[str, Any]] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None

    def start(self) -> str:
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                hook.received.append(json.loads(self.rfile.read(length)))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

    def wait_for(self, status: str, timeout_s: float = 30.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for note in self.received:
                if note.get("status") == status:
                    return note
            time.sleep(0.2)
        raise AssertionError(f"no {status} notification in {timeout_s}s; got {self.received}")


CONFIG = """\
route:
  receiver: tocsin-hook
  group_by: [alertname, brand]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: tocsin-hook
    webhook_configs:
      - url: {url}
        send_resolved: true
"""


@pytest.fixture()
def hook() -> Iterator[Hook]:
    h = Hook()
    try:
        yield h
    finally:
        h.stop()


@pytest.fixture()
def alertmanager(tmp_path: Path, hook: Hook) -> Iterator[str]:
    config = tmp_path / "alertmanager.yml"
    config.write_text(CONFIG.format(url=hook.start()), encoding="utf-8")
    port = free_port()
    log = (tmp_path / "alertmanager.log").open("wb")
    proc = subprocess.Popen(
        [
            BINARY,
            f"--config.file={config}",
            f"--storage.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
            "--log.level=info",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, (tmp_path / "alertmanager.log").read_text()
            try:
                if httpx.get(f"{base}/-/ready", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "alertmanager not ready in 30 s"
            time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        log.close()


def tocsin_alert(state: str, started: datetime, updated: datetime) -> Alert:
    return Alert(
        dedup_key="brenmoor:scandal:20261122T0900Z",
        state=state,
        severity="critical",
        brand="brenmoor",
        topic="scandal",
        started_at=started,
        updated_at=updated,
        observed=60.0,
        expected=4.0,
        score=0.9999,
        summary="60 scandal mentions of brenmoor in 5 min, expected about 4",
    )


async def test_real_alertmanager_routes_tocsin_alerts_to_a_webhook(
    alertmanager: str, hook: Hook
) -> None:
    started = datetime.now(UTC) - timedelta(minutes=5)
    receipts: list[tuple[int, str, int | None, str | None]] = []

    async def on_attempt(a: int, outcome: str, status: int | None, err: str | None) -> None:
        receipts.append((a, outcome, status, err))

    policy = RetryPolicy(attempts=3, backoff_s=0.2, backoff_max_s=0.5)
    async with httpx.AsyncClient(timeout=httpx.Timeout(5.0)) as client:
        receiver = AlertmanagerReceiver(
            alertmanager, client, generator_url="https://tocsin.example/alerts"
        )
        firing = tocsin_alert("firing", started, datetime.now(UTC))
        assert await deliver(
            receiver, firing, idempotency_key="k/firing", policy=policy, on_attempt=on_attempt
        ), receipts
        note = hook.wait_for("firing")
        (received,) = note["alerts"]
        assert received["labels"] == {
            "alertname": ALERTNAME,
            "brand": "brenmoor",
            "topic": "scandal",
            "severity": "critical",
            "dedup_key": "brenmoor:scandal:20261122T0900Z",
            "source": "tocsin",
        }
        assert received["annotations"]["state"] == "firing"
        assert received["generatorURL"] == "https://tocsin.example/alerts"
        assert note["groupLabels"] == {"alertname": ALERTNAME, "brand": "brenmoor"}
        # Alertmanager keeps it active well past its 5-minute resolve_timeout (endsAt horizon)
        listed = (await client.get(f"{alertmanager}/api/v2/alerts")).json()
        assert [a["status"]["state"] for a in listed] == ["active"]
        ends = datetime.fromisoformat(listed[0]["endsAt"].replace("Z", "+00:00"))
        assert ends - datetime.now(UTC) > timedelta(hours=11)

        resolved = tocsin_alert("resolved", started, datetime.now(UTC) + timedelta(hours=1))
        assert await deliver(
            receiver, resolved, idempotency_key="k/resolved", policy=policy, on_attempt=on_attempt
        ), receipts
        done = hook.wait_for("resolved")
        (gone,) = done["alerts"]
        assert gone["labels"]["dedup_key"] == "brenmoor:scandal:20261122T0900Z"
        # an end in the future (a clock ahead of ours) is clipped to now, so it resolves at once
        assert datetime.fromisoformat(gone["endsAt"].replace("Z", "+00:00")) <= datetime.now(UTC)
    assert [r[1] for r in receipts] == ["delivered", "delivered"]
    assert [r[2] for r in receipts] == [200, 200]
