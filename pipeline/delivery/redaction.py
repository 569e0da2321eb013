"""Secret redaction, in one place: every secret value masked as ``***`` wherever text leaves Tocsin.

* :func:`redact` masks known secrets in a text (dead letters' errors, ``tocsin notify test``
  output, the silences CLI's error messages, SMTP errors that echo a password);
* :func:`secrets_of` lists the secret values of the settings, and :func:`secret_variants` what
  of one secret counts as secret too (a URL's query string alone, e.g. a Teams ``sig=``);
* :class:`SecretRedactor` is the logging filter that masks them in log records, which
  :func:`protect_secrets` installs on the HTTP stack's loggers (httpx logs full URLs at INFO, and
  a Slack or Teams webhook URL *is* its secret).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from pydantic import BaseModel, SecretStr

from pipeline.settings import Settings

MASK = "***"
#: Shorter values are not masked: they would mask ordinary words.
MIN_SECRET_CHARS = 4
#: Loggers of the HTTP stack that may write a request URL (webhook URLs embed tokens).
HTTP_LOGGERS = ("httpx", "httpcore")


def secret_variants(raw: str) -> list[str]:
    """``raw`` and, for a URL with a query string, the query string alone (long enough ones)."""
    found = [raw]
    if "?" in raw:
        found.append(raw.split("?", 1)[1])
    return [s for s in found if len(s) >= MIN_SECRET_CHARS]


def _secret_values(model: BaseModel) -> list[str]:
    found: list[str] = []
    for name in type(model).model_fields:
        value = getattr(model, name)
        if isinstance(value, SecretStr):
            found += secret_variants(value.get_secret_value())
    return found


def secrets_of(settings: Settings, extra: Iterable[SecretStr] = ()) -> list[str]:
    """Every secret value in the settings (and ``extra``, e.g. named receivers' secrets)."""
    found = _secret_values(settings)
    for secret in extra:
        found += secret_variants(secret.get_secret_value())
    return found


def redact(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every secret (longest first, so a prefix never leaves a tail) masked."""
    for secret in sorted(secrets, key=len, reverse=True):
        if len(secret) >= MIN_SECRET_CHARS:
            text = text.replace(secret, MASK)
    return text


class SecretRedactor(logging.Filter):
    """Replaces known secret values in log records with ``***`` before any handler sees them."""

    def __init__(self) -> None:
        super().__init__("tocsin-secrets")
        self._secrets: set[str] = set()

    def add(self, secret: str) -> None:
        if len(secret) >= MIN_SECRET_CHARS:
            self._secrets.add(secret)

    def filter(self, record: logging.LogRecord) -> bool:
        if not self._secrets:
            return True
        message = record.getMessage()
        redacted = redact(message, self._secrets)
        if redacted != message:
            # () rather than None: a handler that wraps non-tuple args as (args,) would try
            # "msg % (None,)" and print a logging error instead of the line
            record.msg, record.args = redacted, ()
        return True


def protect_secrets(*secrets: SecretStr | str | None) -> None:
    """Make sure the HTTP stack's loggers redact ``secrets`` (idempotent, one filter per logger)."""
    raws = [s.get_secret_value() if isinstance(s, SecretStr) else s for s in secrets if s]
    for name in HTTP_LOGGERS:
        log = logging.getLogger(name)
        redactor = next((f for f in log.filters if isinstance(f, SecretRedactor)), None)
        if redactor is None:
            redactor = SecretRedactor()
            log.addFilter(redactor)
        for raw in raws:
            for variant in secret_variants(raw):
                redactor.add(variant)
