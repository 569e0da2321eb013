from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from pipeline.records import Alert, Author, Mention
from pipeline.settings import make_settings


def test_mention_round_trips_through_json() -> None:
    mention = Mention(
        id="x:1",
        platform="x",
        text="hello Brenmoor",
        created_at=datetime(2026, 11, 20, 8, tzinfo=UTC),
        brand="brenmoor",
        brands=["brenmoor"],
        author=Author(id="u1", followers=10),
    )
    back = Mention.loads(mention.dumps())
    assert back == mention
    assert back.created_at == datetime(2026, 11, 20, 8, tzinfo=UTC)
    assert back.reach == 10


def test_alert_round_trips_with_nested_why() -> None:
    at = datetime(2026, 11, 21, 14, 20, tzinfo=UTC)
    alert = Alert(
        dedup_key="brenmoor:pricing:20261121T1420Z",
        state="firing",
        severity="critical",
        brand="brenmoor",
        topic="pricing",
        started_at=at,
        updated_at=at,
        observed=40.0,
        expected=3.0,
        score=0.9999,
        summary="s",
        why={"interval": [0, 7]},
        top_mentions=[{"id": "x", "text": "t"}],
    )
    assert Alert.loads(alert.dumps()) == alert


def test_reach_is_never_negative() -> None:
    mention = Mention(
        id="x",
        platform="x",
        text="t",
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
        brand="b",
        brands=["b"],
        author=Author(id="u", followers=-3),
    )
    assert mention.reach == 0


def test_secrets_are_masked_and_placeholders_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "TOCSIN_SLACK_WEBHOOK_URL", "https://hooks.slack.example/services/T0/B0/abcdef"
    )
    settings = make_settings()
    assert settings.slack_webhook_url is not None
    assert "abcdef" not in repr(settings)
    assert "abcdef" not in str(settings.model_dump())
    monkeypatch.setenv("TOCSIN_API_TOKEN", "changeme")
    with pytest.raises(ValidationError, match="placeholder"):
        make_settings()


def test_settings_validate_ranges() -> None:
    with pytest.raises(ValidationError):
        make_settings(batch_size=0)
    assert make_settings(batch_size=8).batch_size == 8


def test_console_dsn_is_a_secret_and_a_placeholder_password_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    dsn = "postgresql://tocsin:Vq8rT2mWx9LpZ4@db.internal:5432/console"
    monkeypatch.setenv("TOCSIN_CONSOLE_DSN", dsn)
    settings = make_settings()
    assert settings.console.dsn is not None
    assert settings.console.dsn.get_secret_value() == dsn
    assert "Vq8rT2mWx9LpZ4" not in repr(settings) + str(settings.model_dump())
    monkeypatch.setenv("TOCSIN_CONSOLE_DSN", "host=db.internal dbname=console user=tocsin")
    assert make_settings().console.dsn is not None  # no password: PGPASSFILE or certificates
    for bad in ("postgresql://tocsin:changeme@db/console", "not a dsn", "host='unclosed"):
        monkeypatch.setenv("TOCSIN_CONSOLE_DSN", bad)
        with pytest.raises(ValidationError) as refused:
            make_settings()
        assert "changeme" not in str(refused.value)
