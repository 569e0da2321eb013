"""Tocsin against a broker that only speaks SASL_SSL (SCRAM-SHA-512 over TLS), as managed Kafka does.

One broker for the module, started by the project's script (``deploy/kafka/kafka.sh`` through
``pipeline.ops.procs.Broker``) with a CA and a broker certificate this test makes with ``openssl``
in a temporary folder and two SCRAM users written at format time. The worker and the commands get
nothing but the ``TOCSIN_KAFKA_*`` variables an operator would set.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from kafka import KafkaConsumer, TopicPartition

from pipeline.kafka_clients import EXIT_KAFKA_LOGIN, client_config
from pipeline.ops.grow import home
from pipeline.ops.procs import REPO, Broker, SaslSslListener, Worker, free_port
from pipeline.ops.topics import BrokerUnavailable, wait_for_broker
from pipeline.settings_kafka import KafkaSettings

pytestmark = pytest.mark.integration

USER, PASSWORD = "tocsin", "tocsin-scram-5e1f0c9a"
BROKER_USER, BROKER_PASSWORD = "broker", "broker-scram-7b3d2e41"


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def make_certificates(folder: Path, keystore_password: str) -> tuple[Path, Path]:
    """A CA and a broker certificate for 127.0.0.1 signed by it: (PKCS12 keystore, CA PEM)."""
    _openssl(
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        "-subj", "/CN=tocsin-test-ca", "-keyout", "ca.key", "-out", "ca.pem",
        cwd=folder,
    )  # fmt: skip
    _openssl(
        "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1",
        "-keyout", "broker.key", "-out", "broker.csr",
        cwd=folder,
    )  # fmt: skip
    (folder / "san.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    _openssl(
        "x509", "-req", "-in", "broker.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
        "-CAcreateserial", "-days", "2", "-extfile", "san.ext", "-out", "broker.pem",
        cwd=folder,
    )  # fmt: skip
    _openssl(
        "pkcs12", "-export", "-in", "broker.pem", "-inkey", "broker.key", "-certfile", "ca.pem",
        "-name", "broker", "-passout", f"pass:{keystore_password}", "-out", "broker.p12",
        cwd=folder,
    )  # fmt: skip
    return folder / "broker.p12", folder / "ca.pem"


@pytest.fixture(scope="module")
def sasl_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    folder = tmp_path_factory.mktemp("sasl-ssl")
    keystore, cafile = make_certificates(folder, keystore_password="keystore-pass-31")
    users = folder / "scram-users"
    users.write_text(f"{BROKER_USER}={BROKER_PASSWORD}\n{USER}={PASSWORD}\n")
    broker = Broker(
        port=free_port(),
        data_dir=folder / "kafka",
        sasl_ssl=SaslSslListener(keystore, "keystore-pass-31", cafile, users),
    )
    broker.start(stdout=subprocess.DEVNULL)
    try:
        yield broker
    finally:
        broker.stop(stdout=subprocess.DEVNULL)


def kafka_env(
    broker: Broker, password: str = PASSWORD, cafile: Path | None = None
) -> dict[str, str]:
    """The settings an operator sets for a SASL_SSL cluster, and nothing else."""
    assert broker.sasl_ssl is not None
    return {
        "TOCSIN_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "TOCSIN_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
        "TOCSIN_KAFKA_SASL_USERNAME": USER,
        "TOCSIN_KAFKA_SASL_PASSWORD": password,
        "TOCSIN_KAFKA_SSL_CAFILE": str(cafile or broker.sasl_ssl.cafile),
        "TOCSIN_BOOTSTRAP": broker.bootstrap,
    }


def tocsin(
    *args: str, env: dict[str, str], timeout_s: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pipeline.cli", *args],
        env={**os.environ, "PYTHONPATH": str(REPO), **env},
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )


def mention_line(i: int, text: str) -> str:
    return json.dumps(
        {
            "id": f"sasl:{i}",
            "platform": "x",
            "url": f"https://x.example/status/{i}",
            "created_at": f"2026-11-20T09:{i:02d}:05Z",
            "text": text,
            "author": {"id": f"u{i}", "followers": 10, "verified": False, "kind": "patient"},
            "kind": "post",
        }
    )


def test_the_listener_takes_no_plaintext_client(sasl_broker: Broker) -> None:
    """The broker really is SASL_SSL only: a PLAINTEXT client never gets metadata from it."""
    with pytest.raises(BrokerUnavailable):
        wait_for_broker(sasl_broker.bootstrap, timeout_s=3, kafka=KafkaSettings())


def test_worker_and_commands_over_scram_and_tls(
    sasl_broker: Broker, tmp_path: Path, model_dir: Path
) -> None:
    """`tocsin topics create`, a worker and `tocsin replay` log in with SCRAM-SHA-512 over TLS,
    and a mention goes from mentions.raw to mentions.classified through them."""
    env = kafka_env(sasl_broker)
    created = tocsin("topics", "create", env=env)
    assert created.returncode == 0, created.stderr
    assert "mentions.classified" in created.stdout

    worker = Worker(
        bootstrap=sasl_broker.bootstrap,
        data_dir=tmp_path / "worker",
        env={**env, "TOCSIN_MODEL_DIR": str(model_dir)},
    )
    try:
        worker.start()
        worker.wait_ready(timeout_s=120)
        stream = tmp_path / "mentions.jsonl"
        texts = [
            "Brenmoor just tripled the price of Glytera overnight, patients cannot afford it",
            "Brenmoor presents new Cardelio data at the cardiology congress this week",
        ]
        stream.write_text("".join(mention_line(i, t) + "\n" for i, t in enumerate(texts)))
        replayed = tocsin("replay", str(stream), env=env)
        assert replayed.returncode == 0, replayed.stderr
        assert "sent 2 messages to mentions.raw" in replayed.stdout

        settings = KafkaSettings(
            security_protocol="SASL_SSL",
            sasl_username=USER,
            sasl_password=PASSWORD,  # type: ignore[arg-type]
            ssl_cafile=env["TOCSIN_KAFKA_SSL_CAFILE"],  # type: ignore[arg-type]
        )
        classified = read_all(sasl_broker.bootstrap, "mentions.classified", settings, want=2)
        assert sorted(m["mention"]["id"] for m in classified) == ["sasl:0", "sasl:1"]  # type: ignore[index]
        assert {m["mention"]["brand"] for m in classified} == {"brenmoor"}  # type: ignore[index]
        # The counting state sits in the changelog partition Kafka's default partitioner gives
        # its key: what `tocsin topics grow` relies on to move it (pipeline/ops/grow.py).
        placed = changelog_placement(sasl_broker.bootstrap, settings, want_key=b"brenmoor")
        assert placed and all(home(k, 4) == p for k, p in placed.items()), placed
        assert worker.log_path is not None
        assert PASSWORD not in worker.log_path.read_text(errors="replace")
    finally:
        worker.stop()


def read_all(
    bootstrap: str, topic: str, settings: KafkaSettings, *, want: int, timeout_s: float = 90
) -> list[dict[str, object]]:
    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        consumer_timeout_ms=1000,
        **client_config(settings),
    )
    out: list[dict[str, object]] = []
    deadline = time.monotonic() + timeout_s
    try:
        while len(out) < want and time.monotonic() < deadline:
            out.extend(json.loads(message.value) for message in consumer)
        return out
    finally:
        consumer.close()


def changelog_placement(
    bootstrap: str, settings: KafkaSettings, *, want_key: bytes, timeout_s: float = 60
) -> dict[bytes, int]:
    """Partition of each key in the open_buckets changelog, once a key containing ``want_key``
    has been written (the counting agent writes its state once per batch)."""
    tps = [TopicPartition("tocsin-open_buckets-changelog", p) for p in range(4)]
    consumer = KafkaConsumer(
        enable_auto_commit=False, bootstrap_servers=bootstrap, **client_config(settings)
    )
    placed: dict[bytes, int] = {}
    deadline = time.monotonic() + timeout_s
    try:
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        while time.monotonic() < deadline and not any(want_key in k for k in placed):
            for tp, records in consumer.poll(timeout_ms=1000).items():
                placed.update((r.key, tp.partition) for r in records if r.key is not None)
        return placed
    finally:
        consumer.close()


def test_a_refused_login_stops_each_client_at_once_with_the_cause(
    sasl_broker: Broker, tmp_path: Path
) -> None:
    """A wrong password, or a CA that did not sign the broker's certificate: the worker and the
    commands stop within seconds, exit 77, with one line naming the broker's reason."""
    assert sasl_broker.sasl_ssl is not None
    other_ca = tmp_path / "other"
    other_ca.mkdir()
    _, untrusted = make_certificates(other_ca, keystore_password="keystore-pass-32")
    stream = tmp_path / "one.jsonl"
    stream.write_text(mention_line(0, "Brenmoor news") + "\n")
    worker_env = {
        "BROKER_URL": f"kafka://{sasl_broker.bootstrap}",
        "WEB_PORT": str(free_port()),
        "APP_DATADIR": str(tmp_path / "data"),
    }
    commands = {
        "worker": ("worker", "-l", "info"),
        "replay": ("replay", str(stream)),
        "topics create": ("topics", "create"),
    }
    # Every client on a wrong password; the untrusted CA (the same check) on one command.
    cases = [
        ("SASL login refused", kafka_env(sasl_broker, password="not-the-password-1"), commands),
        (
            "certificate is not trusted",
            kafka_env(sasl_broker, cafile=untrusted),
            {"replay": commands["replay"]},
        ),
    ]
    for cause, env, clients in cases:
        for name, args in clients.items():
            started = time.monotonic()
            run = tocsin(*args, env={**env, **worker_env}, timeout_s=60)
            took = time.monotonic() - started
            assert run.returncode == EXIT_KAFKA_LOGIN, (args, run.stdout, run.stderr)
            lines = run.stderr.strip().splitlines()
            assert len(lines) == 1, (args, run.stderr)
            assert lines[0].startswith(f"tocsin {name}: Kafka at {sasl_broker.bootstrap} refused ")
            assert cause in lines[0] and f"as '{USER}' (SCRAM-SHA-512)" in lines[0], lines[0]
            assert "not-the-password-1" not in run.stderr + run.stdout
            assert took < 20, (args, took)
