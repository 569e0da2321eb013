"""Records as they arrive on the fed topics (JSON dicts, as Faust writes them), for console tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from pipeline.console.store import Incoming

T0 = datetime(2026, 11, 21, 14, 0, tzinfo=UTC)


def alert(
    key: str = "valmoreau:pricing:20261121T1400Z",
    *,
    state: str = "firing",
    brand: str = "valmoreau",
    topic: str = "pricing",
    severity: str = "critical",
    started: datetime = T0,
    updated: datetime | None = None,
    **extra: Any,
) -> dict[str, Any]:
    return {
        "dedup_key": key,
        "state": state,
        "severity": severity,
        "brand": brand,
        "topic": topic,
        "started_at": started.isoformat(),
        "updated_at": (updated or started).isoformat(),
        "observed": 42.0,
        "expected": 3.1,
        "score": 0.9995,
        "summary": f"{brand} {topic}: 42 mentions in 5 minutes, 3.1 expected",
        "why": {"first_source": "x"},
        "top_mentions": [{"text": "price up 40%", "url": "https://x.example/1", "platform": "x"}],
        "fired_at": (started + timedelta(minutes=3)).isoformat(),
        "early": True,
        "__faust": {"ns": "pipeline.records.Alert"},
        **extra,
    }


def mention(
    mid: str,
    text: str,
    *,
    brand: str = "valmoreau",
    topics: tuple[str, ...] = ("pricing",),
    platform: str = "x",
    lang: str = "en",
    at: datetime = T0,
    followers: int = 100,
    stance: str = "critical",
) -> dict[str, Any]:
    return {
        "mention": {
            "id": mid,
            "platform": platform,
            "text": text,
            "created_at": at.isoformat(),
            "brand": brand,
            "brands": [brand],
            "author": {"id": f"u_{mid}", "followers": followers, "kind": "patient"},
            "url": f"https://{platform}.example/{mid}",
            "lang": lang,
        },
        "topics": list(topics),
        "scores": {t: 0.9 for t in topics},
        "stance": stance,
        "lang": lang,
        "model_version": "test",
    }


def signal(start: datetime, observed: float, expected: float = 3.0, **kw: Any) -> dict[str, Any]:
    return {
        "brand": kw.get("brand", "valmoreau"),
        "topic": kw.get("topic", "pricing"),
        "start": start.isoformat(),
        "end": (start + timedelta(minutes=5)).isoformat(),
        "observed": observed,
        "expected": expected,
        "lower": max(0.0, expected - 2),
        "upper": expected + 4,
        "score": 0.5,
        "severity": "info",
        "firing": observed > expected + 4,
    }


def bucket(start: datetime, count: int, **kw: Any) -> dict[str, Any]:
    return {
        "brand": kw.get("brand", "valmoreau"),
        "topic": kw.get("topic", "pricing"),
        "start": start.isoformat(),
        "end": (start + timedelta(minutes=5)).isoformat(),
        "count": count,
        "reach": count * 100,
        "authors": count,
        "stance": {"critical": count, "neutral": 0, "supportive": 0},
        "top_authors": [{"id": "u_1", "kind": "journalist", "followers": 5000, "mentions": 2}],
    }


def feed(
    topic: str, values: list[dict[str, Any]], *, partition: int = 0, first: int = 0
) -> list[Incoming]:
    return [Incoming(topic, partition, first + i, v) for i, v in enumerate(values)]
