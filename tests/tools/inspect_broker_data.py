"""Read what a finished test run left in its broker's data folder (a script, not a test).

    PYTHONPATH=. python tests/tools/inspect_broker_data.py KAFKA_DATA_DIR [--ids it:427,it:465]

Integration tests keep each broker's data under pytest's tmp folder (``.../<test>/kafka``), and CI
runs on this machine, so after a red CI run the evidence is still there (pytest keeps the last
three runs' folders: copy it out before running tests again). This starts a broker on
a *copy* of that folder, prints the ``tocsin`` group's committed offset against the log end for
every pipeline topic and partition, and, given mention ids, where each sits on ``mentions.raw``
and ``mentions.classified``. That is how the restart loss repaired by the hole watch was read:
``mentions.raw`` partition 2 committed at 95, offsets 95-102 absent downstream, 103 onwards present.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition

from pipeline.ops.procs import Broker, free_port
from pipeline.topology import CLASSIFIED, RAW

TOPICS = (RAW.name, CLASSIFIED.name)


def commits_vs_ends(bootstrap: str, group: str) -> None:
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    consumer = KafkaConsumer(bootstrap_servers=bootstrap)
    try:
        committed = admin.list_group_offsets({group: None}).get(group, {})
        for topic in TOPICS:
            parts = sorted(consumer.partitions_for_topic(topic) or ())
            tps = [TopicPartition(topic, p) for p in parts]
            ends = consumer.end_offsets(tps)
            rows = []
            for tp in tps:
                meta = committed.get(tp)
                rows.append(f"p{tp.partition} {meta.offset if meta else '-'}/{ends[tp]}")
            print(f"{topic} (committed/log end): " + ", ".join(rows))
    finally:
        consumer.close()
        admin.close()


def json_values(bootstrap: str, topic: str) -> Iterator[tuple[int, int, Any]]:
    """``(partition, offset, decoded JSON)`` of every record of ``topic``; None if not JSON."""
    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        consumer_timeout_ms=4000,
    )
    try:
        for message in consumer:
            try:
                value = json.loads(message.value)
            except ValueError:
                value = None  # a dead letter's bytes: not a record of ours
            yield message.partition, message.offset, value
    finally:
        consumer.close()


def locate(bootstrap: str, topic: str, ids: set[str]) -> list[tuple[int, int, str]]:
    found: list[tuple[int, int, str]] = []
    for partition, offset, value in json_values(bootstrap, topic):
        if isinstance(value, dict) and isinstance(value.get("mention"), dict):
            value = value["mention"]  # a classified record holds its mention
        mid = value.get("id") if isinstance(value, dict) else None  # a mention, by its shape
        if mid in ids:
            found.append((partition, offset, mid))
    return sorted(found)


def classified_duplicates(bootstrap: str, topic: str) -> dict[str, int]:
    """Mention ids that ``topic`` (classified records) holds more than once, with their counts."""
    counts: Counter[str] = Counter()
    for _, _, value in json_values(bootstrap, topic):
        try:
            counts[value["mention"]["id"]] += 1
        except (KeyError, TypeError):
            continue
    return {mid: n for mid, n in counts.items() if n > 1}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data_dir", type=Path, help="a test's kafka folder (left untouched)")
    parser.add_argument("--ids", default="", help="comma-separated mention ids to locate")
    parser.add_argument("--group", default="tocsin")
    parser.add_argument(
        "--duplicates", action="store_true", help="list ids classified more than once"
    )
    args = parser.parse_args()
    if not (args.data_dir / "data" / "meta.properties").exists():
        print(f"{args.data_dir} has no formatted KRaft storage (data/meta.properties)")
        return 2
    with tempfile.TemporaryDirectory(prefix="tocsin-inspect-") as tmp:
        copy = Path(tmp) / "kafka"
        shutil.copytree(args.data_dir, copy, ignore=shutil.ignore_patterns("*.pid", "*.lock"))
        broker = Broker(port=free_port(), data_dir=copy)
        broker.start()
        try:
            commits_vs_ends(broker.bootstrap, args.group)
            ids = {i for i in args.ids.split(",") if i}
            if ids:
                for topic in (RAW.name, CLASSIFIED.name):
                    hits = locate(broker.bootstrap, topic, ids)
                    print(f"{topic}: " + (", ".join(f"p{p}@{o} {m}" for p, o, m in hits) or "-"))
            if args.duplicates:
                dup = classified_duplicates(broker.bootstrap, CLASSIFIED.name)
                ordered = sorted(dup, key=lambda m: (len(m), m))
                print(f"{CLASSIFIED.name}: {len(dup)} ids more than once: " + ", ".join(ordered))
        finally:
            broker.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
