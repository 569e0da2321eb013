"""bench/scaling_plan.py: the arithmetic of the plan and of the burst simulation."""

from __future__ import annotations

import json
import math
from pathlib import Path

from bench.scaling_plan import Measured, arrivals, measured, plan, simulate

M = Measured(
    model_cpu_ms=10.0, plumbing_cpu_ms=2.0, hit_share=0.4, bytes_per_mention=500.0, source="test"
)


def test_plan_sizes_cores_workers_partitions_and_broker() -> None:
    p = plan(M, rate=1000, repost_share=0.5, hot_share=0.1, cores=2, utilisation=0.5, replication=3)
    assert p.model_cores == 5.0  # 500 texts/s x 10 ms
    assert p.plumbing_cores == 2.0  # 1000 x 2 ms
    assert p.workers == 7  # 7 cores at 1 core of use per worker
    assert p.partitions == 16  # next power of two of 2 x 7
    assert p.broker_write_mb_s == round(1000 * 500 * 2.2 * 3 / 1e6, 1)
    assert p.max_brand_rate_one_partition == round(0.5 * 1000 / 0.5)  # count share 0.25 of 2 ms


def test_arrivals_keyed_by_brand_put_the_hot_brand_on_one_partition() -> None:
    keyed = arrivals(hot=300, cold=400, partitions=5, spread=False)
    assert keyed[0] == (300, 300) and keyed[1:] == [(100, 0.0)] * 4
    spread = arrivals(hot=300, cold=400, partitions=5, spread=True)
    assert spread == [(140, 60)] * 5
    assert math.isclose(sum(a for a, _ in spread), sum(a for a, _ in keyed))


def test_spread_classification_drains_a_burst_that_one_partition_cannot() -> None:
    p = plan(M, rate=200, repost_share=0.4, hot_share=0.3, cores=2, utilisation=0.7, replication=3)
    keyed = simulate(M, p, 0.4, 0.3, burst=5, cores=2, spread=False)
    spread = simulate(M, p, 0.4, 0.3, burst=5, cores=2, spread=True)
    assert spread["max_classify_lag"] < keyed["max_classify_lag"]
    assert spread["seconds_to_drain_after_burst"] < keyed["seconds_to_drain_after_burst"]


def test_a_brand_above_one_partitions_counting_rate_never_drains() -> None:
    p = plan(
        M, rate=5000, repost_share=0.4, hot_share=0.5, cores=2, utilisation=0.7, replication=3
    )  # 2,500/s of one brand against 2,000/s of counting
    sim = simulate(M, p, 0.4, 0.5, burst=1, cores=2, spread=True)
    assert sim["max_hot_brand_count_lag"] > 0
    assert sim["seconds_to_drain_after_burst"] == math.inf


def test_measured_reads_the_benchmark_record(tmp_path: Path) -> None:
    record = {
        "commit": "abcdef0123",
        "started_at": "2026-01-01T00:00:00",
        "raw_model": {"start": {"cpu_ms_per_text": 9.0}, "end": {"cpu_ms_per_text": 11.0}},
        "phases": {"probe": {"cache_hit_share": 0.5, "worker_cpu_ms_per_mention": 7.0}},
    }
    results = tmp_path / "latest.json"
    results.write_text(json.dumps(record))
    stream = tmp_path / "stream.jsonl"
    stream.write_bytes(b"0123456789\n\n01234567890123456789\n")
    m = measured(results, stream)
    assert m.model_cpu_ms == 10.0
    assert m.plumbing_cpu_ms == 2.0  # 7 - (1 - 0.5) x 10
    assert m.bytes_per_mention == 15.0
