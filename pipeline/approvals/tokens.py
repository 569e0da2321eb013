"""Single-use signed approval links and CSRF tokens for the web forms.

A link token is ``base64url(payload) "." base64url(HMAC-SHA256(key, payload))`` where the payload
is compact JSON: user id, draft id, action, expiry (Unix seconds) and a random nonce. Verifying it
(:meth:`LinkSigner.verify`) proves it was issued by us and is not expired; *one use* is enforced
by the approval state, which records each spent nonce per draft (``state.decide`` refuses a
replayed nonce), because only the state sees every use, on every replica, across restarts.

CSRF tokens are ``HMAC(key, session id | draft id)``: a form is accepted only from the session
and for the draft it was rendered for. Link and CSRF keys are derived from the one settings secret
with distinct labels, so a CSRF token can never pass as a link signature or the reverse.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from pydantic import SecretStr

from pipeline.approvals.errors import CsrfRefused, LinkRefused

LINK_ACTIONS = ("view", "approve", "reject", "request_changes")


def _derive(secret: SecretStr, label: str) -> bytes:
    return hmac.new(secret.get_secret_value().encode("utf-8"), label.encode(), "sha256").digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class LinkClaims:
    """What a verified link says: who may do what on which draft, until when, and its nonce."""

    user_id: str
    draft_id: str
    action: str
    expires_at: int
    nonce: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LinkClaims:
        return cls(
            str(data["user_id"]),
            str(data["draft_id"]),
            str(data["action"]),
            int(data["expires_at"]),
            str(data["nonce"]),
        )


class LinkSigner:
    """Issues and verifies single-use links; ``secret`` is TOCSIN_APPROVAL_LINK_SECRET."""

    def __init__(self, secret: SecretStr) -> None:
        self._link_key = _derive(secret, "tocsin/approval-link/v1")
        self._csrf_key = _derive(secret, "tocsin/csrf/v1")

    def __repr__(self) -> str:
        return "LinkSigner(<secret>)"

    # -- links ---------------------------------------------------------------------------------
    def issue(self, *, user_id: str, draft_id: str, action: str, now: datetime, ttl_s: int) -> str:
        """A token for ``user_id`` to do ``action`` on ``draft_id`` until ``now + ttl_s``."""
        if action not in LINK_ACTIONS:
            raise ValueError(f"action {action!r} is not one of {LINK_ACTIONS}")
        if ttl_s <= 0:
            raise ValueError("ttl_s must be positive")
        payload = {
            "u": user_id,
            "d": draft_id,
            "a": action,
            "e": int(now.timestamp()) + ttl_s,
            "n": secrets.token_urlsafe(16),
        }
        body = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode("utf-8")
        sig = hmac.new(self._link_key, body, hashlib.sha256).digest()
        return f"{_b64(body)}.{_b64(sig)}"

    def verify(self, token: str, *, now: datetime) -> LinkClaims:
        """The claims of an authentic, unexpired token; LinkRefused otherwise.

        Reasons: ``link_malformed``, ``link_forged`` (signature does not match), ``link_expired``.
        The signature is checked before the payload is even parsed.
        """
        try:
            body_part, sig_part = token.split(".")
            body, sig = _unb64(body_part), _unb64(sig_part)
        except (ValueError, binascii.Error):
            raise LinkRefused("link_malformed", "not a Tocsin approval link") from None
        if _b64(body) != body_part or _b64(sig) != sig_part:
            # base64 leaves spare bits in the last character; only our own spelling is valid,
            # so one link has exactly one string form.
            raise LinkRefused("link_malformed", "not a Tocsin approval link")
        expected = hmac.new(self._link_key, body, hashlib.sha256).digest()
        if not hmac.compare_digest(expected, sig):
            raise LinkRefused("link_forged", "the link's signature does not match")
        try:
            data = json.loads(body)
            claims = LinkClaims(
                str(data["u"]), str(data["d"]), str(data["a"]), int(data["e"]), str(data["n"])
            )
        except (ValueError, KeyError, TypeError):
            raise LinkRefused("link_malformed", "the link's payload is unreadable") from None
        if now.timestamp() >= claims.expires_at:
            raise LinkRefused("link_expired", "the link has expired; ask for a new one")
        return claims

    # -- CSRF ----------------------------------------------------------------------------------
    def csrf_token(self, *, session_id: str, draft_id: str) -> str:
        """The form token for ``draft_id`` rendered in ``session_id`` (stable per pair)."""
        msg = json.dumps([session_id, draft_id]).encode("utf-8")
        return _b64(hmac.new(self._csrf_key, msg, hashlib.sha256).digest())

    def check_csrf(self, token: str | None, *, session_id: str, draft_id: str) -> None:
        """CsrfRefused('csrf_missing' | 'csrf_mismatch') unless ``token`` fits session + draft."""
        if not token or not session_id:
            raise CsrfRefused("csrf_missing", "the form has no CSRF token or there is no session")
        expected = self.csrf_token(session_id=session_id, draft_id=draft_id)
        if not hmac.compare_digest(expected.encode("ascii"), token.encode("utf-8", "replace")):
            raise CsrfRefused("csrf_mismatch", "the form's CSRF token is not for this session")
