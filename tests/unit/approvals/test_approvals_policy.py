"""Approval policy: roles per topic/severity, medical claims, edits, SLA, deputies, validation."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.approvals.policy import build_policy
from pipeline.errors import ConfigError
from pipeline.yamlfile import parse_yaml
from tests.unit.approvals.approvals_helpers import CONFIG, policy, users

NEUTRAL = "We are aware of the allegations and are reviewing the matter."


def test_scandal_needs_an_exec_and_critical_scandal_adds_legal() -> None:
    p = policy()
    warning = p.requirement(topic="scandal", severity="warning", text=NEUTRAL)
    assert warning.roles == ("approver-exec",)
    assert warning.distinct_approvers and warning.four_eyes
    critical = p.requirement(topic="scandal", severity="critical", text=NEUTRAL)
    assert critical.roles == ("approver-exec", "reviewer-legal")


def test_adverse_event_needs_exec_medical_and_legal() -> None:
    req = policy().requirement(topic="adverse_event", severity="info", text=NEUTRAL)
    assert req.roles == ("approver-exec", "reviewer-medical", "reviewer-legal")
    assert req.distinct_approvers  # three distinct people


def test_a_medical_claim_in_any_topic_needs_exec_medical_and_legal() -> None:
    p = policy()
    text = "Glytera prices stay the same, and it remains safe and effective for every patient."
    req = p.requirement(topic="pricing", severity="warning", text=text, language="en")
    assert req.roles == ("approver-exec", "reviewer-medical", "reviewer-legal")
    assert req.claims == ("safe", "effective")
    assert any(r.startswith("medical claim (safe, effective)") for r in req.reasons)


def test_claim_keywords_match_french_with_accents_wildcards_and_multiword() -> None:
    p = policy()
    text = "L'Ostéliq est BIEN TOLÉRÉ, sans   danger, et ses bénéfices sont prouvés."
    assert p.find_claims(text, "fr") == ("bien tolere", "sans danger", "benefices", "prouves")


def test_claim_keywords_need_whole_words() -> None:
    p = policy()
    # Keywords are whole words: "heals" is not in "healthcare", "cure*" not in "secure", "safe"
    # not in "safeguard"; a `*` keyword is a prefix of a word ("caus*" -> "caused").
    text = "Ask your healthcare professional; our secure portal safeguards your data."
    assert p.find_claims(text, "en") == ()
    assert p.find_claims("It caused nothing.", "en") == ("caused",)
    assert p.find_claims("Nous réprouvons ces propos sur la sécurisation", "fr") == ()


def test_editing_a_reviewed_template_adds_medical_and_legal_review() -> None:
    req = policy().requirement(
        topic="pricing", severity="warning", text=NEUTRAL, edited_reviewed_template=True
    )
    assert req.roles == ("approver-exec", "reviewer-medical", "reviewer-legal")


def test_topics_without_rule_get_the_default() -> None:
    req = policy().requirement(topic="conference", severity="info", text=NEUTRAL)
    assert req.roles == ("approver-exec",) and req.reasons[0].startswith("default")


def test_sla_per_severity_with_role_overrides() -> None:
    p = policy()
    critical = p.requirement(topic="adverse_event", severity="critical", text=NEUTRAL)
    assert critical.sla_s == {
        "approver-exec": 900.0,
        "reviewer-medical": 900.0,
        "reviewer-legal": 1200.0,
    }
    info = p.requirement(topic="scandal", severity="info", text=NEUTRAL)
    assert info.sla_s == {"approver-exec": 4 * 3600.0}


def test_deputies_by_role_then_by_user() -> None:
    p = policy()
    assert p.deputies("approver-exec", users()) == ("p.achebe", "r.mercier", "e.lindqvist")
    assert p.deputies("reviewer-medical", users()) == ("t.kowalski", "s.naidoo")


def test_requirement_round_trips() -> None:
    from pipeline.approvals.policy import Requirement

    req = policy().requirement(topic="adverse_event", severity="critical", text="safe")
    assert Requirement.from_dict(req.to_dict()) == req


def _load(text: str) -> None:
    build_policy(
        parse_yaml(text, Path("policy-test.yaml")), topics=("scandal", "pricing"), users=users()
    )


BASE = (CONFIG / "approval_policy.yaml").read_text(encoding="utf-8")


def test_the_bundled_policy_is_valid_against_users_and_taxonomy() -> None:
    assert policy().rules


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            "    require: [approver-exec]\n  - topics: [scandal]",
            "    require: [approver-ceo]\n  - topics: [scandal]",
            "policy-test.yaml:30: field 'rules[0].require[0]': 'approver-ceo' is not an approver role",
        ),
        (
            "    default: 15m",
            "    default: 15 minutes",
            "field 'sla.critical.default': '15 minutes' is not a duration",
        ),
        (
            "    approver-exec: [p.achebe]",
            "    approver-exec: [p.nobody]",
            "field 'deputies.by_role.approver-exec[0]': unknown user 'p.nobody'",
        ),
        ("  info:\n    default: 4h\n", "", "field 'sla': missing severity 'info'"),
        (
            "    severities: [critical]",
            "    severities: [urgent]",
            "'urgent' is not one of info, warning, critical",
        ),
        (
            "distinct_approvers: true",
            "distinct_approvers: maybe",
            "field 'distinct_approvers': Input should be a valid boolean",
        ),
    ],
)
def test_policy_errors_name_file_line_and_field(old: str, new: str, expected: str) -> None:
    assert old in BASE
    with pytest.raises(ConfigError) as err:
        _load(BASE.replace(old, new, 1))
    assert expected in str(err.value)
    assert str(err.value).startswith("policy-test.yaml:")


def test_unknown_topic_in_a_rule_is_refused() -> None:
    text = BASE.replace("  - topics: [pricing, boycott]", "  - topics: [pricing, boycot]")
    with pytest.raises(ConfigError, match="unknown topic 'boycot'"):
        _load(
            text.replace("[adverse_event]", "[scandal]")
            .replace("[misinformation]", "[scandal]")
            .replace("[clinical_trial, regulatory]", "[scandal]")
        )
