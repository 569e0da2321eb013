"""The values inside Tocsin's settings, parsed and checked: rate limits, token lists, secrets, addresses.

Kept apart from :mod:`pipeline.settings` (which re-exports them) so that modules the settings
validation needs, and modules that need these types without the whole settings class
(``pipeline/delivery/ratelimit.py``, ``pipeline/token_bucket.py``), import a small module.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from email.utils import parseaddr

from pydantic import SecretStr

_PLACEHOLDERS = frozenset({"changeme", "change-me", "secret", "password", "xxx", "todo", "test"})
_CLIENT_NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")


# Client-side rate limits per receiver (the token buckets are in pipeline/delivery/ratelimit.py).
@dataclass(frozen=True)
class RateLimit:
    """``per_min`` requests per minute on average, ``burst`` of them at once (0 per min: no limit)."""

    per_min: float
    burst: int = 1


DEFAULT_LIMITS: Mapping[str, RateLimit] = {
    "pagerduty": RateLimit(110, 10),
    "slack": RateLimit(60, 1),
    "slack_api": RateLimit(60, 1),
    "opsgenie": RateLimit(50, 10),
    "teams": RateLimit(60, 4),
    "email": RateLimit(30, 5),
    "alertmanager": RateLimit(600, 50),
    "webhook": RateLimit(600, 50),
}
#: Receivers that may be named in ``TOCSIN_DELIVERY_RATE_LIMITS``.
KNOWN_RECEIVERS = (*DEFAULT_LIMITS, "console")


def parse_rate_limits(raw: str) -> dict[str, RateLimit]:
    """``"pagerduty=60,slack=30/2"`` -> limits; a missing burst keeps the receiver's default."""
    out: dict[str, RateLimit] = {}
    for part in (p.strip() for p in raw.split(",")):
        if not part:
            continue
        name, sep, value = (s.strip() for s in part.partition("="))
        if not sep or name not in KNOWN_RECEIVERS:
            raise ValueError(
                f"{part!r}: expected receiver=per_min[/burst] with a receiver among "
                f"{', '.join(KNOWN_RECEIVERS)}"
            )
        if name in out:
            raise ValueError(f"receiver {name!r} is listed twice")
        rate, _, burst = value.partition("/")
        try:
            per_min = float(rate)
            default = DEFAULT_LIMITS.get(name, RateLimit(0, 1)).burst
            size = int(burst) if burst else default
        except ValueError:
            raise ValueError(f"{part!r}: per_min must be a number and burst an integer") from None
        if per_min < 0 or size < 1:
            raise ValueError(f"{part!r}: per_min must be >= 0 and burst >= 1")
        out[name] = RateLimit(per_min, size)
    return out


def parse_token_list(raw: str) -> list[tuple[int, str, str]]:
    """``"name:token, name:token"`` (commas or new lines) -> [(item number, name, token)].

    The one parser of Tocsin's token lists (``TOCSIN_INGEST_TOKENS``, ``TOCSIN_USER_TOKENS``);
    callers add their own rules. A ValueError names the item by number, never its token.
    """
    out: list[tuple[int, str, str]] = []
    items = (p.strip() for p in raw.replace("\n", ",").split(","))
    for n, item in enumerate(filter(None, items), start=1):
        name, sep, token = item.partition(":")
        if not sep or not name.strip() or not token.strip():
            raise ValueError(f"item {n} is not name:token")
        out.append((n, name.strip(), token.strip()))
    return out


def parse_client_tokens(raw: str) -> dict[str, SecretStr]:
    """``"client:token,client:token"`` -> {client: token}; errors name the client, never a token.

    Client names become log fields and rate-limit keys, so they are short and plain; tokens are
    long (16+ characters), not placeholders, and unique, since a token shared by two clients would
    make the rate limit and the audit trail ambiguous.
    """
    out: dict[str, SecretStr] = {}
    seen: set[str] = set()
    for n, client, token in parse_token_list(raw):
        if not _CLIENT_NAME.fullmatch(client):
            raise ValueError(
                f"entry {n}: expected client:token with a client name of [A-Za-z0-9_.-]"
            )
        if len(token) < 16 or token.lower() in _PLACEHOLDERS:
            raise ValueError(f"client {client}: token too short or a placeholder (16+ characters)")
        if client in out or token in seen:
            raise ValueError(f"client {client}: client name or token repeated")
        out[client] = SecretStr(token)
        seen.add(token)
    if not out:
        raise ValueError("no client:token entries")
    return out


def check_secret(raw: str) -> None:
    """Refuse an empty, short (under 8 characters) or placeholder secret; never echoes it."""
    raw = raw.strip()
    if not raw or raw.lower() in _PLACEHOLDERS or len(raw) < 8:
        raise ValueError("looks like a placeholder; set a real secret or leave it unset")


def check_dsn(raw: str) -> None:
    """Refuse a PostgreSQL DSN that is not one, or whose password is a placeholder; the error
    never echoes it. A DSN without a password is fine (``PGPASSFILE``, certificates, trust)."""
    from psycopg import ProgrammingError
    from psycopg.conninfo import conninfo_to_dict

    raw = raw.strip()
    if not raw.startswith(("postgresql://", "postgres://")) and "=" not in raw:
        raise ValueError("not a PostgreSQL connection string (postgresql://... or key=value)")
    try:
        parts = conninfo_to_dict(raw)
    except ProgrammingError:
        raise ValueError("not a valid PostgreSQL connection string") from None
    password = parts.get("password")
    if password is not None:
        check_secret(str(password))


def check_address(value: str) -> str:
    """A bare ``user@domain`` address (no display name, no spaces): it goes into SMTP envelopes."""
    name, address = parseaddr(value)
    local, _, domain = address.rpartition("@")
    if name or address != value or not local or "." not in domain or re.search(r"\s", value):
        raise ValueError(f"not a plain e-mail address: {value!r}")
    return value
