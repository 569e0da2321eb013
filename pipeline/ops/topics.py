"""Create Tocsin's Kafka topics up front, with the partition counts that ``pipeline.topology`` sets.

Why up front, instead of letting the broker or Faust create topics on first use:

* A Faust table is co-partitioned with the stream that feeds it: partition *n* of the source topic
  and partition *n* of the table's changelog hold the same keys. If ``mentions.classified`` were
  auto-created on first produce it would get the broker's ``num.partitions``, not the count the
  topology chose, and the windowed counts would silently be split across workers the wrong way.
* A topic's partition count cannot be lowered, and raising it re-maps keys to partitions. So an
  existing topic with another count is an operator decision, never something to "fix" quietly:
  ``ensure_topics`` refuses with :class:`PartitionCountMismatch` naming every topic that differs.
* Creating before any worker starts makes a fresh demo, a test and a production rollout take the
  same path, and keeps the broker's auto-creation only for Faust's own internal topics.

Errors::

    TopicAdminError                 base class: anything this module raises on purpose
     +-- BrokerUnavailable          no broker answered a metadata request in time
     +-- PartitionCountMismatch     an existing topic has another partition count than its spec
     +-- TopicCreationFailed        the broker refused to create a topic (name, config, replicas)
    KafkaLoginFailed                (pipeline.errors) the broker refused the TLS handshake or login

The functions are synchronous (kafka-python's admin client); from async code call them through
``asyncio.to_thread``. Every call has an overall deadline, ``timeout_s``.
"""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kafka import KafkaAdminClient
from kafka.admin import ConfigResource, ConfigResourceType
from kafka.errors import KafkaError, TopicAlreadyExistsError
from kafka.errors import for_code as kafka_error_for_code

from pipeline.errors import TocsinError
from pipeline.kafka_clients import check_login, client_config
from pipeline.settings_kafka import KafkaSettings, kafka_settings
from pipeline.topology import TopicSpec, owned_topics

_CLIENT_ID = "tocsin-admin"
# Pause between two attempts to reach a broker that is not up yet.
_RETRY_PAUSE_S = 0.25


class TopicAdminError(TocsinError):
    """Base class for the errors this module raises on purpose."""


class BrokerUnavailable(TopicAdminError):
    """No broker at the bootstrap address answered a metadata request before the deadline."""


class TopicCreationFailed(TopicAdminError):
    """The broker refused to create one or more topics; the message has the broker's reasons."""


class PartitionCountMismatch(TopicAdminError):
    """An existing topic has a different partition count than its spec.

    ``mismatches`` maps each such topic to ``(expected, actual)``. Tocsin never changes the count
    itself: fewer partitions are impossible, more re-map keys, so an operator has to decide.
    """

    def __init__(self, mismatches: Mapping[str, tuple[int, int]]) -> None:
        self.mismatches = dict(mismatches)
        details = ", ".join(
            f"{name!r} has {actual} partitions, Tocsin expects {expected}"
            for name, (expected, actual) in sorted(self.mismatches.items())
        )
        super().__init__(
            f"existing Kafka topics do not match pipeline/topology.py: {details}. "
            "Set TOCSIN_KAFKA_PARTITIONS to the topics' count, or grow them on purpose "
            "(docs/operations.md, Partitions)."
        )


@dataclass(frozen=True)
class EnsureResult:
    """What ``ensure_topics`` did: topics it created, topics that were already there, and
    existing topics whose retention it set to the spec's."""

    created: tuple[str, ...]
    existing: tuple[str, ...]
    retention_set: tuple[str, ...] = ()


def _validate(specs: Sequence[TopicSpec], replication_factor: int, timeout_s: float) -> None:
    """Reject bad arguments before any network call, so mistakes fail fast and clearly."""
    if timeout_s <= 0:
        raise ValueError(f"timeout_s must be positive, got {timeout_s!r}")
    if replication_factor < 1:
        raise ValueError(f"replication_factor must be at least 1, got {replication_factor!r}")
    seen: set[str] = set()
    for spec in specs:
        if not isinstance(spec, TopicSpec):
            raise TypeError(f"expected TopicSpec, got {type(spec).__name__}: {spec!r}")
        if not spec.name:
            raise ValueError("a TopicSpec has an empty name")
        if spec.partitions < 1:
            raise ValueError(
                f"topic {spec.name!r}: partitions must be at least 1, got {spec.partitions}"
            )
        if spec.name in seen:
            raise ValueError(f"topic {spec.name!r} is listed twice")
        seen.add(spec.name)


def _accepts_tcp(bootstrap: str, timeout_s: float) -> bool:
    """True if some ``host:port`` of a comma-separated bootstrap list accepts a TCP connection."""
    for address in bootstrap.split(","):
        host, _, port = address.strip().rpartition(":")
        try:
            with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s):
                return True
        except (OSError, ValueError):
            continue
    return False


