"""Reproduce restart/rebalance faults and keep the evidence (a script, not a test).

    PYTHONPATH=. python tests/tools/repro_restart_churn.py RUN_DIR [--total 1000] [--burn 2]
        [--kill-after 1] [--churn 2] [--wait 240]

A real broker and workers: produce half the mentions, wait until they are processed and committed,
produce the rest, optionally start CPU burners (``--burn``: busy processes, to make the group evict
a starved worker), SIGKILL the worker after ``--kill-after`` seconds, start a second one, optionally
churn the group (``--churn``: workers that join and are SIGKILLed), then report every mention id that
never reached ``mentions.classified``, where it sits on ``mentions.raw``, and the group's committed
offsets against the log ends. Run with ``DEVLOG=1`` to get Faust's "DROPPED MESSAGE" lines in the
workers' logs under RUN_DIR. This is how the rebalance loss fixed by ``pipeline/redelivery.py`` was
found (4 of 600 mentions lost with ``--burn 3 --kill-after 2`` at load ~20 before the fix).
Everything it starts is stopped by PID; exit status 1 when a mention is missing.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition

from models.build import build_artefacts
from pipeline.ops.demo import wait_drained
from pipeline.ops.procs import Broker, Worker, free_port
from pipeline.ops.topics import ensure_topics
from tests.integration.conftest import consume, produce
from tests.integration.test_pipeline import CALM, mention


def offsets(bootstrap: str, label: str) -> None:
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    consumer = KafkaConsumer(bootstrap_servers=bootstrap)
    try:
        committed = admin.list_group_offsets({"tocsin": None}).get("tocsin", {})
        print(f"== {label}: (partition, committed, log end)")
        for topic in ("mentions.raw", "mentions.classified"):
            tps = [TopicPartition(topic, p) for p in range(4)]
            ends = consumer.end_offsets(tps)
            rows = []
            for tp in tps:
                meta = committed.get(tp)
                rows.append((tp.partition, meta.offset if meta else None, ends[tp]))
            print(f"   {topic}: {rows}")
    finally:
        consumer.close()
        admin.close()


def locate(bootstrap: str, ids: list[str]) -> dict[str, list[tuple[int, int]]]:
    consumer = KafkaConsumer(
        "mentions.raw",
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        consumer_timeout_ms=3000,
    )
    where: dict[str, list[tuple[int, int]]] = {}
    try:
        for message in consumer:
            mid = json.loads(message.value).get("id")
            if mid in ids:
                where.setdefault(mid, []).append((message.partition, message.offset))
    finally:
        consumer.close()
    return where


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--total", type=int, default=600)
    parser.add_argument("--burn", type=int, default=0, help="busy processes during the restart")
    parser.add_argument("--kill-after", type=float, default=0.0)
    parser.add_argument("--churn", type=int, default=0, help="workers that join and are killed")
    parser.add_argument("--wait", type=float, default=240.0, help="longest wait for the output")
    args = parser.parse_args()
    args.run_dir.mkdir(parents=True, exist_ok=True)
    model = build_artefacts(progress=lambda _msg: None)
    broker = Broker(port=free_port(), data_dir=args.run_dir / "kafka")
    workers: list[Worker] = []
    burners: list[subprocess.Popen[bytes]] = []

    def start() -> Worker:
        worker = Worker(
            bootstrap=broker.bootstrap,
            data_dir=args.run_dir / f"worker{len(workers)}",
            env={"TOCSIN_MODEL_DIR": str(model)},
        )
        workers.append(worker)
        worker.start()
        worker.wait_ready(180)
        return worker

    broker.start()
    try:
        ensure_topics(broker.bootstrap)
        first = start()
        t0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
        half = args.total // 2
        payloads = [
            mention(i, t0 + timedelta(seconds=i), f"{CALM[i % 3]} #{i}") for i in range(args.total)
        ]
        produce(broker.bootstrap, "mentions.raw", payloads[:half])
        consume(broker.bootstrap, "mentions.classified", want=half, timeout_s=180)
        wait_drained(broker.bootstrap, timeout_s=90)
        offsets(broker.bootstrap, "first half processed")
        produce(broker.bootstrap, "mentions.raw", payloads[half:])
        for _ in range(args.burn):
            burners.append(subprocess.Popen([sys.executable, "-c", "while True: pass"]))
        time.sleep(args.kill_after)
        first.kill()
        killed_at = time.monotonic()
        offsets(broker.bootstrap, "after SIGKILL")
        start()
        print(f"second worker ready {time.monotonic() - killed_at:.1f} s after the kill")
        for k in range(args.churn):
            extra = start()
            time.sleep(3)
            extra.kill()
            print(f"churn worker {k} joined and was killed", flush=True)
            time.sleep(5)
        deadline = time.monotonic() + args.wait
        while True:
            out = consume(
                broker.bootstrap, "mentions.classified", want=args.total, timeout_s=30, settle_s=2
            )
            ids = Counter(item["mention"]["id"] for item in out)
            if len(ids) == args.total or time.monotonic() > deadline:
                break
            time.sleep(5)
        want = {f"it:{i}" for i in range(args.total)}
        missing = sorted(want - set(ids), key=lambda s: int(s.split(":")[1]))
        print(
            f"distinct classified {len(ids)} of {args.total}; missing {len(missing)}: {missing[:50]}"
        )
        offsets(broker.bootstrap, "end")
        if missing:
            print(
                "missing ones on mentions.raw (partition, offset):",
                locate(broker.bootstrap, missing),
            )
        print("RESULT", "PASS" if not missing else "FAIL")
        return 0 if not missing else 1
    finally:
        for burner in burners:
            burner.kill()
            burner.wait()
        for worker in workers:
            worker.stop()
        broker.stop()


if __name__ == "__main__":
    sys.exit(main())
