"""What de-duplication by mention id costs ingest, per mention and per remembered id.

This measures ingest's admission of raw records (:class:`pipeline.ingest.admission.Admission`:
decode, brand match, pseudonymise, the id rule) in process, with the real ``mention_ids`` table,
whose changelog writes are serialised and queued for the producer as in a worker (the producer is
not started, so the broker's side of the write is not in it). Faust's stream machinery and the
model are not in it (``tocsin model bench --broker`` has the whole path):

- **CPU per mention**: unique branded mentions admitted with
  de-duplication on (``TOCSIN_DEDUP_MAX_IDS`` already reached, so each new id also forgets the
  oldest: the steady state, two changelog writes per mention) and off (horizon 0), alternately,
  ``--rounds`` times; the difference of the medians is what the id rule adds;
- **memory per remembered id**: ``tracemalloc`` over the table data and the forgetting queue
  of ``--ids`` remembered ids.

    PYTHONPATH=$PWD .venv/bin/python -m bench.dedup_cost
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
import tracemalloc
from typing import Any

from prometheus_client import CollectorRegistry

from pipeline import services
from pipeline.ingest.dedup import IdMemory
from pipeline.metrics import TocsinMetrics
from pipeline.settings import make_settings

TEXT = "Brenmoor tripled the price of Glytera overnight, patients cannot afford it"


def payload(i: int) -> bytes:
    return json.dumps(
        {
            "id": f"mastodon:1125{i:014d}",
            "platform": "mastodon",
            "created_at": "2026-11-20T08:01:00Z",
            "text": TEXT,
            "author": {"id": f"u{i % 97}", "followers": 50},
        }
    ).encode()


async def ingest_cpu(first: int, n: int, horizon_s: int, max_ids: int) -> float:
    """Process CPU seconds per mention for ``n`` new ids after ``max_ids`` already remembered."""
    from pipeline.ingest.admission import Admission
    from pipeline.tables import mention_ids

    services.override(
        metrics=TocsinMetrics(CollectorRegistry()),
        settings=make_settings(dedup_horizon_s=horizon_s, dedup_max_ids=max_ids),
    )
    mention_ids.data.clear()
    admission = Admission.configured(mention_ids)
    arrived = 1_795_000_000.0
    for i in range(first, first + max_ids):  # fill the memory to its bound
        admission.one(payload(i), "mentions.raw", 0, i, arrived)
    started = time.process_time()
    for i in range(first + max_ids, first + max_ids + n):
        admission.one(payload(i), "mentions.raw", 0, i, arrived)
    spent = time.process_time() - started
    mention_ids.data.clear()
    return spent / n


class Table:
    def __init__(self) -> None:
        self.data: dict[Any, Any] = {}

    def send_changelog(self, *args: Any, **kwargs: Any) -> None:
        return None


def bytes_per_id(ids: int) -> float:
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    memory = IdMemory(Table(), 24 * 3600, ids)
    for i in range(ids):
        memory.check(f"mastodon:1125{i:014d}", 0, i, 1_795_000_000 + i // 100)
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    total = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
    return total / ids


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mentions", type=int, default=10_000, help="measured per round")
    parser.add_argument("--bound", type=int, default=10_000, help="ids remembered first")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--ids", type=int, default=100_000, help="for the memory figure")
    args = parser.parse_args()

    from pipeline.app import app

    app.finalize()
    app.flow_control.resume()
    on: list[float] = []
    off: list[float] = []
    first = 0
    for _ in range(args.rounds):
        for horizon, into in ((24 * 3600, on), (0, off)):
            into.append(asyncio.run(ingest_cpu(first, args.mentions, horizon, args.bound)))
            first += args.mentions + args.bound
    result = {
        "ingest_cpu_us_per_mention_dedup_on": [round(x * 1e6, 1) for x in on],
        "ingest_cpu_us_per_mention_dedup_off": [round(x * 1e6, 1) for x in off],
        "dedup_cpu_us_per_mention_median": round(
            (statistics.median(on) - statistics.median(off)) * 1e6, 1
        ),
        "bytes_per_remembered_id": round(bytes_per_id(args.ids)),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
