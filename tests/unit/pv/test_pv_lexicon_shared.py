"""The bundled lexicon is built once per process, also when two threads ask for it at once."""

from __future__ import annotations

import threading
import time

import pytest

from pipeline.pv import lexicon


def test_two_threads_at_start_up_build_the_lexicon_once(monkeypatch: pytest.MonkeyPatch) -> None:
    built: list[object] = []

    def slow_load() -> object:
        time.sleep(0.1)  # the real build takes seconds: long enough for both to be in it
        built.append(object())
        return built[-1]

    monkeypatch.setattr(lexicon, "_default", [])  # not built yet (the built one is put back)
    monkeypatch.setattr(lexicon, "load_lexicon", slow_load)
    got: list[object] = []
    threads = [threading.Thread(target=lambda: got.append(lexicon.default_lexicon())) for _ in "ab"]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(built) == 1 and got == built * 2
