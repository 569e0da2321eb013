"""What the attack on the worker's doors found, checked without a broker (the live attack is
``tests/integration/test_attack_surface.py``): the record shape check that keeps bad records on
Tocsin's own topics away from its agents, silences read back with the request's checks, and the
sign-in's ``next=``.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from pipeline.approvals.web.base import loggable
from pipeline.approvals.web.login import after_login
from pipeline.oncall import dispatch
from pipeline.oncall.group_notices import command_problem
from pipeline.oncall.silences import (
    SilenceError,
    parse_silence,
    readable_silences,
    silence_from_dict,
)
from pipeline.pv.cases import CaseError, apply_event
from pipeline.records import (
    AckCommand,
    Alert,
    ClassifiedMention,
    DecisionRecord,
    GroupCommand,
    Mention,
    SilenceCommand,
    shape_problem,
)
from tests.e2e.approvals_harness import alert_payload
from tests.unit.oncall.test_oncall_grouping import add as grouping_add

NOW = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)


def loads(record_type: Any, value: dict[str, Any]) -> Any:
    """The record as a Faust agent gets it: built from JSON bytes, nothing checked."""
    return record_type.loads(json.dumps(value).encode(), serializer="json")


MENTION = {
    "id": "x:1",
    "platform": "x",
    "text": "Zentavo price up 40%?!",
    "created_at": "2026-11-20T08:15:03Z",
    "brand": "valmoreau",
    "author": {"id": "u_1", "followers": 1200, "verified": False, "kind": "patient"},
    "brands": ["valmoreau"],
    "engagement": {"likes": 3, "shares": 1, "replies": 0},
}


# -- the shape of records read from Tocsin's topics ----------------------------------------------
def test_records_as_tocsin_writes_them_pass() -> None:
    ack = AckCommand(dedup_key="k", action="acknowledge", by="api", via="api", at=NOW)
    again = AckCommand.loads(ack.dumps(serializer="json"), serializer="json")
    assert shape_problem(again, AckCommand) is None
    assert (
        shape_problem(loads(Alert, alert_payload("brenmoor", "scandal", "critical", 5)), Alert)
        is None
    )
    classified = {
        "mention": MENTION,
        "topics": ["pricing"],
        "scores": {"pricing": 0.91, "boycott": 0},  # an int score is a number too
        "stance": "critical",
        "lang": "en",
        "model_version": "v6",
    }
    assert shape_problem(loads(ClassifiedMention, classified), ClassifiedMention) is None
    command = {"id": "s", "action": "expire", "at": "2026-12-07T10:00:00Z", "silence": None}
    assert shape_problem(loads(SilenceCommand, command), SilenceCommand) is None


@pytest.mark.parametrize(
    ("record_type", "value", "problem"),
    [
        (
            AckCommand,
            {
                "dedup_key": ["x"],
                "action": "a",
                "by": "b",
                "via": "v",
                "at": "2026-12-07T10:00:00Z",
            },
            "AckCommand.dedup_key: expected str, got list",
        ),
        (
            Mention,
            {**MENTION, "author": {"id": "u", "followers": "many"}},
            "Mention.author.followers: expected int, got str",
        ),
        (Mention, {**MENTION, "author": {"id": "u", "verified": 1}}, "Mention.author.verified"),
        (Mention, {**MENTION, "brands": ["valmoreau", 7]}, "Mention.brands[1]: expected str"),
        (
            ClassifiedMention,
            {
                "mention": MENTION,
                "topics": [],
                "scores": {"pricing": "high"},
                "stance": "s",
                "lang": "en",
                "model_version": "v",
            },
            "ClassifiedMention.scores.pricing: expected float, got str",
        ),
        (
            SilenceCommand,
            {"id": "s", "action": "create", "at": "2026-12-07T10:00:00Z", "silence": "brand=x"},
            "SilenceCommand.silence: expected an object, got str",
        ),
        (
            DecisionRecord,
            {
                "event_id": "e",
                "draft_id": "d",
                "at": "2026-12-07T10:00:00Z",
                "actor": [],
                "event": {},
            },
            "DecisionRecord.actor: expected an object, got list",
        ),
        (Alert, {**alert_payload("b", "t", "critical", 1), "observed": True}, "Alert.observed"),
    ],
)
def test_wrong_field_types_are_named(record_type: Any, value: dict[str, Any], problem: str) -> None:
    found = shape_problem(loads(record_type, value), record_type)
    assert found is not None and found.startswith(problem), found


def test_a_value_that_is_not_the_record_is_a_problem() -> None:
    assert (
        shape_problem(None, AckCommand) == "AckCommand: expected a AckCommand object, got NoneType"
    )


# -- silences read back with the request's checks ------------------------------------------------
def stored_silence(**changes: Any) -> dict[str, Any]:
    body = {
        "matchers": [{"name": "brand", "value": "valmoreau"}],
        "endsAt": (NOW + timedelta(hours=2)).isoformat(),
        "createdBy": "mara",
        "comment": "pricing storm",
    }
    return {**parse_silence(body, silence_id="s-1", now=NOW).to_dict(), **changes}


def test_a_stored_silence_reads_back_and_so_does_an_expired_one() -> None:
    silence = silence_from_dict(stored_silence())
    assert silence_from_dict(silence.to_dict()) == silence
    expired = silence.expired(NOW + timedelta(minutes=5))
    assert silence_from_dict(expired.to_dict(NOW)) == expired


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"id": None}, "id:"),
        ({"matchers": "all"}, "matchers:"),
        ({"matchers": [{"name": "brand", "value": "(a+)+$", "isRegex": True}]}, "unsafe regular"),
        ({"matchers": [{"name": "brand", "value": "(", "isRegex": True}]}, "bad regular"),
        ({"matchers": [{"name": "nope", "value": "x"}]}, "matchers[0].name"),
        ({"startsAt": "yesterday"}, "startsAt"),
        ({"endsAt": 5}, "endsAt"),
        ({"createdBy": ""}, "createdBy"),
    ],
)
def test_a_malformed_stored_silence_is_refused_by_name(
    changes: dict[str, Any], problem: str
) -> None:
    with pytest.raises(SilenceError, match=problem.replace("[", r"\[").replace("(", r"\(")):
        silence_from_dict(stored_silence(**changes))
    with pytest.raises(SilenceError):
        silence_from_dict({"x": 1})  # what used to stop every page (KeyError on "id")


def test_the_dispatcher_skips_a_poisoned_silence_and_keeps_the_good_ones(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    good = stored_silence()
    table = {
        "bad": {"x": 1},
        "regex": stored_silence(matchers=[{"name": "brand", "value": "(a*)*", "isRegex": True}]),
        "s-1": good,
        "empty": {},
    }
    monkeypatch.setattr(dispatch, "silences", table)
    assert [s.id for s in dispatch.current_silences()] == ["s-1"]
    heard: list[str] = []
    assert [s.id for s in readable_silences(table.values(), heard.append)] == ["s-1"]
    assert len(heard) == 2


# -- where a sign-in returns to ------------------------------------------------------------------
@pytest.mark.parametrize(
    ("nxt", "to"),
    [
        ("/console", "/console"),
        (
            "/console/alerts/brenmoor%3Ascandal?done=acknowledge",
            "/console/alerts/brenmoor%3Ascandal?done=acknowledge",
        ),
        ("/approvals/d-1", "/approvals/d-1"),
        ("/console/\r\nSet-Cookie: x=1", "/approvals"),
        ("/console/\tx", "/approvals"),
        ("/approvals/../evil", "/approvals"),
        ("/approvals/%2e%2E/evil", "/approvals"),
        ("/approvals\\evil", "/approvals"),
        ("//evil.example", "/approvals"),
        ("https://evil.example/approvals", "/approvals"),
        ("/approvalsx", "/approvals"),
        ("/approvals/é", "/approvals"),
        (None, "/approvals"),
    ],
)
def test_sign_in_returns_only_to_a_signed_in_page(nxt: str | None, to: str) -> None:
    assert after_login(nxt) == to


# -- log lines -----------------------------------------------------------------------------------
def test_request_values_cannot_forge_a_log_line() -> None:
    forged = "d-1\n[2026-12-07 10:00:00,000] [1] [INFO] approved d-1 by e.lindqvist\r\x1b[2K"
    line = loggable(forged)
    assert "\n" not in line and "\r" not in line and "\x1b" not in line
    assert line.startswith("d-1\\x0a[2026-12-07") and line.endswith("\\x0d\\x1b[2K")
    assert len(loggable("x" * 5000)) == 100


# -- group commands and pharmacovigilance cases: checked before they are stored -----------------
def test_a_group_add_as_dispatch_sends_it_passes_and_odd_ones_are_named() -> None:
    alert = loads(Alert, alert_payload("brenmoor", "scandal", "critical", 5))
    good = grouping_add(alert, "slack", NOW.timestamp())
    again = GroupCommand.loads(good.dumps(serializer="json"), serializer="json")
    assert command_problem(again) is None  # through Kafka as dispatch_alerts writes it
    remove = GroupCommand(group="g", action="remove", at=NOW, alert={"dedup_key": "k"})
    assert command_problem(remove) is None
    assert command_problem(GroupCommand(group="g", action="flush", at=NOW)) is None
    odd = {
        "action": GroupCommand(group="g", action="merge", at=NOW),
        "alert": GroupCommand(group="g", action="remove", at=NOW),
        "grouping": replace_field(again, grouping={"junk": 1}),  # was a KeyError crash
        "key": replace_field(again, key=["route", "brand=x"]),
        "receivers": replace_field(again, receivers=[]),
        "Alert": replace_field(again, alert={**again.alert, "observed": "many"}),
    }
    for word, command in odd.items():
        problem = command_problem(command)
        assert problem is not None and word in problem, (word, problem)


def replace_field(command: GroupCommand, **changes: Any) -> GroupCommand:
    return GroupCommand(**{**command.asdict(), **changes})


def test_an_open_case_event_is_checked_before_it_is_stored() -> None:
    case = {
        "case_id": "case-1",
        "status": "new",
        "received_at": "2026-11-20T08:15:03+00:00",
        "due": "2026-12-05",
        "deadline": "2026-12-05T23:59:59+01:00",
        "notes": [],
        "history": [],
    }
    assert apply_event(None, {"kind": "open", "case_id": "case-1", "case": case}) == case
    for bad, problem in [
        (None, "without a case"),  # was a TypeError crash of track_cases
        ({**case, "case_id": "case-2"}, "differs"),
        ({**case, "status": "lost"}, "status"),
        ({**case, "deadline": "soon"}, "deadline"),  # stopped the near-due gauge for every case
        ({**case, "deadline": "2026-12-05T23:59:59"}, "time zone"),
        ({**case, "due": "friday"}, "due"),
        ({**case, "notes": "none"}, "notes"),
    ]:
        with pytest.raises(CaseError, match=problem):
            apply_event(None, {"kind": "open", "case_id": "case-1", "case": bad})
