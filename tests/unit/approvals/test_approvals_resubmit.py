"""A rejected draft is final, but a responder may start the same statement again: a new draft
(the next round's id) goes through approval, and the rejected one and its audit stay."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from pipeline.approvals.start import current_round, resubmission
from pipeline.approvals.state import Actor, Approved, DraftCreated, DraftState, Rejected, decide
from tests.unit.approvals.approvals_helpers import NOW, actor, created, first_draft, policy


def test_a_rejected_statement_starts_again_as_a_new_draft_with_both_audited() -> None:
    states: dict[str, DraftState] = {}
    first = created()
    states[first.draft_id] = first
    rejected, _ = decide(first, Rejected(1, "Wrong tone."), actor("s.naidoo"), policy(), NOW)
    states[first.draft_id] = rejected
    responder = actor("c.moreau")

    # the system's re-read of the firing alert proposes the first id: still ignored
    assert resubmission(first_draft(), Actor.system(), states.get) == first_draft()
    again = resubmission(first_draft(), responder, states.get)
    assert (again.id, again.resubmits) == (f"{first.draft_id}-r2", first.draft_id)
    assert again.text == first.draft.text  # the same statement; the responder may edit it

    later = NOW + timedelta(minutes=5)
    second, [entry] = decide(None, DraftCreated(again), responder, policy(), later)
    assert (second.status, second.version, second.authors) == ("pending", 1, ("c.moreau",))
    assert f"resubmits rejected draft {first.draft_id}" in entry.detail
    assert (entry.draft_id, entry.action) == (again.id, "draft_created")
    assert states[first.draft_id].status == "rejected"  # unchanged, its audit entries with it
    # the new round is a draft like any other: the same approver may approve it now
    states[again.id] = second
    approved, _ = decide(
        second,
        Approved(1, second.text_hash),
        actor("s.naidoo"),
        policy(),
        later,
    )
    assert approved.approvals[-1].user_id == "s.naidoo"

    # rejected again: the next start is round 3; while round 2 is open, a start lands on it
    states[again.id] = replace(second, status="rejected")
    assert current_round(first.draft_id, states.get) == (f"{first.draft_id}-r3", again.id)
    states[again.id] = second
    assert current_round(first.draft_id, states.get) == (again.id, first.draft_id)
