"""``tocsin pv cases export``: the cases on ``pv.cases`` as CSV or JSON, for the safety team.

The topic is read as a snapshot (:func:`pipeline.snapshot.read_snapshot`) and its events folded
with :func:`pipeline.pv.cases.apply_event`, the same rule the ``cases`` table follows, so the
export shows each case as the worker holds it. Rows carry the minimum data elements of a case
report that a mention can give: the case and its clocks (the earliest, and one per region), the
four criteria and what is missing, the suspect product, the reactions, seriousness, what is
known of the patient, the reporter (the author's pseudonym and key id, see
``pipeline/ingest/pseudonyms.py``), the source (id, URL, platform, language, text) and the
follow-up notes. An event that cannot apply is skipped and counted, as the table skips it.

E2B(R3) XML is not written: no ICH E2B(R3) schema is available from a registry package to
validate it against, and unvalidated XML would be worse than none (docs/pv.md).
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Iterable, Mapping
from typing import IO, Any

import click

from pipeline.cli_options import bootstrap_option
from pipeline.pv.cases import STATUSES, CaseError, apply_event
from pipeline.snapshot import read_snapshot
from pipeline.topology import CASES

#: CSV columns, in order (lists joined with "; ", the patient and notes as JSON).
COLUMNS = (
    "case_id",
    "status",
    "valid",
    "missing",
    "serious",
    "seriousness",
    "product",
    "reactions",
    "patient",
    "received_at",
    "day_zero",
    "due",
    "deadline",
    "due_region",
    "clocks",
    "timezone",
    "reporter",
    "reporter_key",
    "source_id",
    "source_url",
    "platform",
    "lang",
    "brand",
    "text",
    "notes",
)


def fold(events: Iterable[Mapping[str, Any]]) -> tuple[dict[str, dict[str, Any]], int]:
    """The cases the events build (by id, in first-opened order) and how many were skipped."""
    cases: dict[str, dict[str, Any]] = {}
    skipped = 0
    for event in events:
        key = str(event.get("case_id", ""))
        try:
            cases[key] = apply_event(cases.get(key), event)
        except (CaseError, KeyError, TypeError):
            skipped += 1
    return cases, skipped


def row(case: Mapping[str, Any]) -> dict[str, Any]:
    """One case's minimum data elements, flat (the JSON export keeps lists as lists)."""
    mention: Mapping[str, Any] = case.get("mention") or {}
    return {
        "case_id": case["case_id"],
        "status": case["status"],
        "valid": case["valid"],
        "missing": list(case.get("missing", [])),
        "serious": case["serious"],
        "seriousness": list(case.get("seriousness", [])),
        "product": case.get("product"),
        "reactions": list(case.get("reactions", [])),
        "patient": dict(case.get("patient", {})),
        "received_at": case["received_at"],
        "day_zero": case["day_zero"],
        "due": case.get("due"),
        "deadline": case.get("deadline"),
        "due_region": case.get("due_region"),
        "clocks": list(case.get("clocks", [])),
        "timezone": case.get("timezone"),
        "reporter": mention.get("author"),
        "reporter_key": mention.get("author_key"),
        "source_id": mention.get("id"),
        "source_url": mention.get("url"),
        "platform": mention.get("platform"),
        "lang": mention.get("lang"),
        "brand": mention.get("brand"),
        "text": mention.get("text"),
        "notes": list(case.get("notes", [])),
    }


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return "; ".join(value)
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def write(cases: Iterable[Mapping[str, Any]], out: IO[str], fmt: str) -> int:
    """Write ``cases`` as ``csv`` (a header, one row each) or ``json`` (one array); the count."""
    rows = [row(c) for c in cases]
    if fmt == "csv":
        writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        for r in rows:
            writer.writerow({k: _cell(v) for k, v in r.items()})
    elif fmt == "json":
        json.dump(rows, out, ensure_ascii=False, indent=1)
        out.write("\n")
    else:
        raise ValueError(f"unknown export format {fmt!r}")
    return len(rows)


def events_of(messages: Iterable[Any]) -> Iterable[dict[str, Any]]:
    """Case events (plain dicts) from the topic's records; undecodable ones as empty dicts."""
    for message in messages:
        try:
            value = json.loads(message.value)
        except (TypeError, ValueError):
            yield {}
            continue
        if isinstance(value, dict):
            value.pop("__faust", None)
            yield value
        else:
            yield {}


@click.group("cases")
def cases_cli() -> None:
    """Pharmacovigilance cases (topic pv.cases)."""


@cases_cli.command("export")
@bootstrap_option
@click.option("--topic", default=CASES.name, show_default=True, help="case events topic to read")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "json"]),
    default="json",
    show_default=True,
    help="CSV with a header (lists joined by '; '), or one JSON array",
)
@click.option(
    "--status",
    "statuses",
    multiple=True,
    type=click.Choice(STATUSES),
    help="only cases in this status (repeatable; default: all)",
)
@click.option(
    "-o",
    "--output",
    type=click.File("w", encoding="utf-8"),
    default="-",
    help="file to write (default: stdout)",
)
@click.option(
    "--timeout", "timeout_s", type=float, default=30.0, show_default=True, help="give up after"
)
def export_cmd(
    bootstrap: str,
    topic: str,
    fmt: str,
    statuses: tuple[str, ...],
    output: IO[str],
    timeout_s: float,
) -> None:
    """Write every case as the worker holds it (the minimum data elements of each report)."""
    try:
        folded, skipped = fold(events_of(read_snapshot(bootstrap, topic, timeout_s=timeout_s)))
    except (TimeoutError, LookupError) as exc:
        raise click.ClickException(str(exc)) from None
    chosen = [c for c in folded.values() if not statuses or c["status"] in statuses]
    count = write(chosen, output, fmt)
    note = f" ({skipped} events could not apply)" if skipped else ""
    click.echo(f"{count} cases exported{note}", err=True)
    if output is not sys.stdout:
        output.flush()
