"""Web sessions for the approval pages: who is asking, proven by a bearer token or a signed cookie.

A browser signs in once (per-user token in the login form, or a single-use signed link) and then
carries a cookie ``tocsin_session = user.sid.expiry.mac``: HMAC-SHA256 over the first three parts
with a key derived from ``TOCSIN_APPROVAL_LINK_SECRET`` under its own label, so a session cookie
can never pass as a link or CSRF token. The cookie is ``HttpOnly`` (no script reads it),
``SameSite=Strict`` (no other site's form sends it) and ``Secure`` unless the worker is on
loopback HTTP. The session id ``sid`` is random per sign-in and is what CSRF tokens are bound to.

Sessions are stateless on purpose: any replica verifies them without a shared store. The price is
that one cannot be revoked before it expires except by rotating the secret; the lifetime is short
(``SESSION_TTL_S``) for that reason.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from pydantic import SecretStr

from pipeline.approvals.errors import AuthRefused

COOKIE = "tocsin_session"
SESSION_TTL_S = 8 * 3600


def _key(secret: SecretStr) -> bytes:
    return hmac.new(
        secret.get_secret_value().encode("utf-8"), b"tocsin/session/v1", hashlib.sha256
    ).digest()


@dataclass(frozen=True)
class Session:
    """A verified session: the user it belongs to and its random id (CSRF tokens bind to it)."""

    user_id: str
    sid: str
    expires_at: int


def issue(secret: SecretStr, user_id: str, *, now: float, ttl_s: int = SESSION_TTL_S) -> str:
    """A new cookie value for ``user_id`` with a fresh random session id."""
    sid = secrets.token_urlsafe(18)
    body = f"{user_id}.{sid}.{int(now) + ttl_s}"
    mac = hmac.new(_key(secret), body.encode("utf-8"), hashlib.sha256).hexdigest()
    return f"{body}.{mac}"


def verify(secret: SecretStr, value: str | None, *, now: float) -> Session:
    """The session a cookie proves; AuthRefused('no_session' | 'bad_session' | 'session_expired')."""
    if not value:
        raise AuthRefused("no_session", "not signed in")
    parts = value.rsplit(".", 3)  # user ids may contain dots; sid, expiry and mac never do
    if len(parts) != 4:
        raise AuthRefused("bad_session", "the session cookie is malformed")
    user_id, sid, expiry, mac = parts
    body = f"{user_id}.{sid}.{expiry}"
    expected = hmac.new(_key(secret), body.encode("utf-8"), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected.encode("ascii"), mac.encode("utf-8", "replace")):
        raise AuthRefused("bad_session", "the session cookie's signature does not match")
    try:
        expires_at = int(expiry)
    except ValueError:
        raise AuthRefused("bad_session", "the session cookie is malformed") from None
    if now >= expires_at:
        raise AuthRefused("session_expired", "the session has expired; sign in again")
    return Session(user_id, sid, expires_at)


def bearer_session_id(token: str) -> str:
    """A stable session id for an API client authenticating with its bearer token on each call."""
    return "bearer-" + hashlib.sha256(token.encode("utf-8")).hexdigest()[:32]


def cookie_header(value: str, *, secure: bool, max_age: int = SESSION_TTL_S) -> str:
    """The ``Set-Cookie`` value: HttpOnly, SameSite=Strict, for the whole site: the approval
    pages and the console (``/console``) share one sign-in. The API never reads it (bearer only)."""
    attrs = [f"{COOKIE}={value}", "Path=/", f"Max-Age={max_age}", "HttpOnly"]
    attrs.append("SameSite=Strict")
    if secure:
        attrs.append("Secure")
    return "; ".join(attrs)
