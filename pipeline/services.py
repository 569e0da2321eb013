"""Runtime dependencies of the agents, created lazily and replaceable in tests.

Agents call ``services.classifier()`` etc. instead of building things at import time: importing an
agent module must not load a 500 MB model or open sockets. Tests install fakes with
:func:`override` (and undo it with :func:`reset`), the production worker gets the real thing on first use.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from pipeline.brands import BrandMatcher, load_brands
from pipeline.metrics import TocsinMetrics, get_metrics
from pipeline.settings import Settings, get_settings

_T = TypeVar("_T")

if TYPE_CHECKING:
    import httpx

    from models.classifier import MentionClassifier
    from pipeline.delivery.receivers.base import Receiver


@dataclass
class _Registry:
    settings: Settings | None = None
    matcher: BrandMatcher | None = None
    classifier: MentionClassifier | None = None
    metrics: TocsinMetrics | None = None
    receivers: list[Receiver] | None = None
    http: httpx.AsyncClient | None = None
    executor: ThreadPoolExecutor | None = None
    extra: dict[str, Any] = field(default_factory=dict)


_registry = _Registry()
#: The model loads on a model thread; with several, the start-up load and a first batch could
#: both find it absent and load it twice (seconds of CPU, twice the memory for a moment).
_classifier_lock = threading.Lock()


def settings() -> Settings:
    if _registry.settings is None:
        _registry.settings = get_settings()
    return _registry.settings


def matcher() -> BrandMatcher:
    if _registry.matcher is None:
        _registry.matcher = load_brands(settings().brands_file)
    return _registry.matcher


def classifier() -> MentionClassifier:
    """The mention classifier, loaded and warmed; that takes seconds, so the worker calls this at
    start-up (``load_model_at_start``), and :func:`classifier_loaded` (``/readyz``) turns true
    only once it is done."""
    with _classifier_lock:
        if _registry.classifier is None:
            from models.classifier import OnnxMentionClassifier, load_classifier
            from models.pvbuild import attach_pv_head

            loaded = load_classifier(settings().model_dir)
            # The PV triage heads when `tocsin model build` has built them (never built here).
            attach_pv_head(loaded, build=False)
            if isinstance(loaded, OnnxMentionClassifier):
                loaded.warm()  # v9's PV rules, else built by the first adverse-event batch
            _registry.classifier = loaded
        return _registry.classifier


def classifier_loaded() -> bool:
    return _registry.classifier is not None


def metrics() -> TocsinMetrics:
    """The worker's metrics, with delivery series pre-created for the receivers configured."""
    if _registry.metrics is None:
        _registry.metrics = get_metrics(receivers=[r.name for r in receivers()])
    return _registry.metrics


def executor() -> ThreadPoolExecutor:
    """The model threads: ``TOCSIN_MODEL_WORKERS`` calls side by side (see models/serving.py)."""
    if _registry.executor is None:
        from models.serving import model_workers

        _registry.executor = ThreadPoolExecutor(
            max_workers=model_workers(), thread_name_prefix="tocsin-model"
        )
    return _registry.executor


def receivers() -> list[Receiver]:
    """The configured receivers, sharing one outbound client that :func:`aclose` closes."""
    if _registry.receivers is None:
        from pipeline.delivery.receivers import build_receivers, make_http_client

        if _registry.http is None:
            _registry.http = make_http_client(settings())
        _registry.receivers = build_receivers(settings(), _registry.http)
        for receiver in _registry.receivers:
            if receiver.limiter is not None:
                receiver.limiter.on_wait = _count_throttle(receiver.name)
    return _registry.receivers


def _count_throttle(receiver: str) -> Callable[[float], None]:
    """Adds a rate-limit wait to ``tocsin_delivery_throttled_seconds_total{receiver}``."""

    def count(seconds: float) -> None:
        metrics().delivery_throttled.labels(receiver).inc(seconds)

    return count


async def aclose() -> None:
    """Release outbound connections at worker shutdown: each receiver, then the shared client.

    Faust calls this from ``on_before_shutdown`` (see ``agents/dispatch_alerts.py``); an
    unclosed ``httpx.AsyncClient`` would leak its pooled sockets and warn at interpreter exit.
    """
    for receiver in _registry.receivers or []:
        await receiver.close()
    if _registry.http is not None:
        await _registry.http.aclose()
        _registry.http = None
    _registry.receivers = None


def extra() -> dict[str, Any]:
    """Per-worker state of optional features (e.g. the HTTP ingest gate), dropped by reset()."""
    return _registry.extra


def made_once(name: str, kind: type[_T], make: Callable[[], _T]) -> _T:
    """``extra()[name]`` when it is a ``kind`` (made earlier, or put there by a test), else
    ``make()``, kept there for this worker's later calls."""
    found = _registry.extra.get(name)
    if not isinstance(found, kind):
        found = _registry.extra[name] = make()
    return found


def override(**values: Any) -> None:
    """Replace dependencies (tests): ``override(classifier=Fake(), settings=make_settings(...))``."""
    for name, value in values.items():
        if not hasattr(_registry, name):
            raise AttributeError(f"unknown service {name!r}")
        setattr(_registry, name, value)


def reset() -> None:
    """Forget every dependency so the next use builds it again."""
    global _registry
    if _registry.executor is not None:
        _registry.executor.shutdown(wait=False)
    _registry = _Registry()


@contextmanager
def overridden(**values: Any) -> Iterator[None]:
    override(**values)
    try:
        yield
    finally:
        reset()
