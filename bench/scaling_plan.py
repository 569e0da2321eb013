"""What it takes to follow a large mention rate: a plan from per-worker figures measured here.

A script that prints figures (no test asserts them). It reads the committed full benchmark
(`bench/results/latest.json`, the figures of `make bench BENCH_ARGS=`) for what one worker costs:

- the raw model's CPU per text (`raw_model.*.cpu_ms_per_text`, measured alone, batch 32);
- the whole worker's CPU per mention in the probe phase, and the repost-cache hit share there;
  the difference is the plumbing (decode, Kafka hops, counting, detection, dispatch) per mention.

From them it sizes a deployment for `--rate` mentions/s (workers, cores, partitions, broker
throughput) and runs a one-second-step fluid simulation of a single brand surging to
`--burst`x its share for two minutes, twice: classification keyed by brand (one partition does a
brand's model work) and spread over every partition (any worker classifies any mention). Each
partition is served by one worker's event loop; the report is the largest lag and how long it
takes to drain. Counting stays keyed by brand in both, so the simulation also says at which brand
rate the counting partition becomes the bottleneck.

    python -m bench.scaling_plan                         # 10,000 mentions/s, defaults below
    python -m bench.scaling_plan --rate 2000 --worker-cores 4 --json
"""

from __future__ import annotations

import argparse
import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results" / "latest.json"

#: Share of the plumbing that runs on the brand-keyed side (counting, detection, dispatch), when
#: the benchmark does not split it: the count stage is one of the pipeline's four Kafka hops.
COUNT_SHARE = 0.25
#: Kafka topics a mention is written to on its way (raw, classified, buckets share), each replicated.
WRITES_PER_MENTION = 2.2


@dataclass(frozen=True)
class Measured:
    model_cpu_ms: float  # per text the model sees
    plumbing_cpu_ms: float  # per mention, everything but the model
    hit_share: float  # share of mentions answered by the repost cache in the probe
    bytes_per_mention: float
    source: str


@dataclass(frozen=True)
class Plan:
    rate: float
    model_cores: float
    plumbing_cores: float
    workers: int
    partitions: int
    broker_write_mb_s: float
    count_partition_cores_hot_brand: float
    max_brand_rate_one_partition: float


def measured(path: Path, stream: Path) -> Measured:
    data: dict[str, Any] = json.loads(path.read_text())
    raw = data["raw_model"]
    model_ms = (raw["start"]["cpu_ms_per_text"] + raw["end"]["cpu_ms_per_text"]) / 2
    probe = data["phases"]["probe"]
    hit = float(probe["cache_hit_share"])
    worker_ms = float(probe["worker_cpu_ms_per_mention"])
    plumbing = max(worker_ms - (1 - hit) * model_ms, 0.0)
    sizes = [len(line) for line in stream.read_bytes().splitlines() if line.strip()]
    return Measured(
        model_cpu_ms=model_ms,
        plumbing_cpu_ms=plumbing,
        hit_share=hit,
        bytes_per_mention=sum(sizes) / max(len(sizes), 1),
        source=f"{path.name} (commit {str(data.get('commit', '?'))[:8]}, {data.get('started_at')})",
    )


def plan(
    m: Measured,
    rate: float,
    repost_share: float,
    hot_share: float,
    cores: float,
    utilisation: float,
    replication: int,
) -> Plan:
    model_cores = rate * (1 - repost_share) * m.model_cpu_ms / 1000
    plumbing_cores = rate * m.plumbing_cpu_ms / 1000
    workers = max(1, math.ceil((model_cores + plumbing_cores) / (cores * utilisation)))
    # Partitions bound the workers one group keeps busy; leave room to double without a grow.
    partitions = 1 << max(2, math.ceil(math.log2(workers * 2)))
    count_ms = m.plumbing_cpu_ms * COUNT_SHARE
    return Plan(
        rate=rate,
        model_cores=round(model_cores, 1),
        plumbing_cores=round(plumbing_cores, 1),
        workers=workers,
        partitions=partitions,
        broker_write_mb_s=round(
            rate * m.bytes_per_mention * WRITES_PER_MENTION * replication / 1e6, 1
        ),
        count_partition_cores_hot_brand=round(rate * hot_share * count_ms / 1000, 2),
        max_brand_rate_one_partition=round(utilisation * 1000 / count_ms),
    )


def arrivals(hot: float, cold: float, partitions: int, spread: bool) -> list[tuple[float, float]]:
    """Per partition: mentions/s arriving and the hot brand's part of them."""
    if spread:
        return [((hot + cold) / partitions, hot / partitions)] * partitions
    return [(hot, hot)] + [(cold / (partitions - 1), 0.0)] * (partitions - 1)


