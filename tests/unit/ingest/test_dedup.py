"""The de-duplication rule by mention id (pipeline.ingest.dedup), against a fake changelog table."""

from __future__ import annotations

from typing import Any

import pytest
from faust.serializers import codecs

from pipeline.ingest.dedup import Entry, IdMemory, Verdict, arrival, judge, rebalanced

DAY = 24 * 3600
T = 1_795_000_000  # an arrival second


class FakeTable:
    """A table's local data and the changelog writes made to it, in order."""

    def __init__(self) -> None:
        self.data: dict[Any, Any] = {}
        self.changelog: list[tuple[int | None, Any, Any]] = []

    def send_changelog(
        self,
        partition: int | None,
        key: Any,
        value: Any,
        key_serializer: Any = None,
        value_serializer: Any = None,
    ) -> None:
        # written pre-encoded, as the table's json serializers read them back on recovery
        assert (key_serializer, value_serializer) == ("raw", "raw")
        decoded = None if value is None else codecs.loads("json", value)
        self.changelog.append((partition, codecs.loads("json", key), decoded))


def memory(
    table: FakeTable | None = None, horizon_s: int = DAY, max_ids: int = 100
) -> tuple[IdMemory, FakeTable, list[str]]:
    table = table or FakeTable()
    forgotten: list[str] = []
    return IdMemory(table, horizon_s, max_ids, on_forget=forgotten.append), table, forgotten


def test_the_same_id_at_a_later_offset_is_a_duplicate() -> None:
    ids, table, _ = memory()
    assert ids.check("x:1", 0, 10, T) is Verdict.NEW
    assert ids.check("x:1", 0, 55, T + 30) is Verdict.DUPLICATE
    assert ids.check("x:1", 0, 56, T + DAY) is Verdict.DUPLICATE  # the horizon is inclusive
    assert table.data["x:1"] == [0, 10, T]  # the first copy stays the one remembered
    assert table.changelog == [(0, "x:1", [0, 10, T])]


def test_the_same_record_read_again_passes() -> None:
    """A raw record redelivered after a crash is not a copy: counting's position check owns it."""
    ids, table, _ = memory()
    assert ids.check("x:1", 0, 10, T) is Verdict.NEW
    assert ids.check("x:1", 0, 10, T) is Verdict.REDELIVERED
    # a reprocessed record older than the one remembered (its own memory was forgotten) passes too
    assert ids.check("x:1", 0, 4, T) is Verdict.REDELIVERED
    assert len(table.changelog) == 1  # nothing re-written


def test_ids_are_remembered_per_raw_partition() -> None:
    """Offsets of one partition say nothing about another's (partitions grew, or another key)."""
    ids, _, _ = memory()
    assert ids.check("x:1", 0, 10, T) is Verdict.NEW
    assert judge(Entry(0, 10, T), 1, 50, T, DAY) is Verdict.NEW
    assert ids.check("x:2", 1, 3, T) is Verdict.NEW
    assert ids.check("x:2", 1, 4, T) is Verdict.DUPLICATE


def test_an_id_past_the_horizon_is_new_again_and_its_old_memory_forgotten() -> None:
    ids, table, forgotten = memory(horizon_s=3600)
    assert ids.check("x:1", 0, 0, T) is Verdict.NEW
    assert ids.check("x:2", 0, 1, T + 1800) is Verdict.NEW
    assert ids.check("x:1", 0, 2, T + 3601) is Verdict.NEW  # an hour and a second later
    assert table.data["x:1"] == [0, 2, T + 3601]
    assert forgotten == []  # x:1's old place in line is stale, not a live entry: nothing deleted
    assert ids.check("x:3", 0, 3, T + 5401) is Verdict.NEW  # x:2 is now past the horizon
    assert forgotten == ["expired"]
    assert "x:2" not in table.data
    assert (0, "x:2", None) in table.changelog  # a tombstone on its raw partition
    assert ids.check("x:1", 0, 4, T + 5401) is Verdict.DUPLICATE  # the live x:1 survived


def test_expiry_follows_the_partitions_arrival_clock_not_a_late_timestamp() -> None:
    """A record stamped earlier than one already seen does not move the partition's clock back."""
    ids, _, _ = memory(horizon_s=3600)
    assert ids.check("x:1", 0, 0, T) is Verdict.NEW
    assert ids.check("x:9", 0, 1, T + 3500) is Verdict.NEW
    assert ids.check("x:9", 0, 2, T + 4000) is Verdict.DUPLICATE  # the clock is at T + 4000 now
    # x:1 is still in the table (only new ids make room), but past the horizon by the clock
    assert ids.check("x:1", 0, 3, T + 100) is Verdict.NEW


def test_the_bound_forgets_the_oldest_ids_of_the_partition() -> None:
    ids, table, forgotten = memory(max_ids=3)
    for i in range(5):
        assert ids.check(f"x:{i}", 0, i, T + i) is Verdict.NEW
    assert ids.check("y:0", 1, 0, T) is Verdict.NEW  # another partition has a bound of its own
    assert forgotten == ["bound", "bound"]
    assert sorted(table.data) == ["x:2", "x:3", "x:4", "y:0"]
    assert ids.remembered(0) == 3
    assert ids.check("x:0", 0, 5, T + 5) is Verdict.NEW  # forgotten: counted again
    assert ids.check("x:4", 0, 6, T + 6) is Verdict.DUPLICATE


def test_a_restarted_worker_rebuilds_from_the_recovered_table() -> None:
    """The table is what survives (its changelog); the order of forgetting is rebuilt from it."""
    first, table, _ = memory(max_ids=3)
    for i in range(3):
        first.check(f"x:{i}", 0, 10 + i, T + i)
    recovered = FakeTable()
    recovered.data = dict(table.data)
    again, recovered, forgotten = memory(recovered, max_ids=3)
    assert again.check("x:1", 0, 20, T + 10) is Verdict.DUPLICATE
    assert again.check("x:1", 0, 11, T + 10) is Verdict.REDELIVERED
    assert again.check("x:9", 0, 21, T + 11) is Verdict.NEW
    assert forgotten == ["bound"]
    assert "x:0" not in recovered.data  # the lowest offset went first


def test_a_rebalance_rebuilds_the_order_from_what_another_worker_wrote() -> None:
    ids, table, forgotten = memory(max_ids=2)
    ids.check("x:1", 0, 1, T)
    table.data["x:2"] = [0, 2, T]  # the partition was away; its new owner remembered x:2
    rebalanced()
    ids.check("x:3", 0, 3, T)
    assert forgotten == ["bound"]
    assert sorted(table.data) == ["x:2", "x:3"]


def test_a_zero_horizon_turns_it_off() -> None:
    ids, table, _ = memory(horizon_s=0)
    assert not ids.enabled
    assert ids.check("x:1", 0, 1, T) is Verdict.NEW
    assert ids.check("x:1", 0, 2, T) is Verdict.NEW
    assert table.data == {} and table.changelog == []


@pytest.mark.parametrize("value", [None, [0, 1], [0, "1", 2], {"p": 0}, [True, 1, 2]])
def test_a_value_of_another_shape_is_no_memory(value: Any) -> None:
    assert Entry.load(value) is None


def test_arrival_is_the_records_timestamp_or_the_clock() -> None:
    assert arrival(T + 0.9) == T
    assert arrival(None, now=lambda: T + 5.0) == T + 5
    assert arrival(0.0, now=lambda: T + 5.0) == T + 5
