"""Properties of the signed tokens: no tampered link or Slack body passes verification."""

from __future__ import annotations

import base64

from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import SecretStr

from pipeline.approvals import slack_verify
from pipeline.approvals.errors import LinkRefused, SignatureRefused
from pipeline.approvals.tokens import LinkSigner
from tests.unit.approvals.approvals_helpers import NOW

SIGNER = LinkSigner(SecretStr("property-link-secret-0123456789"))
SLACK = SecretStr("property-slack-secret-0123456789")
ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_."


@settings(max_examples=300, deadline=None)
@given(
    user=st.text(min_size=1, max_size=20),
    draft=st.text(min_size=1, max_size=20),
    position=st.integers(min_value=0),
    replacement=st.sampled_from(ALPHABET),
)
def test_any_tampered_link_is_refused(
    user: str, draft: str, position: int, replacement: str
) -> None:
    token = SIGNER.issue(user_id=user, draft_id=draft, action="approve", now=NOW, ttl_s=600)
    original = SIGNER.verify(token, now=NOW)
    assert (original.user_id, original.draft_id) == (user, draft)
    i = position % len(token)
    if token[i] == replacement:
        return
    tampered = token[:i] + replacement + token[i + 1 :]
    try:
        SIGNER.verify(tampered, now=NOW)
    except LinkRefused as err:
        assert err.reason in ("link_malformed", "link_forged")
    else:
        raise AssertionError(f"tampered link accepted: {tampered!r}")


@settings(max_examples=200, deadline=None)
@given(body=st.binary(max_size=200), flip=st.integers(min_value=0), bit=st.integers(0, 7))
def test_any_changed_byte_of_a_slack_body_fails_the_signature(
    body: bytes, flip: int, bit: int
) -> None:
    ts = str(int(NOW.timestamp()))
    signature = slack_verify.sign(SLACK, ts, body)
    slack_verify.verify(SLACK, body=body, timestamp=ts, signature=signature, now=NOW.timestamp())
    if not body:
        return
    i = flip % len(body)
    changed = body[:i] + bytes([body[i] ^ (1 << bit)]) + body[i + 1 :]
    try:
        slack_verify.verify(
            SLACK, body=changed, timestamp=ts, signature=signature, now=NOW.timestamp()
        )
    except SignatureRefused as err:
        assert err.reason == "bad_signature"
    else:
        raise AssertionError("a changed body passed the signature check")


def test_a_second_base64_spelling_of_the_same_link_is_refused() -> None:
    token = SIGNER.issue(user_id="u", draft_id="d", action="approve", now=NOW, ttl_s=600)
    # 32 signature bytes = 43 base64 characters; the last one carries 2 spare bits.
    last = ALPHABET.index(token[-1])
    twin = token[:-1] + ALPHABET[last ^ 1]

    def raw(t: str) -> bytes:
        part = t.split(".")[1]
        return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))

    assert raw(twin) == raw(token)  # the same bytes...
    try:
        SIGNER.verify(twin, now=NOW)
    except LinkRefused as err:
        assert err.reason == "link_malformed"  # ...but not our spelling
    else:
        raise AssertionError("a second spelling of a link was accepted")
