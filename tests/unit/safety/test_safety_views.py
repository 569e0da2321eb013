"""What the safety pages show: the queue's order and filters, the clock in words (with an
injected now), the case detail, rendered by the real templates (escaping, links)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from pipeline.approvals.users import User
from pipeline.pv.cases import apply_event, confirmed, open_case
from pipeline.pv.regions import EU, Markets, RegionRule
from pipeline.pv.triage import CaseAssessment
from pipeline.safety import views
from pipeline.safety.web import render

ARRIVED = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)  # serious: due 2026-12-05, ends 12-06 00:00Z
SAFETY = User("l.marchetti", "Dr Lucia Marchetti", frozenset({"safety"}))
US = RegionRule("us", "US", 15, None, unexpected_only=True)
MARKETS = Markets(regions={"eu": EU, "us": US}, default=("eu",), products={"respivel": ("us",)})


def case(
    mid: str,
    *,
    serious: bool = True,
    valid: bool = True,
    product: str = "Glytera",
    at: datetime = ARRIVED,
    text: str = "My mother was hospitalised after Glytera",
) -> dict[str, Any]:
    a = CaseAssessment(
        reporter=True,
        patient=valid,
        product=product,
        reactions=("Nausea",),
        seriousness=("hospitalisation",) if serious else (),
        patient_details={"who": "my mother"},
    )
    mention = {
        "id": mid,
        "text": text,
        "brand": "brenmoor",
        "url": "javascript:alert(1)" if mid == "x:evil" else f"https://x.example/{mid}",
        "platform": "x",
        "lang": "en",
        "author": "ab" * 16,
        "created_at": at.isoformat(),
    }
    return open_case(
        mention=mention, assessment=a, received_at=at, tz=ZoneInfo("UTC"), markets=MARKETS
    )


def test_the_clock_says_overdue_soon_and_left_in_words() -> None:
    c = case("x:1")
    end = datetime(2026, 12, 6, 0, 0, tzinfo=UTC)
    assert views.clock(c, end - timedelta(days=5, hours=2)) == {
        "state": "running",
        "text": "5 d 2 h left",
    }
    assert views.clock(c, end - timedelta(hours=30)) == {
        "state": "soon",
        "text": "Due soon: 1 d 6 h left",
    }
    assert views.clock(c, end + timedelta(minutes=90)) == {
        "state": "overdue",
        "text": "Overdue by 1 h 30 min",
    }
    assert views.clock(case("x:2", valid=False), end)["state"] == "none"
    periodic = case("x:3", serious=False, product="Respivel")
    assert views.clock(periodic, end)["text"] == "No expedited clock: periodic report"
    moved = apply_event(c, {"kind": "move", "to": "sent_to_safety", "at": "t", "by": "l"})
    assert views.clock(moved, end + timedelta(days=9))["state"] == "done"


def test_the_queue_puts_valid_cases_first_then_the_soonest_deadline() -> None:
    late = case("x:late", serious=False)  # 90 days
    soon = case("x:soon")  # 15 days
    older = case("x:older", at=ARRIVED - timedelta(days=20))  # 15 days, already overdue
    possible = case("x:possible", valid=False)
    periodic = case("x:periodic", serious=False, product="Respivel")
    handled = apply_event(
        case("x:done"), {"kind": "move", "to": "closed_invalid", "at": "t", "by": "l"}
    )
    everything = [possible, late, periodic, soon, handled, older]
    now = ARRIVED + timedelta(days=1)
    rows = views.queue(everything, views.QueueFilter(), now)
    assert [r["case_id"] for r in rows] == [
        c["case_id"] for c in (older, soon, late, periodic, possible)
    ]
    assert rows[0]["clock"]["state"] == "overdue" and "text" not in rows[0]
    assert len(views.queue(everything, views.QueueFilter("all"), now)) == 6
    only = views.queue(everything, views.QueueFilter("closed_invalid"), now)
    assert [r["case_id"] for r in only] == [handled["case_id"]]
    serious = views.queue(everything, views.QueueFilter.of({"seriousness": "serious"}), now)
    assert {r["case_id"] for r in serious} == {
        older["case_id"],
        soon["case_id"],
        possible["case_id"],
    }
    assert views.QueueFilter.of({"status": "drop table", "seriousness": "x"}) == views.QueueFilter()


def test_the_queue_page_lists_cases_without_their_text() -> None:
    rows = views.queue([case("x:1", text="SECRET words")], views.QueueFilter(), ARRIVED)
    html = render(
        "queue.html",
        user=SAFETY,
        rows=rows,
        filters=views.QueueFilter(),
        statuses=[("open", "Open"), ("all", "All")],
    )
    assert "Glytera: Nausea" in html and "SECRET" not in html
    assert "15 d 15 h left" in html


def test_the_case_page_shows_the_mention_escaped_and_only_web_links() -> None:
    c = case("x:evil", text="<script>alert(1)</script> I was hospitalised")
    c = apply_event(
        c, {"kind": "note", "text": "<b>called</b>", "at": ARRIVED.isoformat(), "by": "l"}
    )
    d = views.detail(c, ARRIVED)
    assert d["criteria"] == [
        ("reporter", True),
        ("patient", True),
        ("product", True),
        ("reaction", True),
    ]
    assert [m[0] for m in d["moves"]] == ["in_review", "sent_to_safety", "closed_invalid"]
    html = render(
        "case.html",
        user=SAFETY,
        d=d,
        log=views.access_log(
            [
                {
                    "at": ARRIVED.isoformat(),
                    "actor": "l.marchetti",
                    "action": "pv_case_view",
                    "outcome": "ok",
                }
            ]
        ),
        csrf="tok",
        max_note=4000,
    )
    assert "&lt;script&gt;alert(1)&lt;/script&gt; I was hospitalised" in html
    assert "<script>" not in html and "javascript:" not in html
    assert "&lt;b&gt;called&lt;/b&gt;" in html
    assert "l.marchetti view" in html
    assert 'name="from" value="new"' in html and 'value="sent_to_safety"' in html


def test_a_confirmed_possible_case_says_when_its_clock_started() -> None:
    at = datetime(2026, 11, 21, tzinfo=UTC)
    c = case("x:p", valid=False)
    assert views.detail(c, at)["moves"][0] == ("new", "New")
    clock = confirmed(c, at, ZoneInfo("UTC"), MARKETS)
    c = apply_event(
        c, {"kind": "move", "to": "new", "at": at.isoformat(), "by": "l", "case": clock}
    )
    html = render("case.html", user=SAFETY, d=views.detail(c, at), log=[], csrf="x", max_note=9)
    assert "Confirmed valid on the safety queue at 2026-11-21 00:00 UTC" in html
    assert (
        "Criteria (as triaged)" in html and "16 d 0 h left" in html
    )  # to the end of day zero + 15
