"""Cases: day zero, due dates and deadlines on an injected clock; status moves; near-due."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from pipeline.pv.cases import (
    CaseError,
    apply_event,
    case_id,
    clock_for,
    day_zero,
    deadline,
    due_date,
    near_due,
    open_case,
)
from pipeline.pv.triage import CaseAssessment

UTC_ZONE = ZoneInfo("UTC")
PARIS = ZoneInfo("Europe/Paris")
NEW_YORK = ZoneInfo("America/New_York")
TOKYO = ZoneInfo("Asia/Tokyo")


def assessment(*, valid: bool = True, serious: bool = False) -> CaseAssessment:
    return CaseAssessment(
        reporter=True,
        patient=valid,
        product="Glytera",
        reactions=("Nausea",),
        seriousness=("hospitalisation",) if serious else (),
    )


MENTION = {
    "id": "x:42",
    "url": "https://x.example/42",
    "text": "Glytera made me sick",
    "brand": "brenmoor",
}


def test_day_zero_is_the_local_date_of_arrival() -> None:
    late_evening_utc = datetime(2026, 11, 20, 23, 30, tzinfo=UTC)  # a Friday
    assert day_zero(late_evening_utc, UTC_ZONE) == date(2026, 11, 20)
    assert day_zero(late_evening_utc, PARIS) == date(2026, 11, 21)  # 00:30 Saturday in Paris
    assert day_zero(late_evening_utc, NEW_YORK) == date(2026, 11, 20)  # 18:30 in New York
    early_utc = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)
    assert day_zero(early_utc, NEW_YORK) == date(2026, 11, 19)  # still Thursday evening
    assert day_zero(early_utc, TOKYO) == date(2026, 11, 20)
    with pytest.raises(ValueError, match="timezone-aware"):
        day_zero(datetime(2026, 11, 20, 12, 0), PARIS)


def test_due_dates_count_calendar_days_and_weekends_do_not_pause() -> None:
    friday = date(2026, 11, 20)
    assert friday.weekday() == 4
    assert due_date(friday, serious=True) == date(2026, 12, 5)  # a Saturday: not moved
    assert due_date(friday, serious=True).weekday() == 5
    assert due_date(friday, serious=False) == date(2027, 2, 18)  # 90 days, over the new year
    saturday = date(2026, 11, 21)
    assert due_date(saturday, serious=True) - saturday == timedelta(days=15)


def test_the_deadline_is_the_end_of_the_due_date_in_the_zone() -> None:
    assert deadline(date(2026, 12, 5), PARIS) == datetime(2026, 12, 5, 23, 0, tzinfo=UTC)
    assert deadline(date(2026, 12, 5), NEW_YORK) == datetime(2026, 12, 6, 5, 0, tzinfo=UTC)
    # across a daylight-saving change: Paris leaves summer time on 25 Oct 2026
    assert deadline(date(2026, 10, 24), PARIS) == datetime(2026, 10, 24, 22, 0, tzinfo=UTC)
    assert deadline(date(2026, 10, 25), PARIS) == datetime(2026, 10, 25, 23, 0, tzinfo=UTC)


def test_a_report_arriving_near_midnight_gets_the_zones_clock() -> None:
    arrived = datetime(2026, 11, 20, 23, 30, tzinfo=UTC)
    paris = clock_for(arrived, valid=True, serious=True, tz=PARIS)
    utc = clock_for(arrived, valid=True, serious=True, tz=UTC_ZONE)
    assert (paris.day_zero, paris.due) == (date(2026, 11, 21), date(2026, 12, 6))
    assert (utc.day_zero, utc.due) == (date(2026, 11, 20), date(2026, 12, 5))
    assert paris.deadline == datetime(2026, 12, 6, 23, 0, tzinfo=UTC)
    possible = clock_for(arrived, valid=False, serious=True, tz=PARIS)
    assert possible.due is None and possible.deadline is None  # no clock without the criteria


def test_valid_and_possible_cases_open_with_their_status() -> None:
    arrived = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
    case = open_case(
        mention=MENTION, assessment=assessment(serious=True), received_at=arrived, tz=PARIS
    )
    assert case["case_id"] == case_id("x:42") and case["status"] == "new"
    assert (case["day_zero"], case["due"]) == ("2026-11-20", "2026-12-05")
    assert case["missing"] == [] and case["seriousness"] == ["hospitalisation"]
    possible = open_case(
        mention=MENTION, assessment=assessment(valid=False), received_at=arrived, tz=PARIS
    )
    assert possible["status"] == "possible" and possible["missing"] == ["patient"]
    assert possible["due"] is None and possible["deadline"] is None


def test_events_move_and_annotate_a_case() -> None:
    arrived = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
    opened = open_case(mention=MENTION, assessment=assessment(), received_at=arrived, tz=UTC_ZONE)
    case = apply_event(None, {"kind": "open", "case": opened})
    assert apply_event(case, {"kind": "open", "case": {**opened, "status": "x"}}) == case  # re-read
    at = "2026-11-20T10:00:00+00:00"
    case = apply_event(case, {"kind": "move", "to": "in_review", "at": at, "by": "sofia"})
    case = apply_event(
        case, {"kind": "note", "text": "asked the reporter for age", "at": at, "by": "sofia"}
    )
    case = apply_event(case, {"kind": "move", "to": "sent_to_safety", "at": at, "by": "sofia"})
    assert case["status"] == "sent_to_safety" and case["notes"][0]["by"] == "sofia"
    assert [h["status"] for h in case["history"]] == ["opened", "in_review", "sent_to_safety"]
    with pytest.raises(CaseError, match="cannot move"):
        apply_event(case, {"kind": "move", "to": "new", "at": at, "by": "sofia"})
    with pytest.raises(CaseError, match="no case"):
        apply_event(None, {"kind": "note", "case_id": "c", "text": "x", "at": at, "by": "a"})
    with pytest.raises(CaseError, match="empty note"):
        apply_event(case, {"kind": "note", "text": " ", "at": at, "by": "a"})


def test_near_due_counts_unhandled_valid_cases_within_three_days() -> None:
    arrived = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)  # serious: deadline 2026-12-06T00:00Z
    serious = open_case(
        mention=MENTION, assessment=assessment(serious=True), received_at=arrived, tz=UTC_ZONE
    )
    other = open_case(
        mention={**MENTION, "id": "x:43"}, assessment=assessment(), received_at=arrived, tz=UTC_ZONE
    )
    possible = open_case(
        mention={**MENTION, "id": "x:44"},
        assessment=assessment(valid=False),
        received_at=arrived,
        tz=UTC_ZONE,
    )
    cases = [serious, other, possible]
    assert near_due(cases, datetime(2026, 12, 2, 23, 59, tzinfo=UTC)) == []
    assert near_due(cases, datetime(2026, 12, 3, 0, 0, tzinfo=UTC)) == [serious]
    assert near_due(cases, datetime(2026, 12, 10, tzinfo=UTC)) == [serious]  # overdue counts
    handled = apply_event(serious, {"kind": "move", "to": "sent_to_safety", "at": "t", "by": "a"})
    assert near_due([handled, other, possible], datetime(2026, 12, 10, tzinfo=UTC)) == []
