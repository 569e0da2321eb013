"""The consumer patch that keeps at-least-once across rebalances (see pipeline/redelivery.py)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from faust.types import TP

from pipeline.redelivery import DeliveredOffsets


def test_remembered_offsets_are_kept_but_never_answered() -> None:
    offsets = DeliveredOffsets()
    tp = TP("mentions", 0)
    offsets[tp] = 130  # Faust writes what it handed over ...
    offsets.update({TP("mentions", 1): 7})
    assert tp in offsets and offsets.get(tp) == 130
    # ... but its fetch loop reads through __getitem__, and None means "deliver everything"
    assert offsets[tp] is None
    assert offsets[TP("mentions", 9)] is None  # like Faust's defaultdict(lambda: None)
    del offsets[tp]
    assert offsets.pop(TP("mentions", 1)) == 7


def test_the_app_installs_it_on_its_consumer(monkeypatch: pytest.MonkeyPatch) -> None:
    """Checked without building a real consumer (that opens sockets and an event loop)."""
    import faust

    from pipeline.app import TocsinApp, create_app

    made = SimpleNamespace(_read_offset={})
    monkeypatch.setattr(faust.App, "_new_consumer", lambda self: made)
    app = create_app()
    assert isinstance(app, TocsinApp)
    consumer: Any = app._new_consumer()
    assert consumer is made
    assert isinstance(consumer._read_offset, DeliveredOffsets)
    # the fetch loop binds __getitem__ once; make sure that is ours, not dict's
    lookup = consumer._read_offset.__getitem__
    assert lookup(TP("mentions.raw", 0)) is None
