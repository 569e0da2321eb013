"""Single-use signed links and CSRF tokens: forged, expired, malformed and mis-bound are refused."""

from __future__ import annotations

import base64
import json
from datetime import timedelta

import pytest
from pydantic import SecretStr

from pipeline.approvals.errors import CsrfRefused, LinkRefused
from pipeline.approvals.tokens import LinkSigner
from tests.unit.approvals.approvals_helpers import NOW

SECRET = SecretStr("link-secret-for-tests-0123456789")


def signer() -> LinkSigner:
    return LinkSigner(SECRET)


def test_issue_and_verify_carry_user_draft_action_expiry_and_nonce() -> None:
    token = signer().issue(
        user_id="e.lindqvist", draft_id="d1", action="approve", now=NOW, ttl_s=600
    )
    claims = signer().verify(token, now=NOW + timedelta(seconds=599))
    assert (claims.user_id, claims.draft_id, claims.action) == ("e.lindqvist", "d1", "approve")
    assert claims.expires_at == int(NOW.timestamp()) + 600
    other = signer().issue(
        user_id="e.lindqvist", draft_id="d1", action="approve", now=NOW, ttl_s=600
    )
    assert signer().verify(other, now=NOW).nonce != claims.nonce


def test_expired_link_is_refused() -> None:
    token = signer().issue(user_id="u", draft_id="d", action="approve", now=NOW, ttl_s=60)
    with pytest.raises(LinkRefused) as err:
        signer().verify(token, now=NOW + timedelta(seconds=60))
    assert err.value.reason == "link_expired"


def test_forged_links_are_refused() -> None:
    token = signer().issue(user_id="c.moreau", draft_id="d", action="approve", now=NOW, ttl_s=600)
    body, sig = token.split(".")
    payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    payload["u"] = "e.lindqvist"  # claim to be the exec
    forged_body = (
        base64.urlsafe_b64encode(
            json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
        )
        .rstrip(b"=")
        .decode()
    )
    for forged in (
        f"{forged_body}.{sig}",
        LinkSigner(SecretStr("another-secret-0123456789abcd")).issue(
            user_id="e.lindqvist", draft_id="d", action="approve", now=NOW, ttl_s=600
        ),
    ):
        with pytest.raises(LinkRefused) as err:
            signer().verify(forged, now=NOW)
        assert err.value.reason == "link_forged"


@pytest.mark.parametrize("token", ["", "abc", "a.b.c", "!!!.???", "e30.e30"])
def test_malformed_links_are_refused(token: str) -> None:
    with pytest.raises(LinkRefused) as err:
        signer().verify(token, now=NOW)
    assert err.value.reason in ("link_malformed", "link_forged")


def test_issue_refuses_unknown_actions_and_bad_ttl() -> None:
    with pytest.raises(ValueError):
        signer().issue(user_id="u", draft_id="d", action="publish", now=NOW, ttl_s=60)
    with pytest.raises(ValueError):
        signer().issue(user_id="u", draft_id="d", action="approve", now=NOW, ttl_s=0)


def test_csrf_token_is_bound_to_session_and_draft() -> None:
    s = signer()
    token = s.csrf_token(session_id="sess-1", draft_id="d1")
    s.check_csrf(token, session_id="sess-1", draft_id="d1")
    cases = [
        (token, "sess-2", "d1", "csrf_mismatch"),
        (token, "sess-1", "d2", "csrf_mismatch"),
        (None, "sess-1", "d1", "csrf_missing"),
        ("", "sess-1", "d1", "csrf_missing"),
        (token, "", "d1", "csrf_missing"),
        ("é" + token, "sess-1", "d1", "csrf_mismatch"),
    ]
    for candidate, session, draft, reason in cases:
        with pytest.raises(CsrfRefused) as err:
            s.check_csrf(candidate, session_id=session, draft_id=draft)
        assert err.value.reason == reason


def test_csrf_and_link_keys_differ_and_secret_is_not_shown() -> None:
    s = signer()
    assert "link-secret" not in repr(s)
    assert s._csrf_key != s._link_key
