"""pipeline.ops.topics without a broker: argument checks, and failing fast when none answers."""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import pytest

from pipeline.ops.topics import (
    BrokerUnavailable,
    PartitionCountMismatch,
    TopicAdminError,
    ensure_topics,
    wait_for_broker,
)
from pipeline.topology import TopicSpec


@pytest.fixture
def closed_port() -> int:
    """A loopback port nobody listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize(
    ("specs", "kwargs", "error", "match"),
    [
        ([TopicSpec("a"), TopicSpec("a", partitions=2)], {}, ValueError, "listed twice"),
        ([TopicSpec("a", partitions=0)], {}, ValueError, "partitions must be at least 1"),
        ([TopicSpec("")], {}, ValueError, "empty name"),
        ([TopicSpec("a")], {"replication_factor": 0}, ValueError, "replication_factor"),
        ([TopicSpec("a")], {"timeout_s": 0}, ValueError, "timeout_s"),
        (["mentions"], {}, TypeError, "expected TopicSpec"),
    ],
)
def test_ensure_topics_rejects_bad_arguments_before_connecting(
    closed_port: int, specs: list[Any], kwargs: dict[str, Any], error: type[Exception], match: str
) -> None:
    started = time.monotonic()
    with pytest.raises(error, match=match):
        ensure_topics(f"127.0.0.1:{closed_port}", specs, **kwargs)
    # No connection attempt (which would wait for the deadline) was made.
    assert time.monotonic() - started < 1.0


def test_ensure_topics_with_no_specs_does_nothing(closed_port: int) -> None:
    result = ensure_topics(f"127.0.0.1:{closed_port}", [], timeout_s=5)
    assert result.created == () and result.existing == ()


def test_ensure_topics_accepts_a_generator(closed_port: int) -> None:
    # A one-shot iterable is read once: validation and creation see the same specs.
    specs = (TopicSpec(name) for name in ["a", "a"])
    with pytest.raises(ValueError, match="listed twice"):
        ensure_topics(f"127.0.0.1:{closed_port}", specs)


def test_ensure_topics_without_broker_raises_broker_unavailable(closed_port: int) -> None:
    started = time.monotonic()
    with pytest.raises(BrokerUnavailable, match=f"127.0.0.1:{closed_port}"):
        ensure_topics(f"127.0.0.1:{closed_port}", [TopicSpec("a")], timeout_s=1.5)
    elapsed = time.monotonic() - started
    assert 1.0 <= elapsed < 10.0


def test_wait_for_broker_times_out(closed_port: int) -> None:
    started = time.monotonic()
    with pytest.raises(BrokerUnavailable):
        wait_for_broker(f"127.0.0.1:{closed_port}", timeout_s=1.0)
    assert time.monotonic() - started < 10.0
    with pytest.raises(ValueError, match="timeout_s"):
        wait_for_broker(f"127.0.0.1:{closed_port}", timeout_s=0)


def test_partition_mismatch_message_names_topic_and_counts() -> None:
    err = PartitionCountMismatch({"mentions": (4, 2), "alerts": (4, 8)})
    assert isinstance(err, TopicAdminError)
    text = str(err)
    assert "'mentions' has 2 partitions, Tocsin expects 4" in text
    assert "'alerts' has 8 partitions, Tocsin expects 4" in text
    assert err.mismatches == {"mentions": (4, 2), "alerts": (4, 8)}


def test_failed_bootstrap_leaves_no_client_thread_behind() -> None:
    # A port that accepts TCP but never answers Kafka requests: kafka-python's constructor
    # fails after starting its network thread, which pipeline.ops.topics must stop.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        before = {t.ident for t in threading.enumerate()}
        with pytest.raises(BrokerUnavailable, match="bootstrap"):
            wait_for_broker(f"127.0.0.1:{port}", timeout_s=1.5)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            leftover = [t for t in threading.enumerate() if t.ident not in before]
            if not leftover:
                break
            time.sleep(0.1)
        assert leftover == []
