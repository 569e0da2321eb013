from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from pipeline.cli import cli
from pipeline.ingest.replay import read_lines, replay


def test_help_lists_commands_and_env_vars() -> None:
    runner = CliRunner()
    top = runner.invoke(cli, ["--help"])
    assert top.exit_code == 0
    for command in (
        "worker",
        "replay",
        "topics",
        "demo",
        "model",
        "classify",
        "backtest",
        "audit",
        "notify",
        "silences",
    ):
        assert command in top.output
    replay_help = runner.invoke(cli, ["replay", "--help"])
    assert "[env: TOCSIN_BOOTSTRAP]" in replay_help.output
    assert "--speed" in replay_help.output


def test_replay_of_a_missing_file_is_a_usage_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["replay", str(tmp_path / "nope.jsonl")])
    assert result.exit_code == 2
    assert "does not exist" in result.output


def write_stream(path: Path) -> None:
    lines = [
        json.dumps({"id": "a", "created_at": "2026-11-20T00:00:00Z", "text": "x"}),
        "{broken line",
        "",
        json.dumps({"id": "b", "created_at": "2026-11-20T00:10:00Z", "text": "y"}),
        json.dumps({"id": "c", "created_at": "2026-11-20T00:20:00Z", "text": "z"}),
    ]
    path.write_text("\n".join(lines) + "\n")


def test_read_lines_keeps_malformed_lines_byte_for_byte(tmp_path: Path) -> None:
    stream = tmp_path / "s.jsonl"
    write_stream(stream)
    got = list(read_lines(stream))
    assert [g.key for g in got] == [b"a", None, b"b", b"c"]
    assert got[1].payload == b"{broken line" and got[1].at is None
    assert got[3].at is not None and got[2].at is not None and got[3].at - got[2].at == 600


class FakeProducer:
    def __init__(self, **config: Any) -> None:
        self.config = config
        self.sent: list[tuple[str, bytes | None, bytes]] = []

    def send(self, topic: str, key: bytes | None = None, value: bytes = b"") -> None:
        self.sent.append((topic, key, value))

    def flush(self, timeout: float | None = None) -> None:
        return None

    def close(self, timeout: float | None = None) -> None:
        return None


def test_replay_paces_by_event_time(tmp_path: Path) -> None:
    stream = tmp_path / "s.jsonl"
    write_stream(stream)
    producers: list[FakeProducer] = []
    sleeps: list[float] = []

    def factory(**config: Any) -> FakeProducer:
        producers.append(FakeProducer(**config))
        return producers[-1]

    stats = replay(
        stream, bootstrap="127.0.0.1:1", speed=600.0, sleep=sleeps.append, producer_factory=factory
    )
    assert stats.sent == 4
    assert [k for _, k, _ in producers[0].sent] == [b"a", None, b"b", b"c"]
    # 10 and 20 minutes of event time at 600x are due 1 s and 2 s after the start; the fake sleep
    # does not move the clock, so each wait is measured from the start
    assert len(sleeps) == 2
    assert 0.9 < sleeps[0] <= 1.0 and 1.9 < sleeps[1] <= 2.0
    assert producers[0].config["acks"] == "all"


def test_replay_limit(tmp_path: Path) -> None:
    stream = tmp_path / "s.jsonl"
    write_stream(stream)
    made: list[FakeProducer] = []

    def factory(**config: Any) -> FakeProducer:
        made.append(FakeProducer(**config))
        return made[-1]

    stats = replay(stream, bootstrap="x", limit=2, producer_factory=factory)
    assert stats.sent == 2 and len(made[0].sent) == 2
