"""A real Apache Kafka broker for the integration and end-to-end tests (a pytest plugin).

``kafka_broker`` (session scope) starts one KRaft broker with ``deploy/kafka/kafka.sh`` on free
loopback ports and a temporary data dir, and stops it by its PID when the session ends, also when
tests fail. Starting a JVM broker costs ~10 s on the 2-core machines, so it is started once and
every test isolates itself with fresh topic and group names (``fresh_topics`` /
``unique_topic_prefix``), as quix-streams' test suite does.

Set ``TOCSIN_TEST_KAFKA_BOOTSTRAP=127.0.0.1:9092`` to run against a broker you started yourself
(``deploy/kafka/kafka.sh start``); the fixture then neither starts nor stops anything.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from pipeline.ops.topics import wait_for_broker
from pipeline.topology import TopicSpec

REPO_ROOT = Path(__file__).resolve().parent.parent
KAFKA_SH = REPO_ROOT / "deploy" / "kafka" / "kafka.sh"
EXTERNAL_BROKER_ENV = "TOCSIN_TEST_KAFKA_BOOTSTRAP"
# A cold `kafka.sh fetch` resolves ~45 jars with Maven (about a minute); start-up itself is
# bounded by KAFKA_START_TIMEOUT inside the script.
START_TIMEOUT_S = 600.0
STOP_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class KafkaBroker:
    """Where the test broker listens, and the PID to stop (None for an external broker)."""

    host: str
    port: int
    pid: int | None = None
    data_dir: Path | None = None

    @property
    def bootstrap(self) -> str:
        """``host:port`` for kafka-python and aiokafka."""
        return f"{self.host}:{self.port}"

    @property
    def url(self) -> str:
        """Faust's broker URL."""
        return f"kafka://{self.bootstrap}"


def unique_topic_prefix() -> str:
    """A prefix no earlier test used, so topics and groups never carry state between tests."""
    return f"t{uuid.uuid4().hex[:12]}."


@dataclass(frozen=True)
class FreshNames:
    """Topic and consumer-group names under one unique prefix, for one test."""

    prefix: str

    def topic(self, name: str) -> str:
        return f"{self.prefix}{name}"

    def group(self, name: str = "group") -> str:
        return f"{self.prefix}{name}"

    def specs(self, specs: Iterable[TopicSpec]) -> tuple[TopicSpec, ...]:
        """The same specs (partitions, config) under prefixed names."""
        return tuple(dataclasses.replace(spec, name=self.topic(spec.name)) for spec in specs)


@pytest.fixture
def fresh_topics() -> FreshNames:
    """Fresh topic/group names for one test on the shared session broker."""
    return FreshNames(unique_topic_prefix())


def _free_ports(count: int) -> list[int]:
    """Distinct free TCP ports on 127.0.0.1 (held open together so they differ)."""
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [int(sock.getsockname()[1]) for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie still answers kill(0); its /proc status says Z.
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def _stop(env: dict[str, str], pid: int | None) -> None:
    """Stop the broker: `kafka.sh stop` (SIGTERM then SIGKILL, by the PID file), then make sure."""
    subprocess.run(
        ["bash", str(KAFKA_SH), "stop"],
        env=env,
        capture_output=True,
        text=True,
        timeout=STOP_TIMEOUT_S,
        check=False,
    )
    if pid is None:
        return
    deadline = time.monotonic() + 5.0
    while _pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    if _pid_alive(pid):
        os.kill(pid, signal.SIGKILL)


@pytest.fixture(scope="session")
def kafka_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaBroker]:
    """One real Kafka broker for the whole test session, on free ports of 127.0.0.1."""
    external = os.environ.get(EXTERNAL_BROKER_ENV)
    if external:
        host, _, external_port = external.rpartition(":")
        wait_for_broker(external, timeout_s=30)
        yield KafkaBroker(host=host, port=int(external_port))
        return

    port, controller_port = _free_ports(2)
    data_dir = tmp_path_factory.mktemp("kafka")
    env = dict(os.environ)
    env.update(
        KAFKA_PORT=str(port),
        KAFKA_CONTROLLER_PORT=str(controller_port),
        KAFKA_DATA_DIR=str(data_dir),
        PYTHON=sys.executable,
    )
    pid_file = data_dir / "kafka.pid"

    def started_pid() -> int | None:
        try:
            return int(pid_file.read_text().strip())
        except (OSError, ValueError):
            return None

    try:
        result = subprocess.run(
            ["bash", str(KAFKA_SH), "start"],
            env=env,
            capture_output=True,
            text=True,
            timeout=START_TIMEOUT_S,
            check=False,
        )
    except BaseException:
        _stop(env, started_pid())
        raise
    if result.returncode != 0:
        _stop(env, started_pid())
        pytest.fail(
            f"kafka.sh start failed (exit {result.returncode}):\n{result.stdout}{result.stderr}",
            pytrace=False,
        )
    pid = started_pid()
    try:
        yield KafkaBroker(host="127.0.0.1", port=port, pid=pid, data_dir=data_dir)
    finally:
        _stop(env, pid)
