"""How every Tocsin client reaches Kafka: partitions, replication, TLS and SASL (``TOCSIN_KAFKA_*``).

One settings group, read by every client Tocsin runs: the Faust worker (``pipeline/app.py``), and
the kafka-python clients of ``tocsin topics create``, ``tocsin replay``, ``tocsin audit export``,
the demo and the worker's lag gauge. ``pipeline/kafka_clients.py`` turns it into each client's
arguments. The bootstrap address stays where it was: Faust's ``BROKER_URL`` for the worker,
``--bootstrap`` / ``TOCSIN_BOOTSTRAP`` for the commands.

It is a settings class of its own, not fields of :class:`pipeline.settings.Settings`, because it
is needed where the rest is not: at import time, to declare Faust's topics with their partition
count and build the app's credentials, and by commands such as ``tocsin topics create`` that should
not fail over a receiver's half-set variables. ``Settings.kafka`` holds the same values.

Secrets (the SASL password, a client key's password) are ``SecretStr`` with no default;
placeholders are refused. Files (CA, client certificate and key) must exist when the settings are
read, so a wrong path fails at start-up with the variable's name rather than at the first connect.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from pipeline.errors import ConfigError
from pipeline.settings_values import check_secret

SecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
SaslMechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]

SASL_PROTOCOLS = frozenset({"SASL_PLAINTEXT", "SASL_SSL"})
TLS_PROTOCOLS = frozenset({"SSL", "SASL_SSL"})

DEFAULT_PARTITIONS = 4


class KafkaSettings(BaseSettings):
    """Kafka connection and topic layout; build with :func:`kafka_settings` or pass values in tests."""

    model_config = SettingsConfigDict(
        env_prefix="TOCSIN_KAFKA_", extra="ignore", frozen=True, hide_input_in_errors=True
    )

    partitions: int = Field(
        default=DEFAULT_PARTITIONS,
        ge=1,
        le=1024,
        description="partitions of every keyed topic and of every table's changelog; the most "
        "workers one consumer group can keep busy (docs/operations.md: growing them)",
    )
    replication_factor: int = Field(
        default=1,
        ge=1,
        le=16,
        description="replicas of each topic `tocsin topics create` makes (3 on a managed cluster)",
    )
    security_protocol: SecurityProtocol = Field(
        default="PLAINTEXT", description="PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL"
    )
    sasl_mechanism: SaslMechanism = Field(
        default="SCRAM-SHA-512", description="PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (SASL_* only)"
    )
    sasl_username: str | None = Field(default=None, description="SASL user (SASL_* only)")
    sasl_password: SecretStr | None = Field(
        default=None, description="SASL password (a secret; SASL_* only)"
    )
    ssl_cafile: Path | None = Field(
        default=None,
        description="PEM file of the CA(s) the broker certificates chain to; unset: the system's "
        "trust store (MSK, Confluent Cloud). SSL and SASL_SSL only",
    )
    ssl_certfile: Path | None = Field(
        default=None, description="PEM client certificate for mutual TLS (with ssl_keyfile)"
    )
    ssl_keyfile: Path | None = Field(default=None, description="PEM private key of ssl_certfile")
    ssl_key_password: SecretStr | None = Field(
        default=None, description="password of an encrypted ssl_keyfile (a secret)"
    )
    ssl_check_hostname: bool = Field(
        default=True,
        description="check that the broker's certificate names the host connected to; leave on",
    )

    @field_validator("sasl_password", "ssl_key_password")
    @classmethod
    def _no_placeholder(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            check_secret(value.get_secret_value())
        return value

    @field_validator("ssl_cafile", "ssl_certfile", "ssl_keyfile")
    @classmethod
    def _readable(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_file():
            raise ValueError(f"{str(value)!r} is not a file")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> KafkaSettings:
        """Settings the protocol would silently ignore are a mistake: refuse them by name."""
        protocol = self.security_protocol
        if protocol in SASL_PROTOCOLS:
            if not self.sasl_username or self.sasl_password is None:
                raise ValueError(
                    f"TOCSIN_KAFKA_SECURITY_PROTOCOL={protocol} needs TOCSIN_KAFKA_SASL_USERNAME "
                    "and TOCSIN_KAFKA_SASL_PASSWORD"
                )
        elif self.sasl_username or self.sasl_password is not None:
            raise ValueError(
                f"TOCSIN_KAFKA_SASL_USERNAME / _PASSWORD are set but "
                f"TOCSIN_KAFKA_SECURITY_PROTOCOL={protocol} sends no credentials "
                "(SASL_SSL or SASL_PLAINTEXT would)"
            )
        tls_files = ("ssl_cafile", "ssl_certfile", "ssl_keyfile", "ssl_key_password")
        if protocol not in TLS_PROTOCOLS:
            set_ = [n for n in tls_files if getattr(self, n) is not None]
            if set_:
                names = ", ".join(f"TOCSIN_KAFKA_{n.upper()}" for n in set_)
                raise ValueError(
                    f"{names} set but TOCSIN_KAFKA_SECURITY_PROTOCOL={protocol} uses no TLS"
                )
        if (self.ssl_certfile is None) != (self.ssl_keyfile is None):
            raise ValueError("TOCSIN_KAFKA_SSL_CERTFILE and TOCSIN_KAFKA_SSL_KEYFILE go together")
        if self.ssl_key_password is not None and self.ssl_keyfile is None:
            raise ValueError("TOCSIN_KAFKA_SSL_KEY_PASSWORD needs TOCSIN_KAFKA_SSL_KEYFILE")
        return self

    def describe(self) -> str:
        """One line for logs and errors: protocol, mechanism and user, never a secret."""
        if self.security_protocol in SASL_PROTOCOLS:
            return f"{self.security_protocol} as {self.sasl_username!r} ({self.sasl_mechanism})"
        return self.security_protocol


def make_kafka_settings(**overrides: object) -> KafkaSettings:
    """Kafka settings from the environment with explicit overrides (tests pass values here)."""
    return KafkaSettings(**overrides)  # type: ignore[arg-type]


def _one_line(exc: ValidationError) -> str:
    """Each problem as ``TOCSIN_KAFKA_<FIELD>: message`` (inputs are hidden: they may be secrets)."""
    parts = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error["loc"])
        message = error["msg"].removeprefix("Value error, ")
        parts.append(f"TOCSIN_KAFKA_{where.upper()}: {message}" if where else message)
    return "; ".join(parts)


@lru_cache(maxsize=1)
def kafka_settings() -> KafkaSettings:
    """The process's Kafka settings, read once from the environment on first use.

    Raises :class:`~pipeline.errors.ConfigError` naming each wrong variable, in one line.
    """
    try:
        return make_kafka_settings()
    except ValidationError as exc:
        raise ConfigError(f"Kafka settings: {_one_line(exc)}") from None
