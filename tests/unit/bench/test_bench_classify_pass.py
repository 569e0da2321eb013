"""The broker pass's pure parts: the backlog is what a source would write, and the figures' arithmetic.

The pass itself (broker, worker, raw process) is exercised by
``tests/integration/test_model_bench_broker.py``.
"""

from __future__ import annotations

from collections import namedtuple
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil
import pytest

from bench.classify_pass import (
    CpuSampler,
    Segment,
    build_segments,
    ceilings,
    delivery_check,
    interpolate,
    segment_figures,
    steady_window,
    summarise_profile,
)
from models.textcache import text_key
from pipeline.ingest.decoding import Limits, RawMention, decode

PLAIN = [f"Brenmoor price hike number {i}" for i in range(30)]
REPOSTED = [f"Glytera shortage report {i}" for i in range(30)]


def raw(values: list[bytes]) -> list[RawMention]:
    """Each value as the worker decodes it: the mentions.raw contract, refused if it breaks it."""
    limits = Limits(max_bytes=1 << 20, max_text_chars=5000, max_future_s=3600)
    return [decode(v, limits, datetime.now(UTC)) for v in values]


def test_segments_are_mentions_as_a_source_writes_them() -> None:
    plain, reposts = build_segments(PLAIN, REPOSTED, 0.4)
    assert (len(plain.ids), plain.reposts) == (30, 0)
    assert (len(reposts.ids), reposts.reposts) == (50, 20)
    decoded = raw(plain.values + reposts.values)
    # event time runs on across both segments
    times = [m.created_at for m in decoded]
    assert times == sorted(times) and len(set(times)) == 80
    assert [m.id for m in decoded] == plain.ids + reposts.ids
    # the repost segment repeats only its own texts, so the plain one cannot warm its cache
    originals = {m.text for m in decoded[30:] if m.kind == "post"}
    assert originals == set(REPOSTED)
    assert all(m.text.split(": ", 1)[1] in originals for m in decoded[30:] if m.kind == "repost")
    assert not originals & {m.text for m in decoded[:30]}


def test_cached_segment_repeats_the_plain_texts_after_the_others() -> None:
    plain, reposts, cached = build_segments(PLAIN, REPOSTED, 0.4, cached_copies=2)
    assert (len(cached.ids), cached.reposts, cached.texts) == (60, 60, PLAIN)
    decoded = raw(plain.values + reposts.values + cached.values)
    assert [m.id for m in decoded[80:]] == [f"cached:{i}" for i in range(60)]
    # every one is a cache hit once the plain segment is through: same key as a plain text
    plain_keys = {text_key(t) for t in PLAIN}
    assert [text_key(m.text) in plain_keys for m in decoded[80:]] == [True] * 60
    assert len({m.text for m in decoded[80:]}) == 60  # copies, not the same payload twice
    assert build_segments(PLAIN, REPOSTED, 0.4)[-1].name == "reposts"  # none unless asked


def test_ceilings_bound_the_ratios_by_the_measured_plumbing() -> None:
    def seg(mentions: int, distinct: int, machine: float | None = 1.0) -> dict[str, Any]:
        return {
            "mentions": mentions,
            "distinct_texts": distinct,
            "machine_cpu_ms_per_mention": machine,
            "worker_cpu_ms_per_mention": 0.8,
            "event_loop_cpu_ms_per_mention": 0.6,
            "broker_cpu_ms_per_mention": 0.2,
            "mentions_per_s": 1500.0,
        }

    report: dict[str, Any] = {
        "segments": {"plain": seg(100, 100), "reposts": seg(100, 60), "cached": seg(200, 100)},
        "ratios": {"plain": {"raw_cpu_ms_per_text": 9.0}, "reposts": {"raw_cpu_ms_per_text": 9.0}},
    }
    out = ceilings(report)
    assert out["plain"] == pytest.approx(9.0 / (9.0 + 1.0), abs=1e-3)  # 0.9
    assert out["reposts"] == pytest.approx(9.0 / (0.6 * 9.0 + 1.0), abs=1e-3)  # 1.406
    assert out["floor_machine_cpu_ms_per_mention"] == 1.0
    # free plumbing would leave the model alone: 1x plain, 1 / fresh share with reposts
    report["segments"]["cached"]["machine_cpu_ms_per_mention"] = 0.0
    assert (ceilings(report)["plain"], ceilings(report)["reposts"]) == (
        1.0,
        pytest.approx(1.667, abs=1e-3),
    )
    report["segments"]["cached"]["machine_cpu_ms_per_mention"] = None  # samples missed the window
    assert ceilings(report)["plain"] is None


