"""Fault: the worker's state folder (APP_DATADIR) is unavailable or full.

Tocsin's tables use Faust's memory store (rebuilt from changelog topics), so the folder holds
nothing that cannot be rebuilt; the faults below check that its loss is reported clearly and costs
no data. Simulated, without root and without touching anything outside the test's tmp folder:

* **unavailable at start**: a regular file where the folder should be. The worker exits with
  status 74 and one line naming the folder, three times in a row (a crash loop), and never
  commits an offset; a worker started on a good folder afterwards processes every mention that
  was waiting.
* **unavailable while running**: the folder is moved aside and a file put in its place, then
  put back. ``/readyz`` answers 503 with the reason and ``/healthz`` 200 during the outage,
  mentions produced meanwhile are still processed, and readiness returns afterwards.
* **full**: ``TOCSIN_STATE_MIN_FREE_BYTES`` set above the free space the disk really has (the
  same comparison a nearly full volume fails); a write failing with ENOSPC is covered by the unit
  tests (``tests/unit/worker/test_statedir.py``), since filling a real disk here is not safe.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from kafka import KafkaAdminClient
from kafka.errors import CoordinatorNotAvailableError

from pipeline.ops.procs import REPO, Broker, Worker
from pipeline.worker.statedir import EXIT_STATE_DIR
from tests.integration.conftest import consume, produce

pytestmark = [pytest.mark.integration, pytest.mark.timeout(400)]

T0 = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)


def mentions(start: int, n: int) -> list[bytes]:
    return [
        json.dumps(
            {
                "id": f"sd:{i}",
                "platform": "x",
                "created_at": (T0 + timedelta(seconds=i)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "text": f"Brenmoor raised the price of Glytera again ({i})",
                "author": {"id": f"u{i}"},
            }
        ).encode()
        for i in range(start, start + n)
    ]


def committed_offsets(bootstrap: str) -> dict[str, int]:
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10_000)
    try:
        found = admin.list_group_offsets("tocsin").get("tocsin", {})
    except CoordinatorNotAvailableError:
        # No group ever joined this fresh broker, so __consumer_offsets does not even exist yet.
        return {}
    finally:
        admin.close()
    return {f"{tp.topic}/{tp.partition}": m.offset for tp, m in found.items() if m.offset >= 0}


def classified_ids(bootstrap: str, want: int) -> set[str]:
    items = consume(bootstrap, "mentions.classified", want=want, timeout_s=150)
    return {item["mention"]["id"] for item in items}


def test_unusable_state_folder_at_start_crash_loops_without_losing_mentions(
    broker: Broker, tmp_path: Path, model_dir: Path, start_worker: Callable[..., Worker]
) -> None:
    produce(broker.bootstrap, "mentions.raw", mentions(0, 40))
    blocked = tmp_path / "worker0"
    blocked.parent.mkdir(parents=True, exist_ok=True)
    blocked.write_text("a file where the state folder should be")
    for attempt in range(3):
        worker = Worker(
            bootstrap=broker.bootstrap, data_dir=blocked, env={"TOCSIN_MODEL_DIR": str(model_dir)}
        )
        log_path = tmp_path / f"refused{attempt}.log"
        # Worker.start would create the folder; start it by hand so the file stays in the way.
        with log_path.open("wb") as log:
            done = subprocess.run(
                [*worker_command(), "-l", "info"],
                env=worker_env(worker),
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=tmp_path,
                timeout=120,
            )
        text = log_path.read_text()
        assert done.returncode == EXIT_STATE_DIR, text[-2000:]
        assert f"APP_DATADIR unusable: {blocked} is not a directory" in text
        assert "Traceback" not in text
    assert not any("mentions.raw" in key for key in committed_offsets(broker.bootstrap))

    # The folder is fixed: the worker (fixture, same path) takes every waiting mention.
    blocked.unlink()
    start_worker()
    assert {f"sd:{i}" for i in range(40)} <= classified_ids(broker.bootstrap, 40)


def test_state_folder_lost_while_running_turns_readiness_false_and_loses_nothing(
    broker: Broker, tmp_path: Path, start_worker: Callable[..., Worker]
) -> None:
    worker = start_worker()
    folder = worker.data_dir
    assert httpx.get(f"{worker.url}/readyz", timeout=5).json()["checks"]["state_dir"] is True

    aside = folder.with_name(folder.name + ".away")
    folder.rename(aside)
    folder.write_text("volume gone")
    try:
        ready = wait_for_readyz(worker, want_ok=False)
        assert ready["checks"] == {
            "model_loaded": True,
            "not_rebalancing": True,
            "state_dir": False,
            "broker": True,
        }
        assert ready["state_dir"] == f"{folder} is not a directory"
        assert httpx.get(f"{worker.url}/healthz", timeout=5).status_code == 200
        produce(broker.bootstrap, "mentions.raw", mentions(100, 30))
        assert {f"sd:{i}" for i in range(100, 130)} <= classified_ids(broker.bootstrap, 30)
        assert worker.proc is not None and worker.proc.poll() is None
    finally:
        folder.unlink()
        aside.rename(folder)
    assert wait_for_readyz(worker, want_ok=True)["ready"] is True
    log = (folder / "worker.log").read_text()  # the open log moved out and back with the folder
    assert "state folder problem, readiness false" in log
    assert "state folder usable again" in log


def test_state_folder_nearly_full_is_not_ready_with_the_reason(
    broker: Broker, tmp_path: Path, model_dir: Path
) -> None:
    folder = tmp_path / "full"
    folder.mkdir()
    free = shutil.disk_usage(folder).free
    worker = Worker(
        bootstrap=broker.bootstrap,
        data_dir=folder,
        env={
            "TOCSIN_MODEL_DIR": str(model_dir),
            "TOCSIN_STATE_MIN_FREE_BYTES": str(free + 2**40),
        },
    )
    worker.start(loglevel="info")
    try:
        ready = wait_for_readyz(worker, want_ok=False, need_model=True)
        assert ready["checks"]["model_loaded"] is True and ready["checks"]["state_dir"] is False
        assert "MiB free, below TOCSIN_STATE_MIN_FREE_BYTES" in ready["state_dir"]
        assert httpx.get(f"{worker.url}/healthz", timeout=5).status_code == 200
        # Not ready, still working: the memory store does not need the disk.
        produce(broker.bootstrap, "mentions.raw", mentions(200, 10))
        assert {f"sd:{i}" for i in range(200, 210)} <= classified_ids(broker.bootstrap, 10)
    finally:
        worker.stop()


def wait_for_readyz(
    worker: Worker, *, want_ok: bool, need_model: bool = False, timeout_s: float = 120
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    last: dict[str, object] = {}
    while time.monotonic() < deadline:
        assert worker.proc is not None and worker.proc.poll() is None, "worker exited"
        try:
            response = httpx.get(f"{worker.url}/readyz", timeout=5)
        except httpx.HTTPError:
            time.sleep(0.5)
            continue
        last = response.json()
        checks = last.get("checks", {})
        model_ok = not need_model or (isinstance(checks, dict) and checks.get("model_loaded"))
        if (response.status_code == 200) == want_ok and model_ok:
            return last
        time.sleep(0.5)
    raise AssertionError(f"/readyz never became {'ready' if want_ok else 'not ready'}: {last}")


def worker_command() -> list[str]:
    return [sys.executable, "-m", "pipeline.cli", "worker"]


def worker_env(worker: Worker) -> dict[str, str]:
    return {
        **os.environ,
        "BROKER_URL": f"kafka://{worker.bootstrap}",
        "WEB_PORT": str(worker.web_port),
        "WEB_BIND": "127.0.0.1",
        "APP_DATADIR": str(worker.data_dir),
        "PYTHONPATH": str(REPO),
        **worker.env,
    }
