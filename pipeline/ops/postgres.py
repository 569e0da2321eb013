"""A throw-away PostgreSQL server for the tests and the console benchmark, from Debian's package.

``initdb`` into a fresh folder, then ``postgres`` listening on 127.0.0.1 on a free port only (no
Unix socket), with password (SCRAM) logins for one user; stopped by the PID we started (a fast
shutdown, SIGINT) and its folder removed. PostgreSQL refuses to run as root: as root, the server
runs as the ``postgres`` system user the Debian package creates.

The binaries are looked up under ``/usr/lib/postgresql/<version>/bin`` (the newest version
installed, as ``deploy/setup-system.sh`` installs it) and then on the PATH; a missing one raises
:class:`MissingTool` naming it.
"""

from __future__ import annotations

import os
import pwd
import re
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import psycopg

from pipeline.ops.procs import free_port

DEBIAN_ROOT = Path("/usr/lib/postgresql")
SYSTEM_USER = "postgres"
USER = "tocsin"


class MissingTool(RuntimeError):
    """A PostgreSQL program (or the system user to run it as root) is not on this machine."""


def bindir() -> Path:
    """The folder of ``initdb`` and ``postgres``: Debian's newest version, else the PATH."""
    versions = sorted(
        (p for p in DEBIAN_ROOT.glob("*/bin") if (p / "postgres").exists()),
        key=lambda p: [int(n) for n in re.findall(r"\d+", p.parent.name)] or [0],
    )
    if versions:
        return versions[-1]
    found = shutil.which("initdb")
    if found and (Path(found).resolve().parent / "postgres").exists():
        return Path(found).resolve().parent
    raise MissingTool(
        "PostgreSQL server binaries (initdb, postgres) not found under /usr/lib/postgresql/*/bin "
        "or on the PATH: run `make setup` (deploy/setup-system.sh installs the postgresql package)"
    )


@dataclass
class Postgres:
    """One PostgreSQL server in its own folder; :meth:`start`, :meth:`database`, :meth:`stop`."""

    port: int = field(default_factory=free_port)
    password: str = field(default_factory=lambda: secrets.token_urlsafe(18))
    root: Path | None = None
    proc: subprocess.Popen[bytes] | None = None
    _log: IO[bytes] | None = None

    def dsn(self, dbname: str = "postgres") -> str:
        return (
            f"postgresql://{USER}:{self.password}@127.0.0.1:{self.port}/{dbname}?connect_timeout=10"
        )

    def start(self, timeout_s: float = 60.0) -> None:
        bins = bindir()
        as_user = None
        if os.geteuid() == 0:
            try:
                account = pwd.getpwnam(SYSTEM_USER)
            except KeyError:
                raise MissingTool(
                    f"running as root, PostgreSQL needs the {SYSTEM_USER!r} system user "
                    "(created by the postgresql package: run `make setup`)"
                ) from None
            as_user = account.pw_uid
        # Not under pytest's tmp folder: that one is private to root, and the server may run
        # as another user.
        self.root = Path(tempfile.mkdtemp(prefix="tocsin-pg-"))
        data = self.root / "data"
        pwfile = self.root / "pw"
        pwfile.write_text(self.password + "\n")
        if as_user is not None:
            for path in (self.root, pwfile):
                os.chown(path, as_user, -1)
        subprocess.run(
            [
                str(bins / "initdb"),
                "-D",
                str(data),
                "-U",
                USER,
                f"--pwfile={pwfile}",
                "--auth=scram-sha-256",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
            ],
            check=True,
            capture_output=True,
            user=as_user,
            cwd=self.root,  # a folder that user can enter (the caller's may be root's own)
        )
        pwfile.unlink()
        self._log = (self.root / "postgres.log").open("ab")
        self.proc = subprocess.Popen(
            [
                str(bins / "postgres"),
                "-D",
                str(data),
                "-p",
                str(self.port),
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                "unix_socket_directories=",
                "-c",
                "fsync=off",  # a throw-away server: durability is not what is tested
                "-c",
                "shared_buffers=128MB",
            ],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            user=as_user,
            cwd=self.root,  # a folder that user can enter (the caller's may be root's own)
        )
        deadline = time.monotonic() + timeout_s
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"postgres exited with {self.proc.returncode}; see {self.root}/postgres.log"
                )
            try:
                psycopg.connect(self.dsn(), connect_timeout=2).close()
                return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"postgres not ready after {timeout_s}s") from None
                time.sleep(0.2)

    def database(self, name: str) -> str:
        """Create the database ``name`` (a fresh one per test) and return its DSN."""
        if not re.fullmatch(r"[a-z][a-z0-9_]{0,62}", name):
            raise ValueError(f"not a plain database name: {name!r}")
        with psycopg.connect(self.dsn(), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")  # type: ignore[call-overload]
        return self.dsn(name)

    def stop(self, timeout_s: float = 30.0) -> None:
        """Fast shutdown of the server we started (by its PID), then remove its folder."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        if self._log is not None:
            self._log.close()
            self._log = None
        if self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)
            self.root = None
