"""The approval state machine: flows, every refusal (audited), and exact serialisation."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.approvals.audit import Origin, text_hash
from pipeline.approvals.errors import DecisionRefused
from pipeline.approvals.state import (
    Actor,
    Approved,
    ChangesRequested,
    DraftCreated,
    DraftState,
    Edited,
    Escalated,
    Event,
    Published,
    Rejected,
    decide,
    event_from_dict,
    event_to_dict,
    fillable_roles,
    is_satisfied,
)
from pipeline.approvals.tokens import LinkClaims
from tests.unit.approvals.approvals_helpers import NOW, actor, created, first_draft, policy

LATER = NOW + timedelta(minutes=3)


def approve(
    state: DraftState,
    who: Actor | str,
    *,
    role: str | None = None,
    link: LinkClaims | None = None,
    version: int | None = None,
    text: str | None = None,
) -> tuple[DraftState, list]:  # type: ignore[type-arg]
    who = actor(who) if isinstance(who, str) else who
    event = Approved(
        state.version if version is None else version,
        state.text_hash if text is None else text_hash(text),
        role,
        link,
    )
    return decide(state, event, who, policy(), LATER)


def refused(state: DraftState | None, event: Event, who: Actor | str) -> DecisionRefused:
    who = actor(who) if isinstance(who, str) else who
    with pytest.raises(DecisionRefused) as err:
        decide(state, event, who, policy(), LATER)
    entry = err.value.entry
    # Every refusal is an audit entry: who, what, when, from where, why.
    assert entry.outcome == "refused" and entry.reason == err.value.reason
    assert entry.actor == who.user_id and entry.at == LATER
    assert entry.channel == who.origin.channel
    assert entry.remote_addr == (who.origin.remote_addr or "")
    assert entry.action == event.type
    if state is not None:
        assert entry.draft_id == state.draft_id
    return err.value


def link(
    user: str, state: DraftState, action: str = "approve", *, ttl: int = 600, nonce: str = "n-1"
) -> LinkClaims:
    return LinkClaims(user, state.draft_id, action, int(NOW.timestamp()) + ttl, nonce)


# -- flows ---------------------------------------------------------------------------------------
def test_adverse_event_needs_three_distinct_people_then_publishes_the_exact_text() -> None:
    draft = first_draft("adverse_event")
    state, (entry,) = decide(None, DraftCreated(draft), Actor.system(), policy(), NOW)
    assert entry.detail.startswith(
        "template adverse_event.report.en (pre-approved: MLR-2026-0412); topic adverse_event"
    )
    assert entry.text == draft.text
    assert state.status == "pending" and state.version == 1
    assert state.requirement.roles == ("approver-exec", "reviewer-medical", "reviewer-legal")
    state, entries = approve(state, "e.lindqvist")
    assert state.status == "pending" and entries[0].text == state.draft.text
    assert entries[0].detail == "as approver-exec"
    state, _ = approve(state, actor("s.naidoo", "slack", "203.0.113.7"))
    assert state.status == "pending" and state.missing_roles() == ("reviewer-legal",)
    state, entries = approve(state, "a.fontaine")
    assert state.status == "approved" and is_satisfied(state)
    assert state.approved_hash == text_hash(state.draft.text)
    assert [e.action for e in entries] == ["approved", "fully_approved"]
    assert {a.channel for a in state.approvals} == {"web", "slack"}

    state, entries = decide(
        state, Published(state.approved_hash or ""), Actor.system(), policy(), LATER
    )
    assert state.status == "published" and state.published_hash == state.approved_hash
    assert entries[0].text == state.draft.text and entries[0].text_hash == state.approved_hash


def test_scandal_needs_one_exec() -> None:
    state = created("scandal", severity="warning")
    state, entries = approve(state, "r.mercier")
    assert state.status == "approved" and len(entries) == 2


def test_created_is_idempotent_and_audited_once() -> None:
    state = created()
    again, entries = decide(state, DraftCreated(state.draft), Actor.system(), policy(), LATER)
    assert again == state and entries == []


# -- refusals ------------------------------------------------------------------------------------
def test_wrong_role_is_refused() -> None:
    state = created()
    for who in ("h.dubois", "c.moreau", "p.achebe"):
        assert refused(state, Approved(1, state.text_hash), who).reason == "wrong_role"
    err = refused(state, Approved(1, state.text_hash, role="reviewer-legal"), "s.naidoo")
    assert err.reason == "wrong_role"
    assert refused(state, Rejected(1, "no"), "h.dubois").reason == "wrong_role"
    assert refused(state, Edited("new text here", 1), "e.lindqvist").reason == "wrong_role"
    assert refused(state, Escalated("approver-exec", ("p.achebe",)), "c.moreau").reason == (
        "wrong_role"
    )


def test_approving_ones_own_draft_is_refused_where_two_people_are_required() -> None:
    # A small team: the head of comms writes statements and also holds the exec sign-off.
    both = Actor(
        "e.lindqvist", frozenset({"responder", "approver-exec"}), Origin("web", "192.0.2.20")
    )
    draft = first_draft("scandal", severity="warning")
    state, _ = decide(None, DraftCreated(draft), both, policy(), NOW)
    assert state.authors == ("e.lindqvist",)
    assert fillable_roles(state, both) == ()
    assert refused(state, Approved(1, state.text_hash), both).reason == "own_draft"
    # An edit makes the editor an author too.
    state = created("scandal", severity="warning")
    state, _ = decide(state, Edited(state.draft.text + " Thank you.", 1), both, policy(), NOW)
    assert refused(state, Approved(2, state.text_hash), both).reason == "own_draft"
    state, _ = approve(state, "r.mercier")
    assert state.missing_roles() == ("reviewer-medical", "reviewer-legal")  # edited: re-review


def test_the_same_person_cannot_fill_two_roles() -> None:
    double = Actor(
        "s.naidoo", frozenset({"reviewer-medical", "reviewer-legal"}), Origin("api", "198.51.100.4")
    )
    state = created()
    state, _ = approve(state, double)
    assert state.current_approvals()[0].role == "reviewer-medical"
    err = refused(state, Approved(1, state.text_hash, role="reviewer-legal"), double)
    assert err.reason == "same_person_twice"
    assert refused(state, Approved(1, state.text_hash), "t.kowalski").reason == (
        "role_already_approved"
    )


def test_editing_after_approval_is_refused() -> None:
    state = created()
    state, _ = approve(state, "e.lindqvist")
    err = refused(state, Edited(state.draft.text + " More.", 1), "c.moreau")
    assert err.reason == "edit_after_approval" and "e.lindqvist" in err.detail
    full = created("scandal", severity="warning")
    full, _ = approve(full, "e.lindqvist")
    assert full.status == "approved"
    assert refused(full, Edited(full.draft.text + " More.", 1), "c.moreau").reason == (
        "edit_after_approval"
    )


def test_stale_versions_and_texts_are_refused() -> None:
    state = created("scandal", severity="warning")
    state, _ = decide(
        state, Edited(state.draft.text + " Update to follow.", 1), actor("c.moreau"), policy(), NOW
    )
    old_text = first_draft("scandal", severity="warning").text
    assert refused(state, Approved(1, text_hash(old_text)), "e.lindqvist").reason == (
        "stale_version"
    )
    assert refused(state, Approved(2, text_hash(old_text)), "e.lindqvist").reason == (
        "stale_version"
    )
    assert refused(state, Edited("Another text entirely.", 1), "c.moreau").reason == (
        "stale_version"
    )


def test_replayed_single_use_link_is_refused() -> None:
    state = created()
    claims = link("e.lindqvist", state)
    state, _ = approve(state, "e.lindqvist", link=claims)
    assert claims.nonce in state.used_nonces
    err = refused(state, Approved(1, state.text_hash, link=claims), "e.lindqvist")
    assert err.reason == "link_replayed"


def test_expired_or_misbound_link_is_refused_and_a_refusal_does_not_spend_it() -> None:
    state = created()
    stale = LinkClaims("e.lindqvist", state.draft_id, "approve", int(LATER.timestamp()), "n-x")
    assert refused(state, Approved(1, state.text_hash, link=stale), "e.lindqvist").reason == (
        "link_expired"
    )
    for claims in (
        link("r.mercier", state),
        link("e.lindqvist", state, "reject"),
        LinkClaims("e.lindqvist", "d-other", "approve", int(NOW.timestamp()) + 600, "n-2"),
    ):
        err = refused(state, Approved(1, state.text_hash, link=claims), "e.lindqvist")
        assert err.reason == "link_mismatch"
    good = link("e.lindqvist", state)
    assert refused(state, Approved(7, state.text_hash, link=good), "e.lindqvist").reason == (
        "stale_version"
    )
    state, _ = approve(state, "e.lindqvist", link=good)  # the refused attempt did not spend it
    assert state.approvals


def test_changes_requested_voids_the_round_and_an_edit_restarts_review() -> None:
    state = created("scandal", severity="critical")  # exec + legal
    state, _ = approve(state, "e.lindqvist")
    assert refused(state, ChangesRequested(1, "  "), "a.fontaine").reason == "comment_required"
    state, entries = decide(
        state, ChangesRequested(1, "Drop the date."), actor("a.fontaine"), policy(), LATER
    )
    assert state.status == "changes_requested" and entries[0].comment == "Drop the date."
    assert refused(state, Approved(1, state.text_hash), "a.fontaine").reason == "not_pending"
    new_text = state.draft.text.replace(" circulating since 22 November 2026", "")
    state, entries = decide(state, Edited(new_text, 1), actor("c.moreau"), policy(), LATER)
    assert state.status == "pending" and state.version == 2
    assert state.draft.needs_review and "needs review again" in entries[0].detail
    assert state.current_approvals() == ()
    assert state.requirement.roles == ("approver-exec", "reviewer-medical", "reviewer-legal")
    assert state.round_started_at == LATER


def test_an_edit_adding_a_medical_claim_requires_medical_and_legal() -> None:
    state = created(
        "pricing",
        brand="brenmoor",
        severity="warning",
        texts=("Glytera went from $310 to $489 a month",),
    )
    assert state.requirement.roles == ("approver-exec",)
    state, _ = decide(
        state, Edited(state.draft.text + " Glytera is safe.", 1), actor("c.moreau"), policy(), LATER
    )
    assert state.requirement.roles == ("approver-exec", "reviewer-medical", "reviewer-legal")
    assert state.requirement.claims == ("safe",)


def test_rejection_is_final() -> None:
    state = created()
    state, _ = decide(state, Rejected(1, "Wrong product."), actor("s.naidoo"), policy(), LATER)
    assert state.status == "rejected"
    assert refused(state, Edited("Another try at it.", 1), "c.moreau").reason == "not_pending"
    assert refused(state, Approved(1, state.text_hash), "e.lindqvist").reason == "not_pending"


def test_only_the_exact_approved_text_is_published() -> None:
    state = created("scandal", severity="warning")
    assert refused(state, Published(state.text_hash), Actor.system()).reason == "not_pending"
    state, _ = approve(state, "e.lindqvist")
    forged = Published(text_hash(state.draft.text + " P.S."))
    assert refused(state, forged, Actor.system()).reason == "publish_mismatch"
    assert refused(state, Published(state.text_hash), "h.dubois").reason == "wrong_role"
    state, _ = decide(state, Published(state.text_hash), actor("c.moreau"), policy(), LATER)
    assert state.status == "published"


def test_escalation_lets_a_deputy_act_for_the_role() -> None:
    state = created("scandal", severity="warning")
    assert refused(state, Approved(1, state.text_hash), "p.achebe").reason == "wrong_role"
    state, entries = decide(
        state, Escalated("approver-exec", ("p.achebe",)), Actor.system(), policy(), LATER
    )
    assert entries[0].reason == "sla_breached" and "p.achebe" in entries[0].detail
    assert fillable_roles(state, actor("p.achebe")) == ("approver-exec",)
    state, entries = approve(state, "p.achebe")
    assert state.status == "approved" and state.approvals[0].acting
    assert "acting deputy" in entries[0].detail


def test_unknown_draft_is_refused() -> None:
    err = refused(None, Approved(1, "x"), "e.lindqvist")
    assert err.reason == "unknown_draft"


# -- serialisation -------------------------------------------------------------------------------
USERS = ("c.moreau", "e.lindqvist", "r.mercier", "s.naidoo", "a.fontaine", "p.achebe", "h.dubois")
steps = st.lists(
    st.tuples(
        st.sampled_from(
            [
                "approve",
                "edit",
                "changes",
                "reject",
                "escalate",
                "publish",
                "stale",
                "link",
                "replay",
            ]
        ),
        st.sampled_from(USERS),
        st.integers(min_value=0, max_value=3600),
        st.text(min_size=0, max_size=30),
    ),
    max_size=12,
)


def _event(kind: str, state: DraftState, text: str, nonce: int) -> Event:
    if kind == "approve":
        return Approved(state.version, state.text_hash)
    if kind == "edit":
        return Edited(state.draft.text + " " + text, state.version)
    if kind == "changes":
        return ChangesRequested(state.version, text)
    if kind == "reject":
        return Rejected(state.version, text)
    if kind == "escalate":
        return Escalated("approver-exec", ("p.achebe", "r.mercier"))
    if kind == "publish":
        return Published(state.text_hash, "webhook")
    if kind == "stale":
        return Approved(state.version - 1, state.text_hash)
    claims = LinkClaims(
        "e.lindqvist",
        state.draft_id,
        "approve",
        int(NOW.timestamp()) + 1800,
        "fixed" if kind == "replay" else str(nonce),
    )
    return Approved(state.version, state.text_hash, link=claims)


@settings(max_examples=60, deadline=None)
@given(topic=st.sampled_from(["adverse_event", "scandal", "pricing"]), plan=steps)
def test_state_serialises_and_restores_exactly_at_every_step(
    topic: str, plan: list[tuple[str, str, int, str]]
) -> None:
    state = created(topic, brand="brenmoor", texts=("Glytera made me dizzy",))
    for i, (kind, user, dt, text) in enumerate(plan):
        who = Actor.system() if kind in ("escalate", "publish") else actor(user)
        event = _event(kind, state, text, i)
        assert event_from_dict(json.loads(json.dumps(event_to_dict(event)))) == event
        try:
            state, entries = decide(state, event, who, policy(), NOW + timedelta(seconds=dt))
        except DecisionRefused as err:
            entries = [err.entry]
        wire = json.loads(json.dumps(state.to_dict()))
        assert DraftState.from_dict(wire) == state
        assert DraftState.from_dict(wire).to_dict() == state.to_dict()
        assert all(e.outcome in ("ok", "refused") for e in entries)
        # Invariants: approved/published only for the exact text the policy was satisfied for.
        if state.status in ("approved", "published"):
            assert is_satisfied(state) and state.approved_hash == state.text_hash
        if state.status == "published":
            assert state.published_hash == state.approved_hash
        assert len(set(state.used_nonces)) == len(state.used_nonces)
