"""Shared fixtures. The real Kafka broker fixture lives in tests/kafka_fixture.py."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from pipeline import services

pytest_plugins = ["tests.kafka_fixture"]


@pytest.fixture(autouse=True)
def _fresh_services() -> Iterator[None]:
    """Every test starts with no cached settings, model, metrics or receivers."""
    services.reset()
    yield
    services.reset()
