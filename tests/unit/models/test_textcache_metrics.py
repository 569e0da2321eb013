from __future__ import annotations

import sys

import pytest
from prometheus_client import CollectorRegistry

from models.classifier import Prediction
from models.pvhead import CaseCues
from models.textcache import ENTRY_OVERHEAD, LRUCache, deep_sizeof, text_key
from pipeline.metrics import TocsinMetrics, get_metrics


def test_reposts_share_a_key() -> None:
    original = "Brenmoor TRIPLED the price of Glytera https://t.example/abc"
    assert text_key(original) == text_key(
        "RT @angry_pt: brenmoor tripled the price of glytera  https://t.example/zzz"
    )
    assert text_key(original) != text_key("Brenmoor halved the price of Glytera")


def test_lru_is_bounded_and_keeps_recent() -> None:
    cache: LRUCache[int] = LRUCache(maxsize=2)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1
    cache.put("c", 3)
    assert len(cache) == 2
    assert cache.get("b") is None
    assert cache.get("a") == 1


def chars(obj: object) -> int:
    """A size function the tests can count by hand: a string's length."""
    return len(obj) if isinstance(obj, str) else 0


def test_lru_is_bounded_by_bytes_and_counts_them() -> None:
    cache: LRUCache[str] = LRUCache(maxsize=100, maxbytes=1000, sizeof=chars)
    for key in "abcd":
        cache.put(key, "v" * 100)  # 1 + 100 + ENTRY_OVERHEAD bytes each
    assert len(cache) == 3
    assert cache.nbytes == 3 * (101 + ENTRY_OVERHEAD) <= 1000
    assert cache.get("a") is None and cache.get("d") == "v" * 100
    cache.put("d", "v")  # replacing an entry counts its new size only
    assert cache.nbytes == 2 * (101 + ENTRY_OVERHEAD) + 2 + ENTRY_OVERHEAD


def test_lru_bounds_can_shrink_and_keep_the_newest_entry() -> None:
    cache: LRUCache[str] = LRUCache(maxsize=10, sizeof=chars)
    for key in "abcdef":
        cache.put(key, key)
    cache.bound(2)
    assert len(cache) == 2 and cache.get("e") == "e" and cache.get("d") is None
    cache.bound(10, maxbytes=1)
    assert len(cache) == 1 and cache.get("e") == "e"  # the last used, over the bytes alone
    with pytest.raises(ValueError):
        cache.bound(10, maxbytes=0)


def test_deep_sizeof_counts_what_a_prediction_holds() -> None:
    small = Prediction(topics=("other",), scores={}, stance="neutral", stance_scores={}, lang="en")
    scores = {f"topic_{i}": i / 10 for i in range(10)}
    big = Prediction(
        topics=("pricing",),
        scores=scores,
        stance="neutral",
        stance_scores={},
        lang="en",
        case_cues=CaseCues(True, False, False, "none"),
    )
    assert deep_sizeof(big) > deep_sizeof(small) + deep_sizeof(scores) - sys.getsizeof({})
    shared = "x" * 1000
    assert deep_sizeof([shared, shared]) < 2 * sys.getsizeof(shared)  # each object once


def test_the_worker_exports_its_resident_memory() -> None:
    """``process_resident_memory_bytes`` is what a Kubernetes memory limit is checked against."""
    rss = get_metrics().registry.get_sample_value("process_resident_memory_bytes")
    assert rss is not None and rss > 10 * 2**20


def test_metrics_use_their_own_registry_and_preinitialise_labels() -> None:
    registry = CollectorRegistry()
    metrics = TocsinMetrics(registry, receivers=("console", "slack"))
    assert registry.get_sample_value("tocsin_dead_letters_total", {"reason": "invalid_json"}) == 0.0
    assert (
        registry.get_sample_value(
            "tocsin_deliveries_total", {"receiver": "slack", "outcome": "delivered"}
        )
        == 0.0
    )
    metrics.dead_letters.labels("invalid_json").inc()
    assert registry.get_sample_value("tocsin_dead_letters_total", {"reason": "invalid_json"}) == 1.0
    other = CollectorRegistry()
    TocsinMetrics(other)
    assert other.get_sample_value("tocsin_dead_letters_total", {"reason": "invalid_json"}) == 0.0
