"""``tocsin model bench --broker`` end to end: real broker, real worker, real model, small backlog.

Figures are not asserted (they move with the machine); what is: every pre-loaded mention came out
of ``classify_mentions`` exactly once, the repost segment was answered from the cache for its
reposts only, the steady windows and CPU figures exist, and the ratios are computed from the raw
passes of the same run. The run is bounded: 120 texts, a worker deadline of 5 minutes.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from models.cli import model
from models.corpus import load_corpus
from models.pipeline_bench import branded

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]


def test_broker_pass_classifies_every_mention_once_and_reports_ratios(
    model_dir: Path, tmp_path: Path
) -> None:
    profile = tmp_path / "worker.pyspy"
    result = CliRunner().invoke(
        model,
        [
            "bench",
            "--artefacts",
            str(model_dir),
            "--seconds",
            "0.2",
            "--texts",
            "0",
            "--broker",
            "--broker-texts",
            "120",
            "--profile",
            str(profile),
        ],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)["broker"]

    texts = branded([e.text for e in load_corpus()])[:120]
    plain, reposts = report["segments"]["plain"], report["segments"]["reposts"]
    assert (plain["mentions"], plain["reposts"]) == (60, 0)
    assert reposts["mentions"] == 100 and reposts["reposts"] == 40
    cached = report["segments"]["cached"]  # two copies of each plain text, all from the cache
    assert (cached["mentions"], cached["reposts"]) == (120, 120)
    assert report["delivery"] == {
        "expected": 280,
        "classified_records": 280,
        "missing": 0,
        "duplicates": 0,
        "unexpected": 0,
    }
    assert 300 < report["worker_rss_mb"] < 1024  # the model is loaded; the 1 GB bound
    counters = report["worker_counters"]
    assert counters["classified"] == 280
    # every distinct text went to the model once; each repost and cached copy was a cache hit
    assert counters["model_texts"] == len(texts) == 120
    assert counters["dedup_hits"] == 40 + 120
    for name, seg in report["segments"].items():
        assert seg["steady_mentions"] > 0 and seg["steady_seconds"] > 0
        assert seg["mentions_per_s"] > 0 and seg["worker_cpu_ms_per_mention"] > 0
        assert 0 < seg["event_loop_cpu_ms_per_mention"] < seg["worker_cpu_ms_per_mention"]
        assert seg["broker_cpu_ms_per_mention"] is not None, (seg, report["cpu_samples"])
        assert 0 < seg["broker_cpu_ms_per_mention"] < seg["machine_cpu_ms_per_mention"]
        assert seg["steal_cpu_ms_per_mention"] >= 0  # reported apart, not as the machine's work
        if name == "cached":
            continue  # no raw pass: it never reaches the model
        ratio = report["ratios"][name]
        raw = report["raw_before"][name]["texts_per_s"] + report["raw_after"][name]["texts_per_s"]
        assert ratio["raw_texts_per_s"] == pytest.approx(raw / 2, abs=0.1)
        assert ratio["wall"] == pytest.approx(
            seg["mentions_per_s"] / ratio["raw_texts_per_s"], rel=0.01
        )
        assert ratio["cpu"] > 0
        assert report["raw_before"][name]["distinct_texts"] == 60
    assert set(report["ratios"]) == {"plain", "reposts"}
    ceil = report["ceilings"]
    assert ceil["floor_machine_cpu_ms_per_mention"] == cached["machine_cpu_ms_per_mention"] > 0
    assert 0 < ceil["plain"] <= 1.0 and ceil["plain"] < ceil["reposts"] <= 1 / 0.6
    assert "state_dir" not in report  # the broker and worker folder is removed after a good run
    # py-spy is optional (not a project dependency); when it is installed the profile must be read
    if shutil.which("py-spy", path=str(Path(sys.executable).parent)):
        assert report["profile"]["samples"] > 0 and profile.is_file()
    else:
        assert "py-spy" in report["profile_error"]
