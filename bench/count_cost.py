"""What counting costs per mention, in process: ``count_event`` and the once-per-batch state write.

One brand's mentions, half a second apart, read from ``--raw-partitions`` raw partitions in turn,
are counted in batches of ``TOCSIN_COUNT_BATCH_SIZE`` (256) through
:func:`pipeline.counting.buckets.count_event` and :meth:`~pipeline.counting.buckets.BatchStates.store`,
with the detector judging every filling and closed bucket. Sends (buckets, signals, alerts, the
changelog) go nowhere, so Kafka, the producer and Faust's stream machinery are not in it
(``tocsin model bench --broker`` has the whole path). Prints the median of ``--rounds`` rounds of
process CPU per mention; to compare two versions of the counting code, run it on each checkout,
alternately.

    PYTHONPATH=$PWD .venv/bin/python -m bench.count_cost
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

from prometheus_client import CollectorRegistry

from pipeline import services
from pipeline.metrics import TocsinMetrics
from pipeline.records import Author, ClassifiedMention, Mention
from pipeline.settings import make_settings

T0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
TOPICS = ("pricing", "scandal")


class Nowhere:
    """A topic that drops what is sent to it."""

    async def send(self, **_: Any) -> None:
        return None


def events(n: int, raw_partitions: int) -> list[Any]:
    """``n`` classified mentions of one brand as the stream's events (value, message partition)."""
    out = []
    for i in range(n):
        mention = Mention(
            id=f"x:{i}",
            platform="x",
            text=f"Brenmoor price #{i}",
            created_at=T0 + timedelta(seconds=i * 0.5),
            brand="brenmoor",
            brands=["brenmoor"],
            author=Author(id=f"a{i % 500}", followers=10 + i % 1000),
            raw_partition=i % raw_partitions,
            raw_offset=i // raw_partitions,
        )
        item = ClassifiedMention(
            mention=mention,
            topics=["pricing"],
            scores={"pricing": 0.9},
            stance="neutral",
            lang="en",
            model_version="bench",
        )
        out.append(SimpleNamespace(value=item, message=SimpleNamespace(partition=0)))
    return out


async def cpu_per_mention(n: int, raw_partitions: int) -> float:
    """Process CPU microseconds per mention counted (events built beforehand)."""
    from pipeline.counting import buckets, judge
    from pipeline.tables import open_buckets

    cfg = make_settings(topics_track=TOPICS)
    services.override(metrics=TocsinMetrics(CollectorRegistry()), settings=cfg)
    nowhere: Any = Nowhere()
    for module, name in ((buckets, "buckets"), (judge, "signals"), (judge, "alerts")):
        setattr(module, name, nowhere)  # what counting sends goes nowhere
    table: Any = open_buckets
    table.send_changelog = lambda *args, **kwargs: None
    open_buckets.data.clear()
    buckets.partition_clocks().clear()
    stream = events(n, raw_partitions)
    states = buckets.BatchStates()
    size = cfg.count_batch_size
    started = time.process_time()
    for first in range(0, n, size):
        for event in stream[first : first + size]:
            await buckets.count_event(event, TOPICS, states)
        states.store()
    return (time.process_time() - started) / n * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--mentions", type=int, default=20_000)
    parser.add_argument("--raw-partitions", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    runs = [
        asyncio.run(cpu_per_mention(args.mentions, args.raw_partitions)) for _ in range(args.rounds)
    ]
    print(
        json.dumps(
            {
                "mentions": args.mentions,
                "raw_partitions": args.raw_partitions,
                "us_per_mention": [round(r, 1) for r in runs],
                "median_us_per_mention": round(statistics.median(runs), 1),
            }
        )
    )


if __name__ == "__main__":
    main()
