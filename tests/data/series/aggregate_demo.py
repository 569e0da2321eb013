#!/usr/bin/env python3
"""Aggregate the demo replay (deploy/demo/stream.jsonl) into one 5-minute series per brand.

Why: the demo is the one place where a crisis of the product's intended shape (one day of history,
small counts, a strong daily rhythm, a surge building over ~20 minutes) is written down with its
ground truth (deploy/demo/crisis.json). Brand matching here is a plain case-insensitive substring
match on the names in pipeline/config/brands.yaml (company, aliases, products, generics, cashtag),
good enough to count; the topic split needs the classifier, so these series are per brand, all
topics together, which makes the crisis harder to see than in the brand x topic series the stream
scores. Malformed lines are skipped, as the ingest agent would dead-letter them.

Usage: python3 tests/data/series/aggregate_demo.py   (rewrites tests/data/series/demo/)
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[3]
OUT = Path(__file__).resolve().parent / "demo"
STEP = timedelta(minutes=5)


def brand_terms() -> dict[str, list[str]]:
    data = yaml.safe_load((ROOT / "pipeline/config/brands.yaml").read_text(encoding="utf-8"))
    terms: dict[str, list[str]] = {}
    for b in data["brands"]:
        words = [b["name"], *b.get("aliases", []), "$" + b.get("cashtag", "")]
        for p in b.get("products", []):
            words += [p["name"], p.get("generic", ""), *p.get("aliases", [])]
        terms[b["id"]] = [w.lower() for w in words if w and w != "$"]
    return terms


def main() -> None:
    terms = brand_terms()
    counts: dict[str, Counter[datetime]] = {b: Counter() for b in terms}
    first = last = None
    for line in (ROOT / "deploy/demo/stream.jsonl").read_text(encoding="utf-8").splitlines():
        try:
            m = json.loads(line)
            t = datetime.fromisoformat(str(m["created_at"]).replace("Z", "+00:00"))
            text = str(m["text"]).lower()
        except (ValueError, KeyError, TypeError):
            continue
        bucket = datetime.fromtimestamp(t.timestamp() // 300 * 300, UTC)
        first = bucket if first is None or bucket < first else first
        last = bucket if last is None or bucket > last else last
        for brand, words in terms.items():
            if any(w in text for w in words):
                counts[brand][bucket] += 1
    assert first is not None and last is not None
    OUT.mkdir(parents=True, exist_ok=True)
    for brand, c in counts.items():
        rows = ["timestamp,value"]
        t = first
        while t <= last:
            rows.append(f"{t.strftime('%Y-%m-%dT%H:%M:%SZ')},{c[t]}")
            t += STEP
        (OUT / f"{brand}.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    crisis = json.loads((ROOT / "deploy/demo/crisis.json").read_text(encoding="utf-8"))
    windows: dict[str, list[dict[str, str]]] = {b: [] for b in terms}
    windows[crisis["brand"]] = [{"start": crisis["start"], "end": crisis["end"]}]
    (OUT / "windows.json").write_text(json.dumps(windows, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
