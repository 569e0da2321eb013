"""Worker RSS over a long stream: what grows, and whether it stops growing.

Starts a broker and a ``tocsin worker`` (``pipeline.ops.procs``), streams the bench's lapped demo
stream (``bench/stream.py``) into ``mentions.raw`` closed-loop (``--backlog`` mentions in flight,
so the broker never holds a growing backlog), and every ``--every`` mentions the worker took in
records its RSS and CPU seconds (psutil) and the counters of its ``/metrics``. ``--join-at N``
starts a second worker in the group at N mentions (a rebalance: table recovery, standbys).

``--model stand-in`` (the default) runs the worker with every part real but the transformer
(``bench/memory_worker.py``), so hundreds of thousands of mentions cost CPU minutes on a shared
machine; ``--model real`` loads the built artefacts as production does. ``--env KEY=VALUE``
passes settings to the workers (``TOCSIN_REPOST_CACHE_ENTRIES=...``, ``MALLOC_ARENA_MAX=2``).

    python -m bench.memory --mentions 250000 --every 25000 --label before

Writes ``bench/results/memory-<label>.json`` (every sample) and prints the table.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import sys
import time
from datetime import datetime
from typing import Any

import httpx
import psutil

from bench.driver import Driver
from bench.stream import LapStream
from pipeline.brands import load_brands
from pipeline.ops.demo import metric_value
from pipeline.ops.procs import REPO, Broker, Worker, free_port
from pipeline.settings import default_cache_dir, make_settings

STREAM = REPO / "deploy" / "demo" / "stream.jsonl"
CRISIS = REPO / "deploy" / "demo" / "crisis.json"
RESULTS = REPO / "bench" / "results"


def log(msg: str) -> None:
    print(f"[memory {datetime.now():%H:%M:%S}] {msg}", file=sys.stderr, flush=True)


def worker_env(model: str, extra: dict[str, str]) -> dict[str, str]:
    env = {
        "TOCSIN_CONSOLE_ALERTS": "false",
        # laps shift the stream 2 days per lap, past today's date: accept them
        "TOCSIN_MAX_FUTURE_S": str(366 * 86400),
    }
    if model == "real":
        from models.classifier import default_artefact_dir

        env["TOCSIN_MODEL_DIR"] = str(default_artefact_dir())
    return {**env, **extra}


def taken_in(workers: list[Worker]) -> int:
    """Mentions the workers' ``classify_mentions`` took from ``mentions.raw``."""
    total = 0.0
    for worker in workers:
        try:
            text = worker.metrics_text()
        except httpx.HTTPError:
            continue
        total += metric_value(text, "tocsin_agent_messages_in_total", agent="classify_mentions")
    return int(total)


def sample(workers: list[Worker], n: int, started: float) -> dict[str, Any]:
    row: dict[str, Any] = {"mentions": n, "wall_s": round(time.monotonic() - started, 1)}
    for i, worker in enumerate(workers, 1):
        assert worker.proc is not None
        proc = psutil.Process(worker.proc.pid)
        cpu = proc.cpu_times()
        row[f"worker-{i}"] = {
            "rss_mb": round(proc.memory_info().rss / 2**20, 1),
            "cpu_s": round(cpu.user + cpu.system, 1),
        }
    return row


def run(args: argparse.Namespace, extra: dict[str, str]) -> list[dict[str, Any]]:
    run_dir = default_cache_dir() / "run" / f"memory-{datetime.now():%Y%m%d-%H%M%S}-{os.getpid()}"
    broker = Broker(port=free_port(), data_dir=run_dir / "kafka")
    workers: list[Worker] = []
    driver: Driver | None = None
    samples: list[dict[str, Any]] = []
    module = "bench.memory_worker" if args.model == "stand-in" else "pipeline.cli"

    def start_worker() -> None:
        worker = Worker(
            bootstrap=broker.bootstrap,
            data_dir=run_dir / f"worker-{len(workers) + 1}",
            env=worker_env(args.model, extra),
            module=module,
        )
        worker.start(loglevel="warn")
        workers.append(worker)
        worker.wait_ready(timeout_s=240)
        log(f"worker-{len(workers)} ready (pid {worker.proc.pid if worker.proc else '?'})")

    try:
        broker.start()
        from pipeline.ops.topics import ensure_topics

        ensure_topics(broker.bootstrap)
        start_worker()
        stream = LapStream(STREAM, CRISIS, load_brands(make_settings().brands_file))
        driver = Driver(stream, broker.bootstrap)
        started = time.monotonic()
        samples.append(sample(workers, 0, started))
        log(json.dumps(samples[-1]))
        mark, joined = args.every, False
        while True:
            done = taken_in(workers)
            if args.join_at and not joined and done >= args.join_at:
                start_worker()
                joined = True
            if done >= mark:
                if "BENCH_TRACEMALLOC_FILE" in extra and workers[0].proc is not None:
                    workers[0].proc.send_signal(signal.SIGRTMIN)
                samples.append(sample(workers, done, started))
                log(json.dumps(samples[-1]))
                mark += args.every
            if done >= args.mentions:
                break
            in_flight = driver.sent - done
            room = min(args.backlog - in_flight, args.mentions - driver.sent)
            if room > 0:
                driver.run_backlog(room, 0.5, lambda: taken_in(workers), done)
            else:
                time.sleep(0.5)
    finally:
        for worker in workers:
            worker.stop()
        if driver is not None:
            driver.close()
        broker.stop()
        shutil.rmtree(run_dir, ignore_errors=True)
    return samples


def table(samples: list[dict[str, Any]]) -> str:
    names = sorted({k for s in samples for k in s if k.startswith("worker-")})
    head = "| mentions | " + " | ".join(f"{n} RSS MB | {n} CPU s" for n in names) + " |"
    rows = [head, "|" + "---|" * (1 + 2 * len(names))]
    for s in samples:
        cells = [
            f"{s[n]['rss_mb']:,.0f} | {s[n]['cpu_s']:,.0f}" if n in s else "- | -" for n in names
        ]
        rows.append(f"| {s['mentions']:,} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--mentions", type=int, default=250_000, help="mentions to stream")
    ap.add_argument("--every", type=int, default=25_000, help="sample every this many")
    ap.add_argument("--backlog", type=int, default=2_000, help="mentions in flight at most")
    ap.add_argument("--model", choices=("stand-in", "real"), default="stand-in")
    ap.add_argument("--join-at", type=int, default=0, help="start a second worker at N mentions")
    ap.add_argument("--env", action="append", default=[], help="KEY=VALUE for the workers")
    ap.add_argument("--label", default="run", help="results file: memory-<label>.json")
    ap.add_argument(
        "--tracemalloc",
        action="store_true",
        help="stand-in only: trace the worker's allocations and write what grew between samples "
        "to memory-<label>-growth.txt (slows the worker down)",
    )
    args = ap.parse_args(argv)
    extra = dict(item.split("=", 1) for item in args.env)
    if args.tracemalloc:
        growth = RESULTS / f"memory-{args.label}-growth.txt"
        growth.unlink(missing_ok=True)
        extra["BENCH_TRACEMALLOC_FILE"] = str(growth)
    samples = run(args, extra)
    out = RESULTS / f"memory-{args.label}.json"
    command = "python -m bench.memory " + " ".join(argv if argv is not None else sys.argv[1:])
    out.write_text(
        json.dumps({"command": command, "env": extra, "samples": samples}, indent=1) + "\n"
    )
    print(table(samples))
    log(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