def _open_admin(config: Mapping[str, Any]) -> KafkaAdminClient:
    """Build a KafkaAdminClient, and clean up after it if its constructor fails.

    kafka-python 3.0 starts its network thread in ``__init__`` before the bootstrap, and a
    failed bootstrap raises without stopping that thread (it keeps reconnecting for ever). So
    the object is built in two steps and a half-built one is stopped here.
    """
    admin = KafkaAdminClient.__new__(KafkaAdminClient)
    try:
        admin.__init__(**config)
    except BaseException:
        # Best effort: the constructor's own error is the one worth raising.
        for part, method in (("_client", "close"), ("_net", "stop")):
            stop = getattr(getattr(admin, part, None), method, None)
            if stop is not None:
                with contextlib.suppress(Exception):
                    stop()
        raise
    return admin


def _connect(bootstrap: str, deadline: float, kafka: KafkaSettings | None) -> KafkaAdminClient:
    """Open an admin client, retrying until ``deadline`` while the broker is not up yet.

    A plain TCP probe runs first: kafka-python 3.0 leaks the socket of a refused connection, so
    the client is only built once the port accepts connections. ``kafka`` (default: the
    ``TOCSIN_KAFKA_*`` settings) gives the connection's TLS and SASL.
    """
    auth = client_config(kafka or kafka_settings())
    last_error: Exception | str = "nothing listening"
    while True:
        remaining_s = deadline - time.monotonic()
        if remaining_s <= 0:
            raise BrokerUnavailable(
                f"no Kafka broker answered at {bootstrap} in time (last error: {last_error})"
            )
        if _accepts_tcp(bootstrap, min(remaining_s, 2.0)):
            # A refused TLS handshake or login raises KafkaLoginFailed here, at once: the
            # admin client would retry it until the deadline and report only a timeout.
            check_login(bootstrap, kafka or kafka_settings(), min(remaining_s, 10.0))
            remaining_ms = max(int((deadline - time.monotonic()) * 1000), 1)
            try:
                return _open_admin(
                    {
                        "bootstrap_servers": bootstrap,
                        "client_id": _CLIENT_ID,
                        "bootstrap_timeout_ms": remaining_ms,
                        "request_timeout_ms": min(remaining_ms, 30_000),
                        **auth,
                    }
                )
            except (KafkaError, OSError) as exc:
                last_error = exc
        time.sleep(min(_RETRY_PAUSE_S, max(deadline - time.monotonic(), 0)))


def wait_for_broker(
    bootstrap: str, timeout_s: float = 30.0, *, kafka: KafkaSettings | None = None
) -> None:
    """Block until a broker at ``bootstrap`` lists at least one live broker in its metadata.

    Raises :class:`BrokerUnavailable` after ``timeout_s`` seconds.
    """
    if timeout_s <= 0:
        raise ValueError(f"timeout_s must be positive, got {timeout_s!r}")
    deadline = time.monotonic() + timeout_s
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        admin = _connect(bootstrap, deadline, kafka)  # raises BrokerUnavailable at the deadline
        try:
            cluster: Mapping[str, Any] = admin.describe_cluster()
            if cluster.get("brokers"):
                return
            last_error = TopicAdminError("the broker's metadata lists no brokers yet")
        except (KafkaError, OSError) as exc:
            last_error = exc
        finally:
            admin.close()
        time.sleep(min(_RETRY_PAUSE_S, max(deadline - time.monotonic(), 0)))
    raise BrokerUnavailable(f"no Kafka broker ready at {bootstrap} in time (last: {last_error})")


def _partition_counts(admin: KafkaAdminClient, names: Iterable[str]) -> dict[str, int]:
    """Partition count of each of ``names`` that exists; unknown topics are left out.

    Only names the broker lists are described, so this never triggers auto-creation.
    """
    listed = set(admin.list_topics())
    wanted = [name for name in names if name in listed]
    if not wanted:
        return {}
    counts: dict[str, int] = {}
    for topic in admin.describe_topics(wanted):
        if topic.get("error_code", 0) == 0:
            counts[str(topic["name"])] = len(topic.get("partitions") or [])
    return counts


def _mismatches(
    specs: Iterable[TopicSpec], counts: Mapping[str, int]
) -> dict[str, tuple[int, int]]:
    return {
        spec.name: (spec.partitions, counts[spec.name])
        for spec in specs
        if spec.name in counts and counts[spec.name] != spec.partitions
    }


def _create(
    admin: KafkaAdminClient, specs: Sequence[TopicSpec], replication_factor: int, timeout_ms: int
) -> list[str]:
    """Ask the controller to create ``specs``; return the names it created.

    "Already exists" is not an error: another process may have created the topic since we
    looked, and the caller re-checks partition counts afterwards.
    """
    request = {
        spec.name: {
            "num_partitions": spec.partitions,
            "replication_factor": replication_factor,
            "configs": dict(spec.config),
        }
        for spec in specs
    }
    response: Mapping[str, Any] = admin.create_topics(
        request, timeout_ms=timeout_ms, raise_errors=False
    )
    created: list[str] = []
    failures: list[str] = []
    for topic in response.get("topics", []):
        name = str(topic["name"])
        code = int(topic.get("error_code", 0))
        if code == 0:
            created.append(name)
        elif kafka_error_for_code(code) is not TopicAlreadyExistsError:
            reason = topic.get("error_message") or kafka_error_for_code(code).__name__
            failures.append(f"{name!r}: {reason}")
    if failures:
        raise TopicCreationFailed("Kafka refused to create topics: " + "; ".join(failures))
    return created


