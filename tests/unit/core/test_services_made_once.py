"""services.made_once: per-worker state made on first use, kept, and replaceable by tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from pipeline import services


class Thing:
    pass


@pytest.fixture(autouse=True)
def clean_extra() -> Iterator[None]:
    services.extra().pop("thing", None)
    yield
    services.extra().pop("thing", None)


def test_made_on_first_use_then_kept() -> None:
    made: list[Thing] = []

    def make() -> Thing:
        made.append(Thing())
        return made[-1]

    first = services.made_once("thing", Thing, make)
    assert services.made_once("thing", Thing, make) is first
    assert made == [first]
    assert services.extra()["thing"] is first


def test_a_value_a_test_put_there_is_used() -> None:
    mine = Thing()
    services.extra()["thing"] = mine
    assert services.made_once("thing", Thing, Thing) is mine


def test_a_value_of_another_kind_is_replaced() -> None:
    services.extra()["thing"] = "not a thing"
    made = services.made_once("thing", Thing, Thing)
    assert isinstance(made, Thing)
    assert services.extra()["thing"] is made
