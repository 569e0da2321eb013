"""The demo itself, run as a user runs it, asserted on: the crisis pages, the calm does not."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]


def java_pids() -> set[str]:
    out = subprocess.run(
        ["pgrep", "-f", "kafka.Kafka"], capture_output=True, text=True, check=False
    )
    return set(out.stdout.split())


def test_demo_pages_for_the_crisis_and_only_for_it(tmp_path: Path) -> None:
    crisis = json.loads((REPO / "deploy" / "demo" / "crisis.json").read_text())
    before = java_pids()
    summary_path = tmp_path / "summary.json"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pipeline.cli",
            "demo",
            "--speed",
            "4000",
            "--summary-json",
            str(summary_path),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    summary = json.loads(summary_path.read_text())
    firing = [a for a in summary["alerts"] if a["state"] == "firing"]
    start = datetime.fromisoformat(crisis["start"].replace("Z", "+00:00"))
    end = datetime.fromisoformat(crisis["end"].replace("Z", "+00:00"))
    assert any(a["brand"] == crisis["brand"] and a["topic"] == crisis["topic"] for a in firing), (
        firing
    )
    for alert in firing:  # silence during the calm: every page belongs to the crisis
        began = datetime.fromisoformat(alert["started_at"])
        assert alert["brand"] == crisis["brand"], alert
        assert start <= began <= end, alert
    assert summary["dead_lettered"] >= 1  # the stream's malformed lines reached the DLQ
    assert "ALERT FIRING" in proc.stdout
    assert java_pids() == before, "the demo left a broker running"