def simulate(
    m: Measured,
    p: Plan,
    repost_share: float,
    hot_share: float,
    burst: float,
    cores: float,
    spread: bool,
) -> dict[str, float]:
    """Fluid model, 1 s steps: 2 min base, 2 min burst of the hot brand, then drain (max 30 min).

    A worker runs its partitions' model calls on ``cores`` threads; each partition's records pass
    one event loop, so a partition never gets more than one core of plumbing. Counting is keyed by
    brand in both layouts: the hot brand's counts queue on one partition at ``1 / count_ms``.
    """
    per_mention_ms = (1 - repost_share) * m.model_cpu_ms + m.plumbing_cpu_ms
    worker_capacity = cores * 1000 / per_mention_ms  # mentions/s one worker classifies
    loop_capacity = 1000 / m.plumbing_cpu_ms
    if spread:
        partition_capacity = min(worker_capacity * p.workers / p.partitions, loop_capacity)
    else:  # the hot brand's partition has a worker to itself at best
        partition_capacity = min(worker_capacity, loop_capacity)
    count_capacity = 1000 / (m.plumbing_cpu_ms * COUNT_SHARE)
    lag = [0.0] * p.partitions
    count_lag, max_lag, max_count_lag = 0.0, 0.0, 0.0
    drained_at: int | None = None
    for t in range(1800):
        hot = hot_share * p.rate * (burst if 120 <= t < 240 else 1.0)
        cold = (1 - hot_share) * p.rate
        hot_out = 0.0
        for i, (arriving, hot_part) in enumerate(arrivals(hot, cold, p.partitions, spread)):
            served = min(lag[i] + arriving, partition_capacity)
            lag[i] += arriving - served
            hot_out += served * hot_part / arriving if arriving else 0.0
        counted = min(count_lag + hot_out, count_capacity)
        count_lag += hot_out - counted
        max_lag = max(max_lag, sum(lag))
        max_count_lag = max(max_count_lag, count_lag)
        if t >= 240 and sum(lag) + count_lag <= p.rate:  # under a second of input left
            drained_at = t
            break
    return {
        "max_classify_lag": round(max_lag),
        "max_hot_brand_count_lag": round(max_count_lag),
        "seconds_to_drain_after_burst": float(drained_at - 240) if drained_at else math.inf,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rate", type=float, default=10_000, help="mentions/s to follow")
    parser.add_argument("--repost-share", type=float, default=0.4, help="answered from the cache")
    parser.add_argument("--hot-brand-share", type=float, default=0.2, help="one brand's share")
    parser.add_argument("--burst", type=float, default=5.0, help="the hot brand's surge factor")
    parser.add_argument("--worker-cores", type=float, default=2.0)
    parser.add_argument("--utilisation", type=float, default=0.7, help="planned CPU use")
    parser.add_argument("--replication", type=int, default=3)
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--stream", type=Path, default=Path("deploy/demo/stream.jsonl"))
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    m = measured(args.results, args.stream)
    p = plan(
        m,
        args.rate,
        args.repost_share,
        args.hot_brand_share,
        args.worker_cores,
        args.utilisation,
        args.replication,
    )
    sims = {
        name: simulate(
            m, p, args.repost_share, args.hot_brand_share, args.burst, args.worker_cores, spread
        )
        for name, spread in (("keyed_by_brand", False), ("spread", True))
    }
    out = {"measured": asdict(m), "plan": asdict(p), "burst_simulation": sims}
    if args.json:
        print(json.dumps(out, indent=2))
        return
    print(
        f"measured ({m.source}): model {m.model_cpu_ms:.2f} CPU ms/text, plumbing "
        f"{m.plumbing_cpu_ms:.2f} CPU ms/mention, cache hits {m.hit_share:.0%} in the probe, "
        f"{m.bytes_per_mention:.0f} B/mention"
    )
    print(
        f"plan for {p.rate:,.0f} mentions/s ({args.repost_share:.0%} reposts, "
        f"{args.worker_cores:g}-core workers at {args.utilisation:.0%}):"
    )
    print(
        f"  model {p.model_cores} cores + plumbing {p.plumbing_cores} cores -> {p.workers} "
        f"workers, {p.partitions} partitions"
    )
    print(f"  broker writes {p.broker_write_mb_s} MB/s with replication {args.replication}")
    print(
        f"  counting of the hot brand ({args.hot_brand_share:.0%}): "
        f"{p.count_partition_cores_hot_brand} cores on one partition; one partition counts at "
        f"most ~{p.max_brand_rate_one_partition:,.0f} mentions/s"
    )
    for name, sim in sims.items():
        drain = sim["seconds_to_drain_after_burst"]
        print(
            f"  {args.burst:g}x burst of the hot brand, classification {name}: max lag "
            f"{sim['max_classify_lag']:,} to classify, {sim['max_hot_brand_count_lag']:,} to "
            f"count; "
            + (
                f"drained {drain:g} s after the burst"
                if math.isfinite(drain)
                else "never drains (30 min simulated)"
            )
        )


if __name__ == "__main__":
    main()
