"""Slack request signatures: valid ones pass (checked against slack_sdk), forged/stale are refused
and audited."""

from __future__ import annotations

import pytest
from pydantic import SecretStr
from slack_sdk.signature import Clock, SignatureVerifier

from pipeline.approvals import slack_verify
from pipeline.approvals.audit import Origin, refusal_entry
from pipeline.approvals.errors import SignatureRefused
from tests.unit.approvals.approvals_helpers import NOW

SECRET = SecretStr("8f742231b10e8888abcd99yyyzzz85a5")
BODY = b"payload=%7B%22type%22%3A%22block_actions%22%2C%22user%22%3A%7B%22id%22%3A%22U0TOCS0003%22%7D%7D"
TS = str(int(NOW.timestamp()))


class _Clock(Clock):
    def now(self) -> float:
        return NOW.timestamp()


def test_our_signature_is_the_one_slack_sdk_accepts() -> None:
    signature = slack_verify.sign(SECRET, TS, BODY)
    oracle = SignatureVerifier(SECRET.get_secret_value(), clock=_Clock())
    assert oracle.is_valid(body=BODY, timestamp=TS, signature=signature)
    assert signature == oracle.generate_signature(timestamp=TS, body=BODY)
    slack_verify.verify(
        SECRET, body=BODY, timestamp=TS, signature=signature, now=NOW.timestamp() + 299
    )
    slack_verify.verify_headers(
        SECRET,
        body=BODY,
        headers={"X-Slack-Request-Timestamp": TS, "X-Slack-Signature": signature},
        now=NOW.timestamp(),
    )


def _refused(**kw: object) -> SignatureRefused:
    args: dict[str, object] = {
        "body": BODY,
        "timestamp": TS,
        "signature": slack_verify.sign(SECRET, TS, BODY),
        "now": NOW.timestamp(),
    }
    args.update(kw)
    with pytest.raises(SignatureRefused) as err:
        slack_verify.verify(SECRET, **args)  # type: ignore[arg-type]
    return err.value


def test_forged_signature_is_refused_and_audited() -> None:
    forged = slack_verify.sign(SecretStr("not-the-signing-secret-000"), TS, BODY)
    error = _refused(signature=forged)
    assert error.reason == "bad_signature"
    entry = refusal_entry(
        error,
        at=NOW,
        actor="U0TOCS0003",
        action="approve",
        draft_id="d1",
        origin=Origin("slack", "203.0.113.9"),
    )
    assert (entry.outcome, entry.reason, entry.channel, entry.remote_addr) == (
        "refused",
        "bad_signature",
        "slack",
        "203.0.113.9",
    )
    assert entry.actor == "U0TOCS0003" and entry.draft_id == "d1"


def test_tampered_body_is_refused() -> None:
    assert _refused(body=BODY.replace(b"U0TOCS0003", b"U0TOCS0005")).reason == "bad_signature"


@pytest.mark.parametrize("skew", [301, -301, 3600])
def test_timestamps_more_than_five_minutes_away_are_refused(skew: int) -> None:
    ts = str(int(NOW.timestamp()) - skew)
    error = _refused(timestamp=ts, signature=slack_verify.sign(SECRET, ts, BODY))
    assert error.reason == "stale_timestamp"
    entry = refusal_entry(
        error, at=NOW, actor="", action="approve", draft_id="", origin=Origin("slack", None)
    )
    assert entry.reason == "stale_timestamp" and entry.actor == "anonymous"


def test_missing_headers_and_garbage_timestamps_are_refused() -> None:
    assert _refused(signature=None).reason == "signature_missing"
    assert _refused(timestamp="").reason == "signature_missing"
    assert _refused(timestamp="yesterday").reason == "stale_timestamp"
    assert _refused(signature="v0=zz").reason == "bad_signature"
    assert _refused(signature="v0=é").reason == "bad_signature"
