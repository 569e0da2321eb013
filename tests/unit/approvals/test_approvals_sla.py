"""SLA timers with an injected clock: overdue roles escalate once, to the right deputies."""

from __future__ import annotations

from datetime import timedelta

from pipeline.approvals.sla import breaches, escalations_due, next_deadline
from pipeline.approvals.state import Actor, Approved, Edited, decide
from tests.unit.approvals.approvals_helpers import NOW, actor, created, policy, users


def test_nothing_is_due_before_the_deadline() -> None:
    state = created("adverse_event", severity="critical")  # 15 min exec/medical, 20 min legal
    assert next_deadline([state]) == NOW + timedelta(minutes=15)
    just_before = NOW + timedelta(minutes=14, seconds=59)
    assert breaches([state], just_before) == []
    assert escalations_due([state], just_before, policy(), users()) == []


def test_overdue_roles_escalate_to_role_and_user_deputies() -> None:
    state = created("adverse_event", severity="critical")
    state, _ = decide(state, Approved(1, state.text_hash), actor("s.naidoo"), policy(), NOW)
    at = NOW + timedelta(minutes=15)
    due = escalations_due([state], at, policy(), users())
    # The medical reviewer answered; exec is due at 15 min; legal (20 min) not yet.
    assert [(d, e.role, e.deputies) for d, e in due] == [
        (state.draft_id, "approver-exec", ("p.achebe", "r.mercier", "e.lindqvist"))
    ]
    later = NOW + timedelta(minutes=21)
    roles = [e.role for _, e in escalations_due([state], later, policy(), users())]
    assert roles == ["approver-exec", "reviewer-legal"]
    overdue = {b.role: b.overdue_s for b in breaches([state], later)}
    assert overdue == {"approver-exec": 360.0, "reviewer-legal": 60.0}


def test_an_escalation_is_applied_once_and_the_deputy_can_then_approve() -> None:
    state = created("scandal", severity="warning")  # 45 min for the exec
    at = NOW + timedelta(minutes=45)
    ((draft_id, event),) = escalations_due([state], at, policy(), users())
    assert draft_id == state.draft_id
    state, entries = decide(state, event, Actor.system(), policy(), at)
    assert entries[0].action == "escalated" and entries[0].actor == "system"
    assert escalations_due([state], at + timedelta(hours=1), policy(), users()) == []
    again, entries = decide(state, event, Actor.system(), policy(), at + timedelta(minutes=1))
    assert again == state and entries == []  # a duplicate escalation is a no-op
    assert [b.escalated for b in breaches([state], at)] == [True]
    state, _ = decide(
        state, Approved(1, state.text_hash), actor("p.achebe"), policy(), at + timedelta(minutes=2)
    )
    assert state.status == "approved"
    assert breaches([state], at + timedelta(hours=2)) == []
    assert next_deadline([state]) is None


def test_authors_and_previous_approvers_are_not_asked() -> None:
    from pipeline.approvals.audit import Origin

    author = Actor("r.mercier", frozenset({"responder", "approver-exec"}), Origin("web"))
    state = created("scandal", severity="warning")
    state, _ = decide(state, Edited(state.draft.text + " Thank you.", 1), author, policy(), NOW)
    at = NOW + timedelta(minutes=45)
    deputies = {e.role: e.deputies for _, e in escalations_due([state], at, policy(), users())}
    assert "r.mercier" not in deputies["approver-exec"]


def test_an_edit_starts_a_new_round_with_new_deadlines() -> None:
    state = created("scandal", severity="warning")
    at = NOW + timedelta(minutes=45)
    ((_, event),) = escalations_due([state], at, policy(), users())
    state, _ = decide(state, event, Actor.system(), policy(), at)
    state, _ = decide(
        state, Edited(state.draft.text + " More soon.", 1), actor("c.moreau"), policy(), at
    )
    # The edit re-opened medical/legal review; every role has 45 minutes from the edit.
    assert next_deadline([state]) == at + timedelta(minutes=45)
    assert escalations_due([state], at + timedelta(minutes=44), policy(), users()) == []
    roles = [
        e.role for _, e in escalations_due([state], at + timedelta(minutes=45), policy(), users())
    ]
    assert roles == ["approver-exec", "reviewer-medical", "reviewer-legal"]


def test_only_pending_drafts_count() -> None:
    state = created("scandal", severity="warning")
    state, _ = decide(state, Approved(1, state.text_hash), actor("e.lindqvist"), policy(), NOW)
    assert breaches([state], NOW + timedelta(days=1)) == []
