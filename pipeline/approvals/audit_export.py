"""``tocsin audit export``: the approvals audit topic as CSV or JSON Lines, for auditors.

Reads ``responses.audit`` as a snapshot (:func:`pipeline.snapshot.read_snapshot`: no consumer
group, up to the end offsets seen when it started, bounded by ``--timeout``).
The record shape and the CSV/JSON writing live in :mod:`pipeline.approvals.audit`.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import IO, Any

import click

from pipeline.approvals.audit import export
from pipeline.cli_options import bootstrap_option, require_kafka_login
from pipeline.settings_kafka import KafkaSettings
from pipeline.snapshot import read_snapshot
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
    """Every audit entry on ``topic`` up to its end offsets at call time (a snapshot).

    Raises TimeoutError if the snapshot cannot be read within ``timeout_s`` and LookupError if the
    topic does not exist. ``kafka``: TLS and SASL (default: the ``TOCSIN_KAFKA_*`` settings).
    """
    for message in read_snapshot(
        bootstrap, topic, timeout_s=timeout_s, consumer_factory=consumer_factory, kafka=kafka
    ):
        yield _entry_of(message.value)


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
