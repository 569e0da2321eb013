"""Shared fixtures. The real Kafka broker fixture lives in tests/kafka_fixture.py."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from pipeline import services
from pipeline.metrics import TocsinMetrics
from tests.fakes import GroupRecordingReceiver, RecordingReceiver

pytest_plugins = ["tests.kafka_fixture"]


@pytest.fixture(autouse=True)
def _fresh_services() -> Iterator[None]:
    """Every test starts with no cached settings, model, metrics or receivers."""
    services.reset()
    yield
    services.reset()


@pytest.fixture()
def reread_settings() -> Iterator[None]:
    """The process-wide settings (``get_settings``, ``kafka_settings``, each read once from the
    environment) are read again in this test, after its ``monkeypatch.setenv``, and forgotten
    after it. Request it after ``monkeypatch`` (or from a fixture that sets the environment)."""
    from pipeline.settings import get_settings
    from pipeline.settings_kafka import kafka_settings

    get_settings.cache_clear()
    kafka_settings.cache_clear()
    yield
    get_settings.cache_clear()
    kafka_settings.cache_clear()


@pytest.fixture()
def faust_app() -> Iterator[Any]:
    """The Tocsin Faust app, finalized and with flow control resumed: what ``test_context()`` needs."""
    from pipeline.app import app

    app.finalize()
    app.flow_control.resume()
    yield app


@pytest.fixture()
def empty_counting(faust_app: Any) -> None:
    """Counting state is the app's (a module-level table): start it empty. The partition clocks
    are per-worker services state, already dropped by ``_fresh_services``."""
    from pipeline.tables import open_buckets

    open_buckets.data.clear()


@pytest.fixture()
def empty_ingest(faust_app: Any) -> None:
    """Ingest's remembered mention ids are the app's (a module-level table): start them empty."""
    from pipeline.tables import mention_ids

    mention_ids.data.clear()


@pytest.fixture()
def fresh_metrics() -> TocsinMetrics:
    """Metrics on a registry of their own, with the console receiver's series pre-created."""
    return TocsinMetrics(CollectorRegistry(), receivers=("console",))


@pytest.fixture()
def recording_receiver() -> Callable[..., RecordingReceiver]:
    """Makes recording receivers (``tests/fakes.py``): ``recording_receiver("slack", cleared=True,
    errors=[...], status=202, groups=True)``; ``groups`` gives one with its own group rendering."""

    def make(name: str = "recording", *, groups: bool = False, **kwargs: Any) -> RecordingReceiver:
        kind = GroupRecordingReceiver if groups else RecordingReceiver
        return kind(name, **kwargs)

    return make
