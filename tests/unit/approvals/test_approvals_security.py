"""The issue's security list, end to end at the domain level: each request is refused AND audited
with who, what, when, from where (channel + address) and a fixed reason code."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from pydantic import SecretStr

from pipeline.approvals import slack_verify
from pipeline.approvals.audit import AuditEntry, Origin, refusal_entry
from pipeline.approvals.errors import ApprovalRefused
from pipeline.approvals.state import Actor, Approved, Edited, decide
from pipeline.approvals.tokens import LinkSigner
from tests.unit.approvals.approvals_helpers import NOW, actor, created, policy, users

SIGNING = SecretStr("slack-signing-secret-for-tests-01")
LINKS = LinkSigner(SecretStr("approval-link-secret-for-tests-01"))
WHEN = NOW + timedelta(minutes=4)
WEB = Origin("web", "192.0.2.10")
SLACK = Origin("slack", "203.0.113.9")


def _audit(
    call: Callable[[], object], *, who: str, action: str, draft_id: str, origin: Origin
) -> AuditEntry:
    """Run a request; it must be refused, and the refusal becomes an audit entry."""
    with pytest.raises(ApprovalRefused) as err:
        call()
    return refusal_entry(
        err.value, at=WHEN, actor=who, action=action, draft_id=draft_id, origin=origin
    )


def forged_slack() -> AuditEntry:
    body = b"payload=%7B%22actions%22%3A%5B%7B%22value%22%3A%22approve%22%7D%5D%7D"
    ts = str(int(WHEN.timestamp()))
    forged = slack_verify.sign(SecretStr("an-attackers-guess-000000"), ts, body)
    return _audit(
        lambda: slack_verify.verify(
            SIGNING, body=body, timestamp=ts, signature=forged, now=WHEN.timestamp()
        ),
        who="U0TOCS0003",
        action="approve",
        draft_id="d1",
        origin=SLACK,
    )


def stale_slack() -> AuditEntry:
    body = b"payload=%7B%7D"
    ts = str(int(WHEN.timestamp()) - 301)
    good = slack_verify.sign(SIGNING, ts, body)
    return _audit(
        lambda: slack_verify.verify(
            SIGNING, body=body, timestamp=ts, signature=good, now=WHEN.timestamp()
        ),
        who="U0TOCS0003",
        action="approve",
        draft_id="d1",
        origin=SLACK,
    )


def replayed_link() -> AuditEntry:
    state = created()
    token = LINKS.issue(
        user_id="e.lindqvist", draft_id=state.draft_id, action="approve", now=NOW, ttl_s=1800
    )
    claims = LINKS.verify(token, now=WHEN)
    event = Approved(1, state.text_hash, link=claims)
    state, _ = decide(state, event, actor("e.lindqvist", "web", "192.0.2.10"), policy(), WHEN)
    with pytest.raises(ApprovalRefused) as err:
        decide(state, event, actor("e.lindqvist", "web", "192.0.2.10"), policy(), WHEN)
    return refusal_entry(err.value, at=WHEN, actor="?", action="?", draft_id="?", origin=WEB)


def expired_link() -> AuditEntry:
    token = LINKS.issue(user_id="e.lindqvist", draft_id="d1", action="approve", now=NOW, ttl_s=60)
    return _audit(
        lambda: LINKS.verify(token, now=WHEN),
        who="e.lindqvist",
        action="approve",
        draft_id="d1",
        origin=WEB,
    )


def wrong_role() -> AuditEntry:
    state = created()
    return _audit(
        lambda: decide(
            state,
            Approved(1, state.text_hash),
            actor("h.dubois", "web", "192.0.2.10"),
            policy(),
            WHEN,
        ),
        who="?",
        action="?",
        draft_id="?",
        origin=WEB,
    )


def own_draft() -> AuditEntry:
    both = Actor("e.lindqvist", frozenset({"responder", "approver-exec"}), WEB)
    state = created("scandal", severity="warning")
    state, _ = decide(state, Edited(state.draft.text + " Thank you.", 1), both, policy(), NOW)
    return _audit(
        lambda: decide(state, Approved(2, state.text_hash), both, policy(), WHEN),
        who="?",
        action="?",
        draft_id="?",
        origin=WEB,
    )


def edit_after_approval() -> AuditEntry:
    state = created("scandal", severity="warning")
    state, _ = decide(state, Approved(1, state.text_hash), actor("e.lindqvist"), policy(), NOW)
    return _audit(
        lambda: decide(
            state,
            Edited(state.draft.text + " P.S.", 1),
            actor("c.moreau", "web", "192.0.2.10"),
            policy(),
            WHEN,
        ),
        who="?",
        action="?",
        draft_id="?",
        origin=WEB,
    )


def bad_csrf() -> AuditEntry:
    token = LINKS.csrf_token(session_id="session-of-someone-else", draft_id="d1")
    return _audit(
        lambda: LINKS.check_csrf(token, session_id="my-session", draft_id="d1"),
        who="e.lindqvist",
        action="approve",
        draft_id="d1",
        origin=WEB,
    )


def bad_token() -> AuditEntry:
    return _audit(
        lambda: users().authenticate("not-anyones-token-at-all"),
        who="anonymous",
        action="login",
        draft_id="",
        origin=Origin("api", "198.51.100.7"),
    )


CASES = {
    "forged Slack signature": (forged_slack, "bad_signature", "U0TOCS0003", "slack"),
    "stale Slack timestamp": (stale_slack, "stale_timestamp", "U0TOCS0003", "slack"),
    "replayed single-use link": (replayed_link, "link_replayed", "e.lindqvist", "web"),
    "expired link": (expired_link, "link_expired", "e.lindqvist", "web"),
    "wrong role": (wrong_role, "wrong_role", "h.dubois", "web"),
    "own draft (four eyes)": (own_draft, "own_draft", "e.lindqvist", "web"),
    "edit after approval": (edit_after_approval, "edit_after_approval", "c.moreau", "web"),
    "CSRF token of another session": (bad_csrf, "csrf_mismatch", "e.lindqvist", "web"),
    "unknown API token": (bad_token, "bad_token", "anonymous", "api"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_refused_and_audited(case: str) -> None:
    make, reason, who, channel = CASES[case]
    entry = make()
    assert entry.outcome == "refused"
    assert entry.reason == reason
    assert entry.actor == who
    assert entry.channel == channel and entry.remote_addr
    assert entry.at == WHEN
    assert entry.action and entry.detail
    assert AuditEntry.from_dict(entry.to_dict()) == entry
