"""State folder checks: what counts as unusable, the start-up gate, and the cached readiness probe.

"Full" is simulated two ways that need no root and touch nothing outside tmp_path: a write that
fails with ENOSPC (``os.write`` monkeypatched, as a full disk answers), and a free-space threshold
above what the disk has. "Unavailable" is a file where the folder should be.
"""

from __future__ import annotations

import errno
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.errors import StateDirUnusable
from pipeline.worker.statedir import (
    EXIT_STATE_DIR,
    PROBE_NAME,
    StateDirWatch,
    problem,
    require_usable,
)

REPO = Path(__file__).resolve().parents[3]


def test_a_writable_folder_is_fine_and_the_probe_leaves_nothing(tmp_path: Path) -> None:
    assert problem(tmp_path, 0) is None
    assert not (tmp_path / PROBE_NAME).exists()


def test_missing_folder_and_file_in_its_place(tmp_path: Path) -> None:
    assert "does not exist" in str(problem(tmp_path / "nope", 0))
    (tmp_path / "file").write_text("x")
    assert "is not a directory" in str(problem(tmp_path / "file", 0))


def test_disk_full_on_write_is_reported_with_the_cause(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def full(fd: int, data: bytes) -> int:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "write", full)
    found = problem(tmp_path, 0)
    assert found is not None and "not writable" in found and "No space left" in found


def test_free_space_below_the_threshold(tmp_path: Path) -> None:
    found = problem(tmp_path, 2**62)
    assert found is not None and "MiB free" in found and "TOCSIN_STATE_MIN_FREE_BYTES" in found


def test_require_usable_creates_a_missing_folder_and_refuses_a_file(tmp_path: Path) -> None:
    require_usable(tmp_path / "a" / "b")
    assert (tmp_path / "a" / "b").is_dir()
    (tmp_path / "f").write_text("x")
    with pytest.raises(StateDirUnusable, match="APP_DATADIR"):
        require_usable(tmp_path / "f")
    with pytest.raises(StateDirUnusable, match="cannot be created"):
        require_usable(tmp_path / "f" / "below")


async def test_watch_caches_the_probe_and_logs_each_change_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    now = [0.0]
    folder = tmp_path / "state"
    folder.mkdir()
    watch = StateDirWatch(folder, 0, max_age_s=5.0, clock=lambda: now[0])
    assert await watch.current() is None
    folder.rmdir()
    folder.write_text("now a file")
    assert await watch.current() is None  # cached for 5 s
    now[0] = 5.0
    with caplog.at_level(logging.WARNING, logger="pipeline.worker.statedir"):
        assert "not a directory" in str(await watch.current())
        now[0] = 10.0
        assert "not a directory" in str(await watch.current())
        folder.unlink()
        folder.mkdir()
        now[0] = 15.0
        assert await watch.current() is None
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 2
    assert "readiness false" in messages[0] and "usable again" in messages[1]


def test_worker_refuses_to_start_on_a_file_with_one_clear_line(tmp_path: Path) -> None:
    """No broker needed: the gate runs before Faust starts, so this exits in seconds."""
    blocker = tmp_path / "state"
    blocker.write_text("not a folder")
    env = {
        **os.environ,
        "APP_DATADIR": str(blocker),
        "BROKER_URL": "kafka://127.0.0.1:1",
        "PYTHONPATH": str(REPO),
    }
    done = subprocess.run(
        [sys.executable, "-m", "pipeline.cli", "worker"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == EXIT_STATE_DIR
    assert f"APP_DATADIR unusable: {blocker} is not a directory" in done.stderr
    assert "Traceback" not in done.stderr
