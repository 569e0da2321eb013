"""The worker keeps the log level it is given: no Faust spinner turning the root logger to DEBUG."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import faust
import pytest

from pipeline.app import TocsinWorker, app


@pytest.fixture
def root_like() -> Iterator[logging.Logger]:
    """A stand-in for the root logger as Faust's worker has just configured it at WARNING."""
    logger = logging.getLogger("tocsin.test.root-like")
    logger.setLevel(logging.WARNING)
    logger.handlers = [logging.StreamHandler(io.StringIO())]
    yield logger
    logger.handlers = []
    logger.setLevel(logging.NOTSET)


def _worker(cls: type[faust.Worker]) -> faust.Worker:
    return cls(app, loglevel="warn", stdout=io.StringIO(), stderr=io.StringIO())


def test_app_starts_workers_of_the_tocsin_class() -> None:
    worker_class: object = app.conf.Worker
    assert worker_class is TocsinWorker


def test_warn_level_worker_does_not_build_debug_records(root_like: logging.Logger) -> None:
    _worker(TocsinWorker).on_setup_root_logger(root_like, logging.WARNING)
    assert root_like.level == logging.WARNING
    assert not root_like.isEnabledFor(logging.DEBUG)
    assert len(root_like.handlers) == 1


def test_plain_faust_worker_would_have(root_like: logging.Logger) -> None:
    """What the override is for: Faust's own worker turns the logger to DEBUG at ``-l warn``."""
    _worker(faust.Worker).on_setup_root_logger(root_like, logging.WARNING)
    assert root_like.isEnabledFor(logging.DEBUG)
