"""Kafka settings (``TOCSIN_KAFKA_*``) and the client arguments built from them, without a broker."""

from __future__ import annotations

import json
import os
import ssl
import subprocess
import sys
from pathlib import Path
from typing import Any

import certifi
import pytest
from faust.auth import SASLCredentials, SSLCredentials
from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth
from faust.types.auth import AuthProtocol, SASLMechanism
from pydantic import ValidationError

from pipeline.errors import ConfigError
from pipeline.kafka_clients import client_config, faust_credentials
from pipeline.settings import make_settings
from pipeline.settings_kafka import kafka_settings, make_kafka_settings

REPO = Path(__file__).resolve().parents[3]
CA = certifi.where()  # a real PEM bundle, so the TLS context loads it for real
SASL_SSL: dict[str, Any] = {
    "security_protocol": "SASL_SSL",
    "sasl_username": "tocsin",
    "sasl_password": "scram-password-42",
    "ssl_cafile": CA,
}


def test_plaintext_by_default_and_nothing_else() -> None:
    settings = make_kafka_settings()
    assert settings.partitions == 4 and settings.replication_factor == 1
    assert client_config(settings) == {"security_protocol": "PLAINTEXT"}
    assert faust_credentials(settings) is None
    assert make_settings().kafka == settings


def test_sasl_ssl_gives_every_client_the_same_login() -> None:
    settings = make_kafka_settings(**SASL_SSL)
    config = client_config(settings)
    context = config.pop("ssl_context")
    assert config == {
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "tocsin",
        "sasl_plain_password": "scram-password-42",
    }
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    credentials = faust_credentials(settings)
    assert isinstance(credentials, SASLCredentials)
    assert credentials.protocol is AuthProtocol.SASL_SSL
    assert credentials.mechanism is SASLMechanism.SCRAM_SHA_512
    # Faust hands aiokafka exactly what the kafka-python clients get.
    faust_side = dict(credentials_to_aiokafka_auth(credentials))
    assert isinstance(faust_side.pop("ssl_context"), ssl.SSLContext)
    assert faust_side == config
    assert "scram-password-42" not in repr(settings) + repr(credentials)


def test_sasl_plaintext_plain_and_tls_only() -> None:
    plain = make_kafka_settings(
        security_protocol="SASL_PLAINTEXT",
        sasl_mechanism="PLAIN",
        sasl_username="svc",
        sasl_password="plain-password-7",
    )
    assert "ssl_context" not in client_config(plain)
    credentials = faust_credentials(plain)
    assert isinstance(credentials, SASLCredentials)
    assert credentials.protocol is AuthProtocol.SASL_PLAINTEXT
    assert credentials.mechanism is SASLMechanism.PLAIN

    tls = make_kafka_settings(security_protocol="SSL")  # the system's trust store
    assert set(client_config(tls)) == {"security_protocol", "ssl_context"}
    assert isinstance(faust_credentials(tls), SSLCredentials)
    unchecked = make_kafka_settings(security_protocol="SSL", ssl_check_hostname=False)
    assert not client_config(unchecked)["ssl_context"].check_hostname


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"security_protocol": "SASL_SSL"}, "needs TOCSIN_KAFKA_SASL_USERNAME"),
        ({"sasl_username": "u", "sasl_password": "a-real-password"}, "sends no credentials"),
        ({"ssl_cafile": CA}, "TOCSIN_KAFKA_SSL_CAFILE set but"),
        ({**SASL_SSL, "ssl_cafile": "/nonexistent/ca.pem"}, "is not a file"),
        ({**SASL_SSL, "sasl_password": "changeme"}, "placeholder"),
        ({**SASL_SSL, "ssl_certfile": CA}, "go together"),
        ({**SASL_SSL, "sasl_mechanism": "GSSAPI"}, "SCRAM-SHA-512"),
        ({"security_protocol": "TLS"}, "SASL_SSL"),
        ({"partitions": 0}, "greater than or equal to 1"),
    ],
)
def test_mistakes_are_refused_by_name(values: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        make_kafka_settings(**values)


def test_a_bad_environment_is_one_line_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, reread_settings: None
) -> None:
    monkeypatch.setenv("TOCSIN_KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("TOCSIN_KAFKA_SASL_USERNAME", "tocsin")
    monkeypatch.setenv("TOCSIN_KAFKA_SASL_PASSWORD", "password")
    with pytest.raises(ConfigError) as caught:
        kafka_settings()
    message = str(caught.value)
    assert message.startswith(
        "Kafka settings: TOCSIN_KAFKA_SASL_PASSWORD: looks like a placeholder"
    )
    assert "\n" not in message


def test_partitions_setting_sizes_every_topic_and_changelog() -> None:
    """TOCSIN_KAFKA_PARTITIONS=12: every keyed topic Faust declares, every table's changelog and
    the specs `tocsin topics create` uses have 12 partitions; the dead letters and the silences
    (one global table) keep one. Read in a fresh interpreter: the count is fixed at import."""
    # (And TOCSIN_KAFKA_REPLICATION_FACTOR reaches Faust's own topics.)
    probe = """
import json
from faust.types import TopicT
from pipeline import tables, topics, topology
from pipeline.app import app
print(json.dumps({
    "specs": {s.name: s.partitions for s in topology.ALL_TOPICS + topology.CHANGELOG_TOPICS},
    "declared": {t.get_topic_name(): t.partitions for t in vars(topics).values()
                 if isinstance(t, TopicT)},
    "tables": {t.changelog_topic.get_topic_name(): t.partitions or app.conf.topic_partitions
               for t in app.tables.values()},
    "app": app.conf.topic_partitions,
    "replicas": app.conf.topic_replication_factor,
}))
"""
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "TOCSIN_KAFKA_PARTITIONS": "12",
        "TOCSIN_KAFKA_REPLICATION_FACTOR": "3",
    }
    run = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr
    seen = json.loads(run.stdout.strip().splitlines()[-1])
    assert seen["app"] == 12
    assert seen["replicas"] == 3  # Faust's own topics follow TOCSIN_KAFKA_REPLICATION_FACTOR
    # one partition on purpose: a total order (dead letters, silences), or a few keys (checkpoints)
    single = {"mentions.dlq", "alerts.silences", "tocsin-silences-changelog", "sources.checkpoints"}
    specs = seen["specs"]
    assert {name: n for name, n in specs.items() if n != 12} == dict.fromkeys(single, 1)
    assert seen["declared"] and all(specs[name] == n for name, n in seen["declared"].items())
    assert seen["tables"] and all(specs[name] == n for name, n in seen["tables"].items())
