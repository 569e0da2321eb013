"""Users, their roles and how they prove who they are (per-user token, Slack user id).

The users file (``config/users.yaml``) is data: id, display name, roles, Slack user id and,
optionally, ``token_env``: the name of an environment variable holding that user's web/API token.
Tokens can also come as one secret ``TOCSIN_USER_TOKENS="alice:tok1,bob:tok2"``. Tokens never sit
in the YAML, are held as ``SecretStr`` while parsed and then only as SHA-256 digests; a presented
token is compared against *every* digest with ``hmac.compare_digest`` so timing tells nothing about
which user (if any) it nearly matched. Nothing here logs a token.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from pipeline.approvals.errors import AuthRefused
from pipeline.errors import ConfigError
from pipeline.settings import parse_token_list as settings_token_list
from pipeline.yamlfile import Loc, YamlDoc, read_yaml, validate

ROLES = ("responder", "approver-exec", "reviewer-medical", "reviewer-legal", "viewer", "safety")
Role = Literal[
    "responder", "approver-exec", "reviewer-medical", "reviewer-legal", "viewer", "safety"
]
APPROVER_ROLES = ("approver-exec", "reviewer-medical", "reviewer-legal")
MIN_TOKEN_CHARS = 16
SYSTEM_USER = "system"


class UserSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]{1,39}$")
    name: str = Field(min_length=1)
    roles: list[Role] = Field(min_length=1)
    slack_user_id: str | None = Field(default=None, pattern=r"^[UW][A-Z0-9]{4,20}$")
    email: str | None = None
    token_env: str | None = Field(default=None, pattern=r"^[A-Z][A-Z0-9_]{2,80}$")


class UsersFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: int = Field(ge=1)
    users: list[UserSpec] = Field(min_length=1)


@dataclass(frozen=True)
class User:
    """A person who may act on drafts; ``roles`` decide what they may do."""

    id: str
    name: str
    roles: frozenset[str]
    slack_user_id: str | None = None
    email: str | None = None

    def has(self, role: str) -> bool:
        return role in self.roles


@dataclass(frozen=True)
class UserDirectory:
    """Users by id and by Slack id, with token digests for authentication."""

    users: tuple[User, ...]
    _token_digests: tuple[tuple[bytes, str], ...] = field(default=(), repr=False)

    def get(self, user_id: str) -> User:
        """The user ``user_id``; AuthRefused('unknown_user') if there is none."""
        for user in self.users:
            if user.id == user_id:
                return user
        raise AuthRefused("unknown_user", f"no user {user_id!r}")

    def by_slack(self, slack_user_id: str) -> User:
        """The Tocsin user mapped to a Slack user id; AuthRefused('unmapped_slack_user')."""
        for user in self.users:
            if user.slack_user_id is not None and hmac.compare_digest(
                user.slack_user_id, slack_user_id
            ):
                return user
        raise AuthRefused("unmapped_slack_user", "this Slack user is not a Tocsin user")

    def with_role(self, role: str) -> tuple[User, ...]:
        return tuple(u for u in self.users if role in u.roles)

    def authenticate(self, token: SecretStr | str | None) -> User:
        """The user whose token this is; AuthRefused('bad_token') otherwise (constant time).

        Every stored digest is compared, whatever matched, so the time taken does not depend on
        which user's token was presented or how close a guess came.
        """
        raw = token.get_secret_value() if isinstance(token, SecretStr) else (token or "")
        presented = hashlib.sha256(raw.encode("utf-8")).digest()
        found: str | None = None
        for digest, user_id in self._token_digests:
            if hmac.compare_digest(digest, presented) and found is None:
                found = user_id
        if not raw or found is None:
            raise AuthRefused("bad_token", "unknown or missing token")
        return self.get(found)

    @property
    def has_tokens(self) -> bool:
        return bool(self._token_digests)


def parse_token_list(value: SecretStr | None) -> dict[str, SecretStr]:
    """``"alice:tok1, bob:tok2"`` -> {"alice": SecretStr("tok1"), ...}; errors never echo a token."""
    if value is None:
        return {}
    try:
        items = settings_token_list(value.get_secret_value())
    except ValueError as exc:
        problem = str(exc).replace("name:token", "user_id:token")
        raise ConfigError(f"TOCSIN_USER_TOKENS: {problem}") from None
    return {user_id: SecretStr(token) for _, user_id, token in items}


def _fail(doc: YamlDoc | None, loc: Loc, why: str) -> ConfigError:
    if doc is None:
        return ConfigError(f"<users>: {'.'.join(map(str, loc))}: {why}")
    return ConfigError(doc.problem(loc, why))


def build_directory(
    spec: UsersFile,
    *,
    doc: YamlDoc | None = None,
    tokens: SecretStr | None = None,
    env: Mapping[str, str] | None = None,
) -> UserDirectory:
    """Users from a validated file plus their tokens (the token list, then ``token_env``)."""
    env = os.environ if env is None else env
    users: list[User] = []
    seen_ids: set[str] = set()
    seen_slack: dict[str, str] = {}
    for i, u in enumerate(spec.users):
        if u.id in seen_ids:
            raise _fail(doc, ("users", i, "id"), f"duplicate user {u.id!r}")
        if u.id == SYSTEM_USER:
            raise _fail(doc, ("users", i, "id"), f"{SYSTEM_USER!r} is reserved")
        if u.slack_user_id and u.slack_user_id in seen_slack:
            raise _fail(
                doc,
                ("users", i, "slack_user_id"),
                f"already mapped to {seen_slack[u.slack_user_id]!r}",
            )
        seen_ids.add(u.id)
        if u.slack_user_id:
            seen_slack[u.slack_user_id] = u.id
        users.append(User(u.id, u.name, frozenset(u.roles), u.slack_user_id, u.email))
    secrets = parse_token_list(tokens)
    for u in spec.users:
        # A user without a token simply cannot log in with one (Slack or signed links only).
        if u.token_env and env.get(u.token_env):
            secrets.setdefault(u.id, SecretStr(env[u.token_env]))
    digests: list[tuple[bytes, str]] = []
    seen_digests: set[bytes] = set()
    for user_id, secret in secrets.items():
        if user_id not in seen_ids:
            raise ConfigError(f"TOCSIN_USER_TOKENS: token for unknown user {user_id!r}")
        raw = secret.get_secret_value()
        if len(raw) < MIN_TOKEN_CHARS:
            raise ConfigError(
                f"token of user {user_id!r} is shorter than {MIN_TOKEN_CHARS} characters"
            )
        digest = hashlib.sha256(raw.encode("utf-8")).digest()
        if digest in seen_digests:
            raise ConfigError(f"token of user {user_id!r} is shared with another user")
        seen_digests.add(digest)
        digests.append((digest, user_id))
    return UserDirectory(tuple(users), tuple(digests))


def load_users(
    path: Path, *, tokens: SecretStr | None = None, env: Mapping[str, str] | None = None
) -> UserDirectory:
    """Read and validate the users file; tokens from ``tokens`` and each user's ``token_env``."""
    doc = read_yaml(path)
    spec = validate(doc, UsersFile)
    return build_directory(spec, doc=doc, tokens=tokens, env=env)
