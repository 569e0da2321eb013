"""The stream and ``tocsin backtest`` give identical scores and pages for the same series.

``test_backtest_cli.py`` checks the pure path (state restored from JSON for every bucket); this
drives the real ``detect_spikes`` agent in Faust's test context, with its changelog table and two
series interleaved on one stream, and compares what it sends with the CSV the CLI writes.
"""

from __future__ import annotations

import csv
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from prometheus_client import CollectorRegistry

from agents import detect_spikes
from pipeline import services
from pipeline.app import app
from pipeline.detection.backtest import backtest
from pipeline.detection.synthetic import SeriesSpec, Surge, generate
from pipeline.metrics import TocsinMetrics
from pipeline.records import Alert, Bucket, Signal
from pipeline.settings import make_settings
from tests.fakes import RecordingTopic


@pytest.fixture(autouse=True)
def _app() -> Iterator[None]:
    services.override(
        metrics=TocsinMetrics(CollectorRegistry(), receivers=("console",)),
        settings=make_settings(bucket_seconds=300),
    )
    app.finalize()
    app.flow_control.resume()
    yield
    services.reset()


def series(seed: int, level: float, surge_day: int) -> list[tuple[datetime, int]]:
    spec = SeriesSpec(
        name=f"s{seed}",
        days=4,
        level=level,
        alpha=0.2,
        surges=(
            Surge(start=surge_day * 288 + 130, kind="build", multiplier=12, ramp=4, hold=12),
            Surge(start=3 * 288 + 150, kind="sudden", multiplier=15, ramp=1, hold=10),
        ),
    )
    return generate(spec, seed)


def backtest_csv(
    tmp_path: Path, name: str, rows: list[tuple[datetime, int]]
) -> list[dict[str, str]]:
    src, out = tmp_path / f"{name}.csv", tmp_path / f"{name}.out.csv"
    src.write_text(
        "timestamp,value\n" + "".join(f"{t.strftime('%Y-%m-%dT%H:%M:%SZ')},{x}\n" for t, x in rows),
        encoding="utf-8",
    )
    result = CliRunner().invoke(backtest, ["--input", str(src), "--output", str(out)])
    assert result.exit_code == 0, result.output
    with out.open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


async def test_agent_and_backtest_agree_bucket_for_bucket(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    signals, alerts = RecordingTopic(), RecordingTopic()
    monkeypatch.setattr(detect_spikes, "signals", signals)
    monkeypatch.setattr(detect_spikes, "alerts", alerts)
    # Fresh series keys: the detectors table lives as long as the app, so other tests' series
    # (e.g. brenmoor|pricing in test_agents.py) would otherwise still be in it.
    run = uuid.uuid4().hex[:8]
    data = {f"a{run}|pricing": series(11, 4.0, 1), f"b{run}|safety": series(12, 20.0, 2)}
    async with detect_spikes.detect_spikes.test_context() as agent:
        for (t, x), (u, y) in zip(*data.values(), strict=True):
            for key, (start, count) in zip(data, ((t, x), (u, y)), strict=True):
                brand, topic = key.split("|")
                bucket = Bucket(
                    brand=brand,
                    topic=topic,
                    start=start,
                    end=start + timedelta(minutes=5),
                    count=count,
                    reach=count * 100,
                )
                await agent.put(bucket, key=key)
    for key, rows in data.items():
        brand, topic = key.split("|")
        sent: list[Signal] = [v for k, v in signals.sent if k == key]
        csv_rows = backtest_csv(tmp_path, brand, rows)
        assert [s.start for s in sent] == [t for t, _ in rows]
        # Exact equality of floats: the same code, the same arithmetic, the same order.
        assert [s.score for s in sent] == [float(r["anomaly_score"]) for r in csv_rows]
        paged = [
            a.updated_at - timedelta(minutes=5)
            for a in alerts.values
            if isinstance(a, Alert) and a.brand == brand and a.state == "firing"
        ]
        csv_paged = [t for (t, _), r in zip(rows, csv_rows, strict=True) if r["alert"] == "1"]
        assert paged == csv_paged
        assert len(paged) == 2, f"{key}: both surges should page, got {paged}"
