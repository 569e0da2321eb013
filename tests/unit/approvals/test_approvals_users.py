"""Users: roles, Slack mapping, tokens from the environment (hashed, constant-time, never shown)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from pipeline.approvals.errors import AuthRefused
from pipeline.approvals.users import UsersFile, build_directory, load_users
from pipeline.errors import ConfigError
from pipeline.settings import make_settings
from pipeline.yamlfile import parse_yaml, validate
from tests.unit.approvals.approvals_helpers import CONFIG, TOKENS, users


def test_roles_and_slack_mapping() -> None:
    d = users()
    assert d.get("e.lindqvist").has("approver-exec")
    assert d.by_slack("U0TOCS0005").id == "s.naidoo"
    assert {u.id for u in d.with_role("reviewer-legal")} == {"a.fontaine", "m.brennan"}
    with pytest.raises(AuthRefused) as err:
        d.by_slack("U0NOTMAPPED")
    assert err.value.reason == "unmapped_slack_user"
    with pytest.raises(AuthRefused, match="unknown_user"):
        d.get("nobody")


def test_token_list_authenticates_the_right_user_and_refuses_others() -> None:
    d = users()
    for user_id, token in TOKENS.items():
        assert d.authenticate(SecretStr(token)).id == user_id
        assert d.authenticate(token).id == user_id
    for wrong in ("", None, TOKENS["c.moreau"] + "x", TOKENS["c.moreau"][:-1]):
        with pytest.raises(AuthRefused) as err:
            d.authenticate(wrong)
        assert err.value.reason == "bad_token"


def test_per_user_token_env_variable() -> None:
    env = {"TOCSIN_TOKEN_E_LINDQVIST": "a-very-long-exec-token-42"}
    d = load_users(CONFIG / "users.yaml", env=env)
    assert d.authenticate("a-very-long-exec-token-42").id == "e.lindqvist"
    with pytest.raises(AuthRefused):
        d.authenticate(TOKENS["e.lindqvist"])  # not configured this time


def test_tokens_are_stored_hashed_and_never_shown() -> None:
    d = users()
    shown = repr(d) + str(d)
    for token in TOKENS.values():
        assert token not in shown
    assert all(len(digest) == 32 for digest, _ in d._token_digests)


def test_settings_keep_user_tokens_secret() -> None:
    raw = "c.moreau:resp-token-0123456789abcdef"
    settings = make_settings(user_tokens=raw)
    assert raw not in repr(settings)
    assert isinstance(settings.user_tokens, SecretStr)


@pytest.mark.parametrize(
    ("tokens", "expected"),
    [
        ("c.moreau:short", "shorter than 16 characters"),
        ("nobody:resp-token-0123456789abcdef", "token for unknown user 'nobody'"),
        ("c.moreau", "item 1 is not user_id:token"),
        ("c.moreau:same-token-0123456789,j.okafor:same-token-0123456789", "shared"),
    ],
)
def test_bad_token_configuration_is_refused_without_echoing_tokens(
    tokens: str, expected: str
) -> None:
    with pytest.raises(ConfigError) as err:
        load_users(CONFIG / "users.yaml", tokens=SecretStr(tokens), env={})
    assert expected in str(err.value)
    assert "0123456789" not in str(err.value)


def test_users_file_errors_name_line_and_field() -> None:
    text = (
        "version: 1\nusers:\n"
        "  - {id: a.one, name: A, roles: [responder], slack_user_id: U0AAAA1}\n"
        "  - {id: b.two, name: B, roles: [approver-ceo]}\n"
        "  - {id: c.three, name: C, roles: [viewer], slack_user_id: U0AAAA1}\n"
    )
    doc = parse_yaml(text, Path("users-test.yaml"))
    with pytest.raises(ConfigError, match=r"users-test.yaml:4: field 'users\[1\]\.roles\[0\]'"):
        validate(doc, UsersFile)
    fixed = parse_yaml(text.replace("approver-ceo", "viewer"), Path("users-test.yaml"))
    with pytest.raises(ConfigError) as err:
        build_directory(validate(fixed, UsersFile), doc=fixed, env={})
    assert "users-test.yaml:5: field 'users[2].slack_user_id': already mapped to 'a.one'" in str(
        err.value
    )