def test_steady_window_drops_the_first_and_last_tenth() -> None:
    stamps = [float(i) for i in range(101)]
    assert steady_window(stamps, 0.1, 0.9) == (10.0, 90.0, 80)
    with pytest.raises(ValueError):
        steady_window([1.0, 2.0], 0.1, 0.9)


def test_interpolate_between_samples_and_none_outside() -> None:
    samples = [(0.0, 0.0), (1.0, 2.0), (3.0, 3.0)]
    assert interpolate(samples, 0.5) == 1.0
    assert interpolate(samples, 2.0) == 2.5
    assert interpolate(samples, 4.0) is None


def test_segment_figures_rate_and_cpu_per_mention() -> None:
    segment = Segment("plain", ["a"] * 11, [f"plain:{i}" for i in range(11)], [b""] * 11, 0)
    stamps = [100.0 + i for i in range(11)]  # one record a second
    cpu = [(99.0, 0.0), (111.0, 1.2)]  # 0.1 CPU s per wall s
    main = [(99.0, 0.0), (111.0, 0.6)]
    figures = segment_figures(segment, stamps, cpu, main)
    assert figures["steady_mentions"] == 8  # records 1..9, after the one at the 10 % stamp
    assert figures["mentions_per_s"] == 1.0
    assert figures["worker_cpu_ms_per_mention"] == 100.0
    assert figures["event_loop_cpu_ms_per_mention"] == 50.0
    assert segment_figures(segment, stamps, cpu)["event_loop_cpu_ms_per_mention"] is None
    machine = [(99.0, 0.0), (111.0, 2.4)]
    more = segment_figures(segment, stamps, cpu, main, others={"machine": machine})
    assert more["machine_cpu_ms_per_mention"] == 200.0


def test_machine_busy_time_leaves_out_steal_and_reports_it_apart(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Steal (the hypervisor running other guests) is not this machine's work: a contended host
    made the machine look 12 ms/mention busier than the worker and broker together."""
    scputimes = namedtuple(  # psutil's own shape on Linux
        "scputimes",
        "user nice system idle iowait irq softirq steal guest guest_nice",
    )
    monkeypatch.setattr(
        psutil, "cpu_times", lambda: scputimes(10.0, 1.0, 2.0, 50.0, 3.0, 0.5, 0.5, 7.0, 0.0, 0.0)
    )
    busy, steal = CpuSampler(None)._read(None)
    assert busy == pytest.approx(14.0)  # user + nice + system + irq + softirq
    assert steal == 7.0


def test_delivery_check_counts_missing_duplicates_and_strangers() -> None:
    segment = Segment("plain", [], ["plain:0", "plain:1", "plain:2"], [], 0)
    seen = [("plain:0", 1.0), ("plain:0", 2.0), ("plain:2", 3.0), ("other:9", 4.0)]
    assert delivery_check([segment], seen) == {
        "expected": 3,
        "classified_records": 4,
        "missing": 1,
        "duplicates": 1,
        "unexpected": 1,
    }


def test_summarise_profile_shares(tmp_path: Path) -> None:
    raw = tmp_path / "profile.txt"
    raw.write_text(
        "main (pipeline/cli.py:10);dumps (faust/models/record.py:5) 3\n"
        "run (threading.py:1);loads (json/__init__.py:7) 1\n"
    )
    summary = summarise_profile(raw)
    assert summary["samples"] == 4
    assert summary["threads"] == [["main > dumps", 0.75], ["run > loads", 0.25]]
    assert summary["self"][0] == ["dumps (faust/models/record.py)", 0.75]
    assert ["main (pipeline/cli.py)", 0.75] in summary["inclusive"]
