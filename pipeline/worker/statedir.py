"""Is the worker's state folder (``APP_DATADIR``) usable? A start-up gate and a readiness check.

Tocsin's tables use Faust's memory store, rebuilt from their Kafka changelogs on start, so nothing
the worker must not lose lives in this folder; with ``STORE=rocksdb://`` the tables would. Either
way a folder that is missing, not a folder, read-only or full is something an operator has to
hear about clearly, and in a way that cannot lose data:

* **At start** (:func:`require_usable`, called by ``tocsin worker`` before Faust starts): an
  unusable folder stops the worker with one line naming the folder, the cause and the variable
  (exit status :data:`EXIT_STATE_DIR`), *before* it joins the consumer group -- so it has consumed
  and committed nothing, and a restart loop (Kubernetes ``CrashLoopBackOff``) loses nothing: the
  input stays on Kafka for the next worker that can take it.
* **While running** (:class:`StateDirWatch`, read by ``/readyz``): the same probe, at most every
  few seconds and off the event loop, turns readiness false with the reason while the folder is
  unusable or has less than ``TOCSIN_STATE_MIN_FREE_BYTES`` free, and true again when it recovers.
  The worker keeps processing meanwhile (the memory store does not write there), so an outage of
  the volume costs readiness, not mentions. Each change of state is logged once.

The probe writes, fsyncs and removes a small file, because free space and permission bits lie
(root ignores them; a read-only remount or a quota only shows on write).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pipeline.errors import StateDirUnusable

EXIT_STATE_DIR = 74  # EX_IOERR from sysexits.h: an input/output error, not a usage error
PROBE_NAME = ".tocsin-write-probe"
PROBE_BYTES = 4096

log = logging.getLogger(__name__)
_probe_ids = itertools.count()


def problem(path: Path, min_free_bytes: int) -> str | None:
    """What is wrong with ``path`` as a state folder, or None when it is usable."""
    if not path.exists():
        return f"{path} does not exist"
    if not path.is_dir():
        return f"{path} is not a directory"
    # One file per probe: two probes sharing a name (two threads, two workers on one volume)
    # would truncate and delete it under each other and report a healthy folder as unwritable.
    probe = path / f"{PROBE_NAME}.{os.getpid()}.{threading.get_ident()}.{next(_probe_ids)}"
    try:
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, b"\0" * PROBE_BYTES)
            os.fsync(fd)
        finally:
            os.close(fd)
        probe.unlink()
    except OSError as exc:
        return f"{path} is not writable: {exc.strerror or exc}"
    free = shutil.disk_usage(path).free
    if free < min_free_bytes:
        return (
            f"{path} has {free / 2**20:.1f} MiB free, below TOCSIN_STATE_MIN_FREE_BYTES "
            f"({min_free_bytes / 2**20:.1f} MiB)"
        )
    return None


def require_usable(path: Path, min_free_bytes: int = 0) -> None:
    """Create the folder if missing, then refuse to start unless it is a writable folder.

    Low free space alone does not stop the start (``min_free_bytes`` defaults to 0 here): the
    memory store does not need it, and readiness reports it. A failed write does stop it.
    """
    try:
        if not path.exists():
            path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StateDirUnusable(
            f"state folder APP_DATADIR={path} cannot be created: {exc.strerror or exc}"
        ) from exc
    found = problem(path, min_free_bytes)
    if found is not None:
        raise StateDirUnusable(f"state folder APP_DATADIR unusable: {found}")


@dataclass
class StateDirWatch:
    """The last probe result, refreshed in a thread when older than ``max_age_s``."""

    path: Path
    min_free_bytes: int
    max_age_s: float = 5.0
    clock: Callable[[], float] = time.monotonic
    last: str | None = None
    checked_at: float | None = None
    _inflight: asyncio.Future[str | None] | None = None

    async def current(self) -> str | None:
        """The folder's problem (None: fine), probing again when the last answer is stale.

        Concurrent callers share one probe (single flight): eight ``/readyz`` at once make one
        write, not eight racing ones.
        """
        now = self.clock()
        if self.checked_at is not None and now - self.checked_at < self.max_age_s:
            return self.last
        if self._inflight is None:
            self._inflight = asyncio.ensure_future(self._probe(now))
        inflight = self._inflight
        try:
            return await asyncio.shield(inflight)
        finally:
            if inflight.done() and self._inflight is inflight:
                self._inflight = None

    async def _probe(self, now: float) -> str | None:
        found = await asyncio.to_thread(problem, self.path, self.min_free_bytes)
        if found != self.last:
            if found is None:
                log.warning("state folder usable again: %s", self.path)
            else:
                log.error("state folder problem, readiness false: %s", found)
        self.last, self.checked_at = found, now
        return found
