"""Secret redaction: the secret values in the settings, masked out of text that leaves the worker
(dead letters' errors, ``tocsin notify test`` output)."""

from __future__ import annotations

from collections.abc import Iterable

from pydantic import SecretStr

from pipeline.settings import Settings


def secrets_of(settings: Settings) -> list[str]:
    """Every secret value in the settings, and the query string of secret URLs (a Teams ``sig``)."""
    found: list[str] = []
    for name in type(settings).model_fields:
        value = getattr(settings, name)
        if isinstance(value, SecretStr):
            raw = value.get_secret_value()
            found.append(raw)
            if "?" in raw:
                found.append(raw.split("?", 1)[1])
    return [s for s in found if len(s) >= 4]


def redact(text: str, secrets: Iterable[str]) -> str:
    for secret in sorted(secrets, key=len, reverse=True):
        text = text.replace(secret, "***")
    return text