def topic_configs(admin: KafkaAdminClient, names: Sequence[str]) -> dict[str, dict[str, str]]:
    """The topic-level overrides (non-default values) the broker holds for each of ``names``."""
    if not names:
        return {}
    described = admin.describe_configs(
        [ConfigResource(ConfigResourceType.TOPIC, name) for name in names]
    )
    topics: Mapping[str, Mapping[str, Mapping[str, Any]]] = described.get("topic", {})
    return {
        name: {key: str(entry.get("value")) for key, entry in topics.get(name, {}).items()}
        for name in names
    }


def _align_retention(
    admin: KafkaAdminClient, specs: Sequence[TopicSpec], deadline: float
) -> list[str]:
    """Set ``retention.ms`` on existing topics whose value differs from their spec's.

    Retention is a privacy setting (``TOCSIN_MENTIONS_RETENTION_DAYS``): a changed value must
    reach topics created before the change. Only that key is set (an incremental alter), so an
    operator's other overrides stay. The controller acknowledges before the broker serves the
    new value (KRaft applies config records asynchronously), so this waits until it does.
    """
    wanted = {s.name: s.config["retention.ms"] for s in specs if "retention.ms" in s.config}

    def stale() -> list[str]:
        held = topic_configs(admin, list(wanted))
        return [name for name, ms in wanted.items() if held[name].get("retention.ms") != ms]

    changed = stale()
    if not changed:
        return []
    results = admin.alter_configs(
        [
            ConfigResource(ConfigResourceType.TOPIC, name, configs={"retention.ms": wanted[name]})
            for name in changed
        ]
    )
    refused = {n: r for n, r in results.get("topic", {}).items() if str(r) != "OK"}
    if refused:
        raise TopicAdminError(f"Kafka refused to set retention.ms: {refused}")
    while stale():
        if time.monotonic() >= deadline:
            raise TopicAdminError(f"retention.ms not applied in time on {', '.join(stale())}")
        time.sleep(_RETRY_PAUSE_S)
    return changed


def ensure_topics(
    bootstrap: str,
    specs: Iterable[TopicSpec] | None = None,
    timeout_s: float = 30.0,
    *,
    replication_factor: int = 1,
    kafka: KafkaSettings | None = None,
) -> EnsureResult:
    """Create every topic of ``specs`` that is missing, with its spec's partition count and config.

    ``specs`` defaults to :func:`pipeline.topology.owned_topics` at the default retention.
    Idempotent: topics that already exist with the right partition count keep their config,
    except ``retention.ms``, which is set to the spec's where it differs. Raises
    :class:`PartitionCountMismatch` before creating anything if an existing topic has another
    count, :class:`TopicCreationFailed` if the broker refuses a topic, :class:`BrokerUnavailable`
    if no broker answers within ``timeout_s`` seconds. ``replication_factor`` is 1 for the single
    local broker; a production cluster passes 3. ``kafka`` gives the
    connection's TLS and SASL (default: the ``TOCSIN_KAFKA_*`` settings).
    """
    spec_list = tuple(owned_topics() if specs is None else specs)
    _validate(spec_list, replication_factor, timeout_s)
    if not spec_list:
        return EnsureResult(created=(), existing=())
    deadline = time.monotonic() + timeout_s
    names = [spec.name for spec in spec_list]

    admin = _connect(bootstrap, deadline, kafka)
    try:
        before = _partition_counts(admin, names)
        mismatched = _mismatches(spec_list, before)
        if mismatched:
            raise PartitionCountMismatch(mismatched)

        missing = [spec for spec in spec_list if spec.name not in before]
        present = [spec for spec in spec_list if spec.name in before]
        retention_set = _align_retention(admin, present, deadline)
        created: list[str] = []
        if missing:
            remaining_ms = max(int((deadline - time.monotonic()) * 1000), 1)
            created = _create(admin, missing, replication_factor, remaining_ms)
            # Creation is acknowledged before every partition has a leader (KRaft propagates
            # metadata asynchronously); wait so callers can produce at once.
            remaining_ms = max(int((deadline - time.monotonic()) * 1000), 1)
            admin.wait_for_topics(names, timeout_ms=remaining_ms)
            # A topic created concurrently by someone else must still have the right count.
            mismatched = _mismatches(spec_list, _partition_counts(admin, names))
            if mismatched:
                raise PartitionCountMismatch(mismatched)
    except KafkaError as exc:
        raise TopicAdminError(f"Kafka admin request to {bootstrap} failed: {exc}") from exc
    finally:
        admin.close()

    existing = tuple(name for name in names if name not in created)
    return EnsureResult(
        created=tuple(created), existing=existing, retention_set=tuple(retention_set)
    )
