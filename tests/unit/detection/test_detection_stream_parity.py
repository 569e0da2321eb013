"""The stream and ``tocsin backtest`` page on the same mentions, early pages included.

Drives the real ``count_mentions`` agent (counting and detection in one stage) in Faust's test
context with one brand's mentions, and compares its alert steps with what ``tocsin backtest`` does
with the same mentions as a mention-level CSV: same steps, same episodes, same firing times, and
the CLI marks exactly the mentions at which the stream paged.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from agents import count_mentions
from pipeline import services
from pipeline.counting import buckets as counting
from pipeline.counting import judge
from pipeline.detection import SeriesDetector
from pipeline.detection.backtest import Series, backtest, run_mentions
from pipeline.detection.synthetic import SeriesSpec, Surge, generate
from pipeline.metrics import TocsinMetrics
from pipeline.records import Alert, Author, ClassifiedMention, Mention
from pipeline.settings import make_settings
from tests.fakes import RecordingTopic

LATENESS = 120


@pytest.fixture(autouse=True)
def _app(empty_counting: None, fresh_metrics: TocsinMetrics) -> Iterator[None]:
    services.override(
        metrics=fresh_metrics,
        settings=make_settings(
            bucket_seconds=300, allowed_lateness_s=LATENESS, topics_track=("pricing",)
        ),
    )
    yield
    services.reset()


def mention_times(seed: int) -> list[datetime]:
    """Four days of a synthetic series as mentions spread evenly in their buckets, with a
    building surge on day 2 and a sudden one on day 4, more than a day after the first ended
    (re-page suppression would hold back a second, smaller one within the day); both page while
    their bucket fills."""
    spec = SeriesSpec(
        name="p",
        days=4,
        level=3.0,
        alpha=0.1,
        surges=(
            Surge(start=288 + 160, kind="build", multiplier=12, ramp=4, hold=8),
            Surge(start=3 * 288 + 150, kind="sudden", multiplier=25, ramp=1, hold=6),
        ),
    )
    times = []
    for start, count in generate(spec, seed):
        for j in range(int(count)):
            times.append(start + timedelta(seconds=(j + 0.5) * 300 / count))
    return times


def item(i: int, at: datetime) -> ClassifiedMention:
    return ClassifiedMention(
        mention=Mention(
            id=f"m{i}",
            platform="x",
            text="price hike",
            created_at=at,
            brand="parity",
            brands=["parity"],
            author=Author(id=f"a{i}", kind="person"),
        ),
        topics=["pricing"],
        scores={"pricing": 0.9},
        stance="critical",
        lang="en",
        model_version="t",
    )


async def test_stream_and_mention_backtest_page_on_the_same_mentions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    alerts = RecordingTopic()
    monkeypatch.setattr(judge, "alerts", alerts)
    monkeypatch.setattr(judge, "signals", RecordingTopic())
    monkeypatch.setattr(counting, "buckets", RecordingTopic())
    times = mention_times(7)
    async with count_mentions.count_mentions.test_context() as agent:
        for i, at in enumerate(times):
            await agent.put(item(i, at), key="parity")
    stream = [
        (a.state, a.started_at, a.fired_at, a.early) for a in alerts.values if isinstance(a, Alert)
    ]

    series = Series("p", ["timestamp"], [{} for _ in times], times, None)
    run = run_mentions(
        series, SeriesDetector(judge.configs().for_series("parity", "pricing")), LATENESS
    )
    offline = [
        (
            "firing" if r.transition == "fired" else "resolved",
            r.episode_start,
            r.fired_at if r.transition == "fired" else None,
            r.early,
        )
        for r in run.readings
        if r.transition in ("fired", "resolved")
    ]
    # The stream sends what closed before the input ended; the backtest closes the rest at the end.
    assert stream == offline[: len(stream)]
    assert any(early for _, _, _, early in stream), "the sudden surge should page early"
    assert [s for s, _, _, _ in stream] == ["firing", "resolved"] * 2, stream

    src, out = tmp_path / "p.csv", tmp_path / "out.csv"
    src.write_text("timestamp\n" + "".join(f"{t.isoformat()}\n" for t in times), encoding="utf-8")
    result = CliRunner().invoke(
        backtest, ["--input", str(src), "--output", str(out), "--lateness-seconds", str(LATENESS)]
    )
    assert result.exit_code == 0, result.output
    with out.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["alert"] for r in rows] == [str(a) for a in run.alerts]
    early_rows = {datetime.fromisoformat(r["timestamp"]) for r in rows if r["alert"] == "1"}
    for state, _, fired_at, early in stream:
        if state == "firing" and early:
            assert fired_at in early_rows
