"""Start and stop the processes the demo and the tests own: the broker (by its script) and workers.

Everything is stopped by the PID we started, never by name, so a developer's other Kafka or Python
processes are left alone.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import httpx

REPO = Path(__file__).resolve().parents[2]
KAFKA_SCRIPT = REPO / "deploy" / "kafka" / "kafka.sh"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class SaslSslListener:
    """What ``kafka.sh`` needs to serve SASL_SSL (SCRAM-SHA-512 over TLS) instead of PLAINTEXT.

    ``users_file`` holds ``name=password`` lines: the SCRAM users made when the data folder is
    formatted, the first being the broker's own login. The certificates are the caller's to make.
    """

    keystore: Path  # PKCS12: the broker's key and certificate (SAN IP:127.0.0.1)
    keystore_password: str
    cafile: Path  # PEM: the CA that signed it
    users_file: Path

    def env(self) -> dict[str, str]:
        return {
            "KAFKA_SECURITY": "SASL_SSL",
            "KAFKA_SSL_KEYSTORE": str(self.keystore),
            "KAFKA_SSL_KEYSTORE_PASSWORD": self.keystore_password,
            "KAFKA_SSL_CAFILE": str(self.cafile),
            "KAFKA_SCRAM_USERS_FILE": str(self.users_file),
        }


@dataclass
class Broker:
    """A Kafka broker started by ``deploy/kafka/kafka.sh`` in its own data folder.

    PLAINTEXT on 127.0.0.1 by default; with ``sasl_ssl`` its client listener takes SCRAM-SHA-512
    logins over TLS only.
    """

    port: int
    data_dir: Path
    controller_port: int = field(default_factory=free_port)
    sasl_ssl: SaslSslListener | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _env(self) -> dict[str, str]:
        return {
            **os.environ,
            "KAFKA_PORT": str(self.port),
            "KAFKA_DATA_DIR": str(self.data_dir),
            "KAFKA_CONTROLLER_PORT": str(self.controller_port),
            "PYTHON": sys.executable,
            **(self.sasl_ssl.env() if self.sasl_ssl is not None else {}),
        }

    def start(self, stdout: int | None = None) -> None:
        """``stdout=subprocess.DEVNULL`` keeps the script's "ready" line off a caller's own
        stdout (``tocsin model bench`` prints JSON there); its errors go to stderr either way."""
        subprocess.run(
            ["bash", str(KAFKA_SCRIPT), "start"], env=self._env(), check=True, stdout=stdout
        )

    def stop(self, stdout: int | None = None) -> None:
        subprocess.run(
            ["bash", str(KAFKA_SCRIPT), "stop"], env=self._env(), check=False, stdout=stdout
        )


@dataclass
class Worker:
    """A ``tocsin worker`` subprocess with its own state folder and web port."""

    bootstrap: str
    data_dir: Path
    web_port: int = field(default_factory=free_port)
    env: dict[str, str] = field(default_factory=dict)
    log_path: Path | None = None
    #: the module run as ``python -m``: the CLI, or a bench's wrapper of it (bench/memory_worker.py)
    module: str = "pipeline.cli"
    proc: subprocess.Popen[bytes] | None = None
    _log: IO[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    def start(self, loglevel: str = "info") -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        env = {
            **os.environ,
            "BROKER_URL": f"kafka://{self.bootstrap}",
            "WEB_PORT": str(self.web_port),
            "WEB_BIND": "127.0.0.1",
            "APP_DATADIR": str(self.data_dir),
            "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
            **self.env,
        }
        self.log_path = self.log_path or self.data_dir / "worker.log"
        self._log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", self.module, "worker", "-l", loglevel],
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            cwd=str(self.data_dir),
        )

    def wait_ready(self, timeout_s: float = 180.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(
                    f"worker exited with {self.proc.returncode}; see {self.log_path}"
                )
            try:
                if httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        raise TimeoutError(f"worker not ready after {timeout_s:.0f}s; see {self.log_path}")

    def metrics_text(self) -> str:
        token = self.env.get("TOCSIN_METRICS_TOKEN")
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.get(f"{self.url}/metrics", headers=headers, timeout=5).text

    def kill(self) -> None:
        """SIGKILL, as a crash would: no clean shutdown, no final commit."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=30)
        self._close_log()

    def stop(self, timeout_s: float = 30.0) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self._close_log()

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None
