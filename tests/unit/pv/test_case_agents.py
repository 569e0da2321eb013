"""The case agents with ``agent.test_context()``: triage opens cases, events keep the table."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from agents import track_cases, triage_cases
from pipeline import services
from pipeline.delivery.receivers.base import Receiver
from pipeline.metrics import TocsinMetrics
from pipeline.oncall import dispatch as dispatch_plan
from pipeline.pv import events as case_event_path
from pipeline.pv.cases import case_id
from pipeline.records import Alert, Author, CaseEvent, ClassifiedMention, Mention
from pipeline.settings import make_settings
from pipeline.tables import cases
from tests.fakes import RecordingTopic

ARRIVED = datetime(2026, 11, 20, 23, 30, tzinfo=UTC)  # 00:30 on the 21st in Paris
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


class Recorder(Receiver):
    def __init__(self, name: str, cleared: bool) -> None:
        self.name, self.health_data_cleared = name, cleared
        self.got: list[tuple[Alert, str]] = []

    async def send(self, alert: Alert, *, idempotency_key: str) -> int | None:
        self.got.append((alert, idempotency_key))
        return 200


async def test_a_new_valid_case_goes_to_the_safety_receivers_once(
    monkeypatch: pytest.MonkeyPatch, metrics: TocsinMetrics
) -> None:
    safety, comms = Recorder("pv-safety", cleared=True), Recorder("slack", cleared=False)
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
