"""Verify that an HTTP request really comes from Slack, per Slack's signing-secret scheme.

Slack sends ``X-Slack-Request-Timestamp`` and ``X-Slack-Signature: v0=<hex>`` where the hex is
HMAC-SHA256 of ``"v0:{timestamp}:{raw body}"`` keyed with the app's signing secret
(https://api.slack.com/authentication/verifying-requests-from-slack). We refuse a timestamp more
than five minutes from our clock either way (a captured request cannot be replayed later) and
compare signatures in constant time. The raw body must be the bytes received, before any form
decoding: re-encoding would change them. The clock is passed in, so tests need no sleeping.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

from pydantic import SecretStr

from pipeline.approvals.errors import SignatureRefused

MAX_SKEW_S = 300
VERSION = "v0"


def sign(secret: SecretStr, timestamp: str, body: bytes) -> str:
    """The ``X-Slack-Signature`` value Slack would send for this timestamp and body."""
    base = f"{VERSION}:{timestamp}:".encode() + body
    digest = hmac.new(secret.get_secret_value().encode("utf-8"), base, hashlib.sha256)
    return f"{VERSION}={digest.hexdigest()}"


def verify(
    secret: SecretStr,
    *,
    body: bytes,
    timestamp: str | None,
    signature: str | None,
    now: float,
) -> None:
    """Return quietly for an authentic request; SignatureRefused otherwise.

    Reasons: ``signature_missing``, ``stale_timestamp`` (unparsable or more than 5 minutes from
    ``now``), ``bad_signature``.
    """
    if not timestamp or not signature:
        raise SignatureRefused("signature_missing", "no Slack signature or timestamp header")
    # Seconds since 1970 in ASCII digits, at most 12 of them: a longer number is not a time, and
    # turning one of hundreds of digits into a float would overflow (a 500, not a refusal).
    if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12):
        raise SignatureRefused("stale_timestamp", "the Slack timestamp is not a number")
    sent = int(timestamp)
    if abs(now - sent) > MAX_SKEW_S:
        raise SignatureRefused(
            "stale_timestamp", f"the Slack timestamp is {int(now - sent)} s from our clock"
        )
    expected = sign(secret, timestamp, body)
    if not hmac.compare_digest(expected.encode("ascii"), signature.encode("utf-8", "replace")):
        raise SignatureRefused("bad_signature", "the Slack signature does not match")


def verify_headers(
    secret: SecretStr, *, body: bytes, headers: Mapping[str, str], now: float
) -> None:
    """:func:`verify` reading the two headers case-insensitively from ``headers``."""
    lower = {k.lower(): v for k, v in headers.items()}
    verify(
        secret,
        body=body,
        timestamp=lower.get("x-slack-request-timestamp"),
        signature=lower.get("x-slack-signature"),
        now=now,
    )
