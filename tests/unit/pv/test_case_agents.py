"""The case agents with ``agent.test_context()``: triage opens cases, events keep the table."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from prometheus_client import CollectorRegistry

from agents import track_cases, triage_cases
from pipeline import services
from pipeline.metrics import TocsinMetrics
from pipeline.oncall import dispatch as dispatch_plan
from pipeline.pv import events as case_event_path
from pipeline.pv.cases import case_id, open_case
from pipeline.pv.retention import SWEEP_S, CaseKeeper
from pipeline.pv.triage import CaseAssessment
from pipeline.records import Author, CaseEvent, ClassifiedMention, Mention
from pipeline.settings import make_settings
from pipeline.tables import cases
from tests.fakes import RecordingReceiver, RecordingTopic

ARRIVED = datetime(2026, 11, 20, 23, 30, tzinfo=UTC)  # 00:30 on the 21st in Paris
PARIS = ZoneInfo("Europe/Paris")
SERIOUS = "My mother was hospitalised with a swollen throat after her second dose of Glytera"
MILD = "I started Glytera last week and now I have terrible nausea"
VAGUE = "Glytera can cause nausea in some people"


@pytest.fixture()
def metrics(faust_app: Any) -> Iterator[TocsinMetrics]:
    m = TocsinMetrics(CollectorRegistry(), receivers=("console",))
    services.override(metrics=m, settings=make_settings(pv_timezone="Europe/Paris"))
    cases.data.clear()
    yield m
    cases.data.clear()


def sample(metrics: TocsinMetrics, outcome: str) -> float | None:
    return metrics.registry.get_sample_value("tocsin_pv_cases_total", {"outcome": outcome})


def classified(i: int, text: str, topics: list[str]) -> ClassifiedMention:
    mention = Mention(
        id=f"x:{i}",
        platform="x",
        text=text,
        created_at=datetime(2026, 11, 20, 23, 0, tzinfo=UTC),
        brand="brenmoor",
        author=Author(id="9f2c" * 8, key_id="k1"),
        brands=["brenmoor"],
        url=f"https://x.example/{i}",
        received_at=ARRIVED,
    )
    scores = dict.fromkeys(topics, 0.9)
    return ClassifiedMention(
        mention=mention,
        topics=topics,
        scores=scores,
        stance="critical",
        lang="en",
        model_version="t",
    )


async def test_adverse_event_mentions_open_cases(
    monkeypatch: pytest.MonkeyPatch, metrics: TocsinMetrics
) -> None:
    out = RecordingTopic()
    monkeypatch.setattr(case_event_path, "case_events", out)
    async with triage_cases.triage_cases.test_context() as agent:
        await agent.put(classified(1, SERIOUS, ["adverse_event"]))
        await agent.put(classified(2, VAGUE, ["adverse_event", "scandal"]))
        await agent.put(classified(3, MILD, ["pricing"]))  # not classified adverse_event
    opened = {k: v.case for k, v in out.sent}
    assert set(opened) == {case_id("x:1"), case_id("x:2")}
    serious, vague = opened[case_id("x:1")], opened[case_id("x:2")]
    assert serious is not None and vague is not None
    assert (serious["status"], serious["day_zero"], serious["due"]) == (
        "new",
        "2026-11-21",  # the Paris date the mention arrived
        "2026-12-06",
    )
    assert serious["serious"] and serious["mention"]["text"] == SERIOUS
    assert (vague["status"], vague["missing"], vague["due"]) == (
        "possible",
        ["patient", "reaction"],
        None,
    )
    assert (sample(metrics, "new"), sample(metrics, "possible")) == (1, 1)


async def test_events_keep_the_table_and_bad_ones_are_refused(
    monkeypatch: pytest.MonkeyPatch, metrics: TocsinMetrics
) -> None:
    out = RecordingTopic()
    monkeypatch.setattr(case_event_path, "case_events", out)
    async with triage_cases.triage_cases.test_context() as agent:
        await agent.put(classified(1, SERIOUS, ["adverse_event"]))
        await agent.put(classified(4, MILD, ["adverse_event"]))
    [(key, opened), (mild_key, mild)] = out.sent
    at = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)
    async with track_cases.track_cases.test_context() as agent:
        await agent.put(opened, key=key)
        await agent.put(mild, key=mild_key)
        await agent.put(opened, key=key)  # the mention re-read: no second case, no reset
        await agent.put(CaseEvent(case_id=key, kind="move", at=at, by="sofia", to="in_review"))
        await agent.put(CaseEvent(case_id=key, kind="note", at=at, by="sofia", text="age asked"))
        await agent.put(CaseEvent(case_id=key, kind="move", at=at, by="sofia", to="new"))
        await agent.put(CaseEvent(case_id="case-none", kind="note", at=at, by="x", text="y"))
    case = cases[key]
    assert case["status"] == "in_review" and [n["text"] for n in case["notes"]] == ["age asked"]
    assert [h["status"] for h in case["history"]] == ["opened", "in_review"]
    assert sample(metrics, "refused") == 2

    # the gauge: the serious case (deadline end of 6 Dec in Paris) is near due from 3 Dec, 23:00Z
    assert track_cases.refresh_gauge(datetime(2026, 12, 3, 22, 0, tzinfo=UTC)) == {
        "serious": 0,
        "non_serious": 0,
    }
    assert track_cases.refresh_gauge(datetime(2026, 12, 3, 23, 0, tzinfo=UTC)) == {
        "serious": 1,
        "non_serious": 0,
    }
    near = metrics.registry.get_sample_value("tocsin_pv_cases_near_due", {"seriousness": "serious"})
    assert near == 1


async def test_a_new_valid_case_goes_to_the_safety_receivers_once(
    monkeypatch: pytest.MonkeyPatch, metrics: TocsinMetrics
) -> None:
    safety = RecordingReceiver("pv-safety", cleared=True)
    comms = RecordingReceiver("slack", cleared=False)
    services.override(receivers=[safety, comms])
    receipts = RecordingTopic()
    monkeypatch.setattr(dispatch_plan, "deliveries", receipts)
    out = RecordingTopic()
    monkeypatch.setattr(case_event_path, "case_events", out)
    async with triage_cases.triage_cases.test_context() as agent:
        await agent.put(classified(1, SERIOUS, ["adverse_event"]))
        await agent.put(classified(2, VAGUE, ["adverse_event"]))  # possible: not sent
    async with track_cases.track_cases.test_context() as agent:
        for key, event in [*out.sent, *out.sent]:  # everything twice: a re-read after a restart
            await agent.put(event, key=key)
    assert comms.got == []
    [(alert, key)] = safety.got
    assert alert.dedup_key == f"case:{case_id('x:1')}" and key.endswith("/opened/pv-safety")
    assert alert.top_mentions is not None and alert.top_mentions[0]["text"] == SERIOUS
    assert alert.severity == "critical" and "due 2026-12-06 (Europe/Paris)" in alert.summary
    assert [(v.receiver, v.outcome) for v in receipts.values] == [("pv-safety", "delivered")]


async def test_track_cases_drops_handled_cases_and_counts_what_stays_over_the_cap(
    monkeypatch: pytest.MonkeyPatch, metrics: TocsinMetrics
) -> None:
    services.override(receivers=[])
    assessment = CaseAssessment(True, True, "Glytera", ("nausea",), ())
    opens = []
    for i in range(1, 4):
        mention = {"id": f"x:{i}", "text": MILD, "brand": "brenmoor"}
        case = open_case(mention=mention, assessment=assessment, received_at=ARRIVED, tz=PARIS)
        event = CaseEvent(case_id=case["case_id"], kind="open", at=ARRIVED, by="t", case=case)
        opens.append((case["case_id"], event))
    ticks = [0.0]
    services.extra()["pv_case_keeper"] = CaseKeeper(
        timedelta(days=30), 1, partition_of=lambda key: 0, clock=lambda: ticks[0]
    )
    old = datetime.now(UTC) - timedelta(days=31)
    [(sent, opened), *rest] = opens
    async with track_cases.track_cases.test_context() as agent:
        await agent.put(opened, key=sent)
        await agent.put(CaseEvent(case_id=sent, kind="move", at=old, by="s", to="sent_to_safety"))
        assert sent in cases  # swept when it was still open; the next sweep is a minute away
        ticks[0] = SWEEP_S
        for key, event in rest:
            await agent.put(event, key=key)
    # handled 31 days ago: gone from the table (pv.cases keeps it); the open cases all stay
    assert sorted(cases) == sorted(key for key, _ in rest)
    dropped = metrics.registry.get_sample_value
    assert dropped("tocsin_pv_cases_dropped_total", {"reason": "expired"}) == 1
    assert dropped("tocsin_pv_cases_over_cap") == 0  # swept when the second case opened
    track_cases.refresh_gauge(datetime.now(UTC))
    assert (dropped("tocsin_pv_cases_held"), dropped("tocsin_pv_cases_over_cap")) == (2, 1)
