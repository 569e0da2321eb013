"""bench.nab_ideas: with every idea off it pages exactly as the product; each idea changes pages."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta

from bench.nab_cv import product, run
from bench.nab_ideas import build

T0 = datetime(2024, 3, 4, tzinfo=UTC)
DAY = 288


def series(seed: int = 3) -> tuple[list[datetime], list[float]]:
    """Four days of a daily cycle around 20 a bucket, with a 12x one-hour surge on day 3 and a
    4x spike at noon on day 2 and day 3."""
    rng = random.Random(seed)
    times, values = [], []
    for i in range(4 * DAY):
        mean = 20.0 * (1.0 + 0.5 * math.sin(2 * math.pi * (i % DAY) / DAY))
        if 3 * DAY + 100 <= i < 3 * DAY + 112:
            mean *= 12.0
        if i in (2 * DAY + 144, 3 * DAY + 144):
            mean *= 4.0
        times.append(T0 + timedelta(minutes=5 * i))
        values.append(float(max(0, round(rng.gauss(mean, math.sqrt(mean))))))
    return times, values


def pages(alerts: list[float]) -> list[int]:
    return [i for i, a in enumerate(alerts) if a]


def test_with_every_idea_off_it_pages_as_the_product() -> None:
    times, values = series()
    ours, our_scores = run(build({"alert_p": 3e-4}), times, values)
    theirs, their_scores = run(product({"alert_p": 3e-4}), times, values)
    assert ours == theirs and our_scores == their_scores
    assert 3 * DAY + 100 <= pages(theirs)[0] < 3 * DAY + 112  # the surge pages


def test_a_rise_it_cannot_reach_holds_back_the_surge_page() -> None:
    times, values = series()
    held, _ = run(build({"rise_ratio": 1000.0}), times, values)
    assert pages(held) == []


def test_the_cluster_rule_only_adds_pages() -> None:
    times, values = series()
    base = set(pages(run(product({}), times, values)[0]))
    more = set(pages(run(build({"cluster_k": 1, "cluster_p": 0.2}), times, values)[0]))
    assert base <= more and len(more) > len(base)
