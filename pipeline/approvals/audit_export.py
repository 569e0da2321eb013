"""``tocsin audit export``: the approvals audit topic as CSV or JSON Lines, for auditors.

Reads ``responses.audit`` from the beginning with a plain kafka-python consumer (no consumer
group: an export must not move anyone's offsets) up to the end offsets seen when it started, so
the export is a consistent snapshot and terminates even while the worker keeps appending. A
``--timeout`` bounds the whole read: a broker that stops answering is an error, not a hang.
The record shape and the CSV/JSON writing live in :mod:`pipeline.approvals.audit`.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import IO, Any

import click

from pipeline.approvals.audit import export
from pipeline.cli_options import bootstrap_option, require_kafka_login
from pipeline.kafka_clients import client_config
from pipeline.settings_kafka import KafkaSettings, kafka_settings
from pipeline.topology import AUDIT


def _entry_of(raw: bytes) -> dict[str, Any]:
    """The audit entry dict in one message (an AuditRecord wrapper or a bare entry)."""
    value = json.loads(raw)
    value.pop("__faust", None)
    entry = value.get("entry", value)
    if not isinstance(entry, dict):
        raise ValueError("audit message without an entry")
    return entry


def read_audit(
    bootstrap: str,
    topic: str = AUDIT.name,
    *,
    timeout_s: float = 30.0,
    consumer_factory: Callable[..., Any] | None = None,
    kafka: KafkaSettings | None = None,
) -> Iterator[dict[str, Any]]:
    """Every audit entry on ``topic`` up to its end offsets at call time, partition by partition.

    Raises TimeoutError if the snapshot cannot be read within ``timeout_s`` and LookupError if the
    topic does not exist. ``kafka``: TLS and SASL (default: the ``TOCSIN_KAFKA_*`` settings).
    """
    from kafka import KafkaConsumer, TopicPartition

    factory = consumer_factory or KafkaConsumer
    consumer = factory(
        bootstrap_servers=bootstrap,
        **client_config(kafka or kafka_settings()),
        group_id=None,
        enable_auto_commit=False,
        request_timeout_ms=int(min(timeout_s, 30.0) * 1000) + 1000,
    )
    try:
        deadline = time.monotonic() + timeout_s
        partitions = consumer.partitions_for_topic(topic)
        while not partitions and time.monotonic() < deadline:
            time.sleep(0.2)  # metadata may not be loaded on the first call
            partitions = consumer.partitions_for_topic(topic)
        if not partitions:
            raise LookupError(f"topic {topic!r} not found on {bootstrap}")
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        end = consumer.end_offsets(tps)
        remaining = {tp for tp in tps if consumer.position(tp) < end[tp]}
        while remaining:
            if time.monotonic() > deadline:
                raise TimeoutError(f"audit export did not finish within {timeout_s:.0f} s")
            batch = consumer.poll(timeout_ms=500)
            for tp, messages in batch.items():
                for message in messages:
                    if message.offset < end[tp]:
                        yield _entry_of(message.value)
            remaining = {tp for tp in remaining if consumer.position(tp) < end[tp]}
    finally:
        consumer.close()


def _since(_ctx: click.Context, _param: click.Parameter, value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter("use ISO 8601, e.g. 2026-11-22 or 2026-11-22T16:00Z") from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


@click.group("audit")
def audit() -> None:
    """The approvals audit log (topic responses.audit)."""


@audit.command("export")
@bootstrap_option
@click.option("--topic", default=AUDIT.name, show_default=True, help="audit topic to read")
@click.option("--since", callback=_since, help="only entries at or after this ISO time (UTC)")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "json"]),
    default="json",
    show_default=True,
    help="CSV with a header, or JSON Lines",
)
@click.option(
    "-o",
    "--output",
    type=click.File("w", encoding="utf-8"),
    default="-",
    help="file to write (default: stdout)",
)
@click.option(
    "--timeout",
    "timeout_s",
    type=float,
    default=30.0,
    show_default=True,
    help="give up after this many seconds",
)
def export_cmd(
    bootstrap: str,
    topic: str,
    since: datetime | None,
    fmt: str,
    output: IO[str],
    timeout_s: float,
) -> None:
    """Write the audit log (who, what, when, from where, the exact text approved)."""
    require_kafka_login("audit export", bootstrap)
    try:
        count = export(
            read_audit(bootstrap, topic, timeout_s=timeout_s),
            output,
            "csv" if fmt == "csv" else "json",
            since=since,
        )
    except (TimeoutError, LookupError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{count} audit entries exported", err=True)
    if output is not sys.stdout:
        output.flush()
