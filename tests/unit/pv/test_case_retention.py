"""Case retention: handled cases leave the ``cases`` table by age or over the cap; open ones stay."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from pipeline.pv.retention import SWEEP_S, CaseKeeper, handled_at, sweep

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
KEEP = timedelta(days=90)


def case(status: str, days_ago: float = 1.0) -> dict[str, Any]:
    at = (NOW - timedelta(days=days_ago)).isoformat()
    history = [{"at": "2026-01-01T00:00:00+00:00", "status": "opened"}]
    if status != "new":
        history.append({"at": at, "by": "sofia", "status": status})
    return {"status": status, "history": history}


def test_handled_at_is_the_move_that_handled_it() -> None:
    assert handled_at(case("new")) is None
    assert handled_at(case("in_review")) is None
    assert handled_at(case("sent_to_safety", 3)) == NOW - timedelta(days=3)
    # reopened (closed_invalid -> in_review) then closed again: the last close counts
    reclosed = case("closed_invalid", 200)
    reclosed["history"] += [
        {"at": (NOW - timedelta(days=5)).isoformat(), "status": "in_review"},
        {"at": (NOW - timedelta(days=2)).isoformat(), "status": "closed_invalid"},
    ]
    assert handled_at(reclosed) == NOW - timedelta(days=2)
    # a move with no zone or no readable time still lets the case go, never stops the sweep
    naive = case("sent_to_safety")
    naive["history"][-1]["at"] = "2026-12-01T10:00:00"
    assert handled_at(naive) == datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
    naive["history"][-1]["at"] = "yesterday"
    assert handled_at(naive) == datetime.min.replace(tzinfo=UTC)


def test_handled_cases_past_the_keep_period_go_and_open_ones_never() -> None:
    held = {
        "sent-old": case("sent_to_safety", 91),
        "closed-old": case("closed_invalid", 120),
        "sent-recent": case("sent_to_safety", 10),
        "new-old": case("new"),
        "review-old": case("in_review", 400),
    }
    held["new-old"]["history"][0]["at"] = (NOW - timedelta(days=400)).isoformat()
    swept = sweep(held, list(held), NOW, keep=KEEP, max_cases=100)
    assert sorted(swept.expired) == ["closed-old", "sent-old"]
    assert (swept.capped, swept.over_cap) == ((), 0)


def test_over_the_cap_the_oldest_handled_go_first_and_open_cases_stay_over_it() -> None:
    held = {f"open-{i}": case("new") for i in range(3)}
    held |= {"sent-9": case("sent_to_safety", 9), "sent-2": case("sent_to_safety", 2)}
    held["closed-5"] = case("closed_invalid", 5)
    assert sweep(held, list(held), NOW, keep=KEEP, max_cases=4).capped == ("sent-9", "closed-5")
    # three open cases and a cap of two: every handled one goes, one open case over the cap
    swept = sweep(held, list(held), NOW, keep=KEEP, max_cases=2)
    assert swept.capped == ("sent-9", "closed-5", "sent-2") and swept.over_cap == 1
    # only the ids the sweep may touch (this partition's) are dropped
    swept = sweep(held, ["open-0", "sent-2"], NOW, keep=KEEP, max_cases=4)
    assert swept.capped == ("sent-2",) and swept.over_cap == 1


def test_a_partition_is_swept_at_most_once_per_interval() -> None:
    ticks = [0.0]
    keeper = CaseKeeper(KEEP, 100, partition_of=lambda key: int(key[-1]), clock=lambda: ticks[0])
    held = {"a0": case("sent_to_safety", 100), "b1": case("sent_to_safety", 100)}
    first = keeper.check(held, 0, NOW)
    assert first is not None and first.expired == ("a0",)  # not b1: partition 1's
    ticks[0] = SWEEP_S - 1
    assert keeper.check(held, 0, NOW) is None
    swept = keeper.check(held, 1, NOW)
    assert swept is not None and swept.expired == ("b1",)
    ticks[0] = SWEEP_S
    assert keeper.check(held, 0, NOW) is not None
