"""The benchmark harness's pure parts: percentiles, lag slope, rates, recovery, tables, laps.

No broker, no clock: the figures the harness reports are only as good as this arithmetic.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from bench.report import (
    FLAT_SECONDS,
    classify_split,
    phase_rate,
    plumbing,
    recovery_threshold,
    render_markdown,
    table,
    totals,
)
from bench.stats import (
    counter_rate,
    lag_slope,
    latency_summary,
    percentile,
    recovery_time,
    smooth_rate,
)
from bench.stream import LapStream
from pipeline.brands import load_brands
from pipeline.settings import make_settings

REPO = Path(__file__).resolve().parents[3]


@given(st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=50), st.floats(0, 100))
def test_percentile_matches_numpy_linear(values: list[float], q: float) -> None:
    assert percentile(values, q) == pytest.approx(float(np.percentile(values, q)), abs=1e-6)


def test_percentile_refuses_empty_and_out_of_range() -> None:
    with pytest.raises(ValueError):
        percentile([], 50)
    with pytest.raises(ValueError):
        percentile([1.0], 101)


def test_latency_summary() -> None:
    s = latency_summary([float(x) for x in range(1, 101)])
    assert s["n"] == 100
    assert s["p50_s"] == 50.5
    assert s["p99_s"] == pytest.approx(99.01)
    assert s["max_s"] == 100
    assert latency_summary([]) == {"n": 0}


def test_lag_slope_flat_sawtooth_is_near_zero_and_growth_is_found() -> None:
    times = [float(t) for t in range(120)]
    sawtooth = [float(50 * (t % 3)) for t in range(120)]  # commits every 3 s, no growth
    assert abs(lag_slope(times, sawtooth)) < 0.1
    growing = [s + 4.0 * t for s, t in zip(sawtooth, times, strict=True)]
    assert lag_slope(times, growing) == pytest.approx(4.0, abs=0.1)


def test_lag_slope_needs_two_distinct_times() -> None:
    with pytest.raises(ValueError):
        lag_slope([1.0], [1.0])
    with pytest.raises(ValueError):
        lag_slope([1.0, 1.0], [1.0, 2.0])


def test_counter_rate_uses_the_window_only() -> None:
    samples = [(float(t), 10.0 * t) for t in range(10)] + [(10.0, 1000.0)]
    assert counter_rate(samples, 2, 8) == pytest.approx(10.0)
    assert counter_rate(samples, 20, 30) is None


def test_recovery_needs_lag_to_stay_at_zero() -> None:
    times = [float(t) for t in range(10)]
    lags = [0, 500, 300, 0, 40, 10, 0, 0, 0, 0]
    assert recovery_time(times, lags, after=1.0, settle=2) == pytest.approx(5.0)
    assert recovery_time(times, [5.0] * 10, after=1.0) is None
    # with the base rate still flowing, "recovered" is back to the pre-burst level
    assert recovery_time(times, lags, after=1.0, settle=2, threshold=40) == pytest.approx(2.0)
    assert recovery_threshold([3.0, 12.0, 7.0], base_rate=2.0) == pytest.approx(22.0)


def test_smooth_rate() -> None:
    samples = [(float(t), 3.0 * t) for t in range(20)]
    rates = smooth_rate(samples, 5.0)
    assert all(r == pytest.approx(3.0) for _, r in rates)


def test_totals_carry_a_missed_worker_sample_forward() -> None:
    samples = [
        {"t": 0.0, "workers": {"a": {"classified": 10.0}, "b": {"classified": 5.0}}},
        {"t": 1.0, "workers": {"a": {"classified": 20.0}, "b": None}},
        {"t": 2.0, "workers": {"a": {"classified": 30.0}, "b": {"classified": 15.0}}},
    ]
    assert totals(samples, "classified") == [(0.0, 15.0), (1.0, 25.0), (2.0, 45.0)]
    entry = {"start": 0.0, "end": 2.0}
    assert phase_rate(samples, entry, "classified", warm=0.0) == pytest.approx(15.0)


def test_table_renders_none_bools_and_pipes() -> None:
    text = table(["a", "b"], [[None, True], ["x|y", 1234.5678], [0.125, False]])
    lines = text.splitlines()
    assert lines[0] == "| a | b |"
    assert lines[1] == "|---|---|"
    assert lines[2] == "| - | yes |"
    assert lines[3] == "| x\\|y | 1,234.6 |"
    assert lines[4] == "| 0.125 | no |"


def test_render_markdown_quotes_the_ratios() -> None:
    results = {
        "profile": {"name": "quick"},
        "started_at": "2026-11-22T17:00:00+00:00",
        "wall_s": 300.0,
        "command": "python -m bench.run --quick",
        "machine": {"cpus": 2, "loadavg_start": [1, 1, 1], "loadavg_end": [2, 2, 2], "note": "n"},
        "raw_model": {"start": {"texts_per_s": 100.0}, "end": {"texts_per_s": 90.0}},
        "phases": {
            "probe": {"mentions_per_s": 120.0, "pipeline_over_raw": 1.263},
            "sustained": {"lag_slope_per_s": 0.01, "flat": True},
            "scaleout": {"speedup": 1.31, "per_worker_efficiency": 0.655},
        },
        "classify_split": {"max_worker_share": 0.52},
        "plumbing": {"cpu_ms_per_mention": 0.41},
        "latency": {"by_phase": {"sustained": {"n": 3, "p50_s": 1.5, "p95_s": 2.0, "p99_s": 2.1}}},
        "alerts": [],
        "processes": {},
        "timeline": [],
    }
    text = render_markdown(results)
    assert "| **pipeline / raw model** | 1.263 |" in text
    assert "| **scale-out: per-worker efficiency** | 0.655 |" in text
    assert "| **classify split: busiest worker's share (2 workers)** | 0.52 |" in text
    assert "| plumbing: worker CPU ms per mention besides the model (probe) | 0.41 |" in text
    assert "1.5 / 2.0 / 2.1 (n=3)" in text
    assert "| sustained: lag flat | yes |" in text
    assert FLAT_SECONDS > 0


def test_laps_shift_event_time_and_make_texts_unique(tmp_path: Path) -> None:
    stream = tmp_path / "s.jsonl"
    rows = [
        {
            "id": "x:1",
            "created_at": "2026-11-20T00:10:00Z",
            "text": "Neviora price x3",
            "kind": "post",
            "repost_of": None,
        },
        {
            "id": "x:2",
            "created_at": "2026-11-21T14:10:00Z",
            "text": "Neviora price x3",
            "kind": "repost",
            "repost_of": "x:1",
        },
    ]
    stream.write_text("\n".join(json.dumps(r) for r in rows) + "\nnot json\n")
    crisis = tmp_path / "c.json"
    crisis.write_text(
        json.dumps(
            {
                "brand": "valmoreau",
                "topic": "pricing",
                "mention_ids": ["x:2"],
                "start": "2026-11-21T14:00:00Z",
                "end": "2026-11-21T17:00:00Z",
            }
        )
    )
    laps = LapStream(stream, crisis, load_brands(make_settings().brands_file))
    assert len(laps) == 3
    assert laps.span == 2 * 86400
    assert laps.line(1).crisis and laps.line(1).brand == "valmoreau"
    assert laps.payload(0)[1] == json.dumps(rows[0]).encode()  # lap 0: byte for byte
    key, value = laps.payload(4)
    lap1 = json.loads(value)
    assert key == b"x:2~1" and lap1["repost_of"] == "x:1~1"
    assert lap1["created_at"] == "2026-11-23T14:10:00Z"
    assert lap1["text"] == "Neviora price x3 ·1"
    assert laps.event_time(4) == laps.event_time(1) + 2 * 86400  # type: ignore[operator]
    assert laps.payload(5)[1] == b"not json"  # malformed lines repeat unchanged


def test_counter_values_read_every_counter_from_one_exposition() -> None:
    from bench.sampler import COUNTERS, counter_values

    exposition = "\n".join(
        [
            'tocsin_agent_messages_out_total{agent="classify_mentions"} 280.0',
            'tocsin_agent_messages_out_total{agent="count_mentions"} 7.0',
            'tocsin_agent_messages_in_total{agent="count_mentions"} 280.0',
            "tocsin_model_dedup_hits_total 160.0",
            "tocsin_model_batch_size_sum 120.0",
        ]
    )
    values = counter_values(exposition)
    assert set(values) == set(COUNTERS)
    assert values["classified"] == 280.0 and values["counted"] == 280.0  # by label, not name
    assert (values["dedup_hits"], values["model_texts"], values["late"]) == (160.0, 120.0, 0.0)


def test_classify_split_is_the_busiest_workers_share() -> None:
    split = classify_split({"worker-1": 30.0, "worker-2": 10.0})
    assert split == {
        "max_worker_share": 0.75,
        "per_worker_share": {"worker-1": 0.75, "worker-2": 0.25},
    }
    # a worker that was never read says nothing about the split: no figure rather than a wrong one
    assert classify_split({"worker-1": 30.0, "worker-2": None})["max_worker_share"] is None
    assert classify_split({"worker-1": 0.0, "worker-2": 0.0})["max_worker_share"] is None


def test_plumbing_is_worker_cpu_less_the_models_share() -> None:
    probe = {
        "worker_cpu_ms_per_mention": 12.0,
        "raw_cpu_ms_per_text": 10.0,
        "mentions_per_s": 100.0,
        "model_texts_per_s": 60.0,  # 40 % of the mentions answered from the repost cache
    }
    figures = plumbing(probe)
    assert (figures["cpu_ms_per_mention"], figures["model_cpu_ms_per_mention"]) == (6.0, 6.0)
    assert plumbing({**probe, "raw_cpu_ms_per_text": None})["cpu_ms_per_mention"] is None
