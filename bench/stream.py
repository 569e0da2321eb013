"""The demo's two-day mention stream as an endless, event-time-continuous source for the benchmark.

Why laps and not a bigger generated file: the phases of a run need more mentions than the demo's
two days hold, and the crisis must recur so a ten-minute phase sees several of them (more latency
samples, and at least one whatever the measured capacity). Lap ``k`` is the demo stream shifted
``k`` x 2 days later in event time, so time never goes backwards and the detector keeps a coherent
history. Ids get a ``~k`` suffix and texts a `` ·k`` suffix on laps after the first: without it the
worker's repost cache (50,000 texts) would answer every later lap from lap 0 and the benchmark would
measure a dictionary lookup instead of the model. Within a lap, reposts stay exact copies of their
original, so the cache still helps exactly as much as it does on the demo stream. Lap 0 is sent
byte for byte as the file holds it (malformed lines included; every lap repeats them unchanged).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pipeline.brands import BrandMatcher
from pipeline.ingest.keys import raw_key

DAY = 86_400.0


def parse_time(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Line:
    """One line of the stream file, pre-parsed once."""

    raw: bytes
    obj: dict[str, Any] | None
    id: str | None
    at: float | None
    brand: str | None
    crisis: bool


@dataclass(frozen=True)
class Sent:
    """What the driver produced: wall time, stream position and what the mention was."""

    wall: float
    lap: int
    index: int


@dataclass(frozen=True)
class Crisis:
    brand: str
    topic: str
    start: float  # event time of lap 0
    end: float


class LapStream:
    """Lines of a JSONL stream, addressable by a global position ``n = lap * len + index``."""

    def __init__(self, path: Path, crisis_path: Path, matcher: BrandMatcher) -> None:
        meta = json.loads(crisis_path.read_text())
        crisis_ids = set(meta["mention_ids"])
        self.crisis = Crisis(
            brand=meta["brand"],
            topic=meta["topic"],
            start=parse_time(meta["start"]),
            end=parse_time(meta["end"]),
        )
        lines: list[Line] = []
        for raw in path.read_bytes().splitlines():
            if not raw.strip():
                continue
            obj: dict[str, Any] | None = None
            try:
                parsed = json.loads(raw)
                obj = parsed if isinstance(parsed, dict) else None
            except ValueError:
                obj = None
            mention_id = obj.get("id") if obj else None
            text = obj.get("text") if obj else None
            at: float | None = None
            if obj and isinstance(obj.get("created_at"), str):
                try:
                    at = parse_time(obj["created_at"])
                except ValueError:
                    at = None
            brands = matcher.match(text) if isinstance(text, str) else []
            lines.append(
                Line(
                    raw=raw,
                    obj=obj,
                    id=mention_id if isinstance(mention_id, str) else None,
                    at=at,
                    brand=brands[0] if brands else None,
                    crisis=isinstance(mention_id, str) and mention_id in crisis_ids,
                )
            )
        self.lines = lines
        times = [ln.at for ln in lines if ln.at is not None]
        first_day = datetime.fromtimestamp(min(times), UTC).replace(hour=0, minute=0, second=0)
        last_day = datetime.fromtimestamp(max(times), UTC).replace(hour=0, minute=0, second=0)
        self.origin = first_day.timestamp()
        self.span = ((last_day + timedelta(days=1)) - first_day).total_seconds()

    def __len__(self) -> int:
        return len(self.lines)

    def locate(self, n: int) -> tuple[int, int]:
        return divmod(n, len(self.lines))

    def line(self, n: int) -> Line:
        return self.lines[n % len(self.lines)]

    def event_time(self, n: int) -> float | None:
        lap, index = self.locate(n)
        at = self.lines[index].at
        return None if at is None else at + lap * self.span

    def mention_id(self, n: int) -> str | None:
        lap, index = self.locate(n)
        mid = self.lines[index].id
        return mid if mid is None or lap == 0 else f"{mid}~{lap}"

    def payload(self, n: int) -> tuple[bytes | None, bytes]:
        """(key, value) to produce for global position ``n``."""
        lap, index = self.locate(n)
        line = self.lines[index]
        key = raw_key(line.id) if line.id else None
        if lap == 0 or line.obj is None or line.at is None:
            return key, line.raw
        obj = dict(line.obj)
        obj["id"] = f"{line.id}~{lap}"
        obj["created_at"] = iso(line.at + lap * self.span)
        if isinstance(obj.get("text"), str):
            obj["text"] = f"{obj['text']} ·{lap}"
        if isinstance(obj.get("repost_of"), str):
            obj["repost_of"] = f"{obj['repost_of']}~{lap}"
        return raw_key(obj["id"]), json.dumps(obj, ensure_ascii=False).encode()

    def distinct_texts(self, limit: int) -> list[str]:
        """Distinct texts of lap 0, what the model really sees, for the raw-model measurement."""
        seen: dict[str, None] = {}
        for line in self.lines:
            text = line.obj.get("text") if line.obj else None
            if isinstance(text, str) and text.strip():
                seen[text] = None
            if len(seen) >= limit:
                break
        return list(seen)
