from __future__ import annotations

from prometheus_client import CollectorRegistry

from models.textcache import LRUCache, text_key
from pipeline.metrics import TocsinMetrics


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
