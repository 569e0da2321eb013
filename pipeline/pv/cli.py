"""``tocsin pv ...``: pharmacovigilance commands."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click

from pipeline.pv.export import cases_cli
from pipeline.pv.triage import AUTHOR_FIELDS, DEFAULT_BRANDS


@click.group("pv")
def pv() -> None:
    """Pharmacovigilance: assess mentions as possible adverse-event case reports."""


@pv.command("triage")
@click.option(
    "--input",
    "source",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="CSV with a `text` column, or JSONL with a `text` field; other columns/fields are kept. "
    f"An author column/field ({', '.join(AUTHOR_FIELDS)}) makes the reporter identifiable.",
)
@click.option(
    "--output",
    "dest",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write results; .csv or .jsonl (written atomically). In CSV the `case` column "
    "is a JSON string; in JSONL `case` is a nested object.",
)
@click.option(
    "--format",
    "in_format",
    type=click.Choice(["auto", "csv", "jsonl"]),
    default="auto",
    show_default=True,
    help="Input format; auto = from the input file's suffix.",
)
@click.option(
    "--brands",
    "brands_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=DEFAULT_BRANDS,
    show_default=True,
    help="Brand catalogue whose products (and their generic names) are suspect products.",
)
@click.option("--batch-size", default=32, show_default=True, type=click.IntRange(1, 1024))
@click.option(
    "--artefacts",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=None,
    help="Classifier artefact folder. [default: the built folder for the bundled corpus]",
)
def triage_cmd(
    source: Path,
    dest: Path,
    in_format: str,
    brands_file: Path,
    batch_size: int,
    artefacts: Path | None,
) -> None:
    """Classify a file of mentions and triage each one as a possible adverse-event case.

    Per row: the input's columns/fields, the classifier's output as `tocsin classify` gives it
    (line, id, text, topics/labels, scores, stance, lang) and `case`:
    {"valid": bool, "criteria": {"reporter", "patient", "product", "reaction": bool},
    "product": name or null, "reactions": [preferred terms], "serious": bool, "seriousness":
    [death, life_threatening, hospitalisation, disability, congenital_anomaly,
    other_medically_important]}. Every row is triaged, whatever its topics. Triage is
    the rules of pipeline/pv, with what logistic heads over the classifier's sentence
    embedding add (models/pvhead.py; built on first use, then cached). Skipped rows are
    reported on stderr; a JSON summary on stdout.
    """
    from models.classifier import THREADS_ENV, ArtefactsMissingError, load_classifier
    from models.classify_file import InputFormatError, describe
    from models.pvbuild import attach_pv_head
    from pipeline.errors import ConfigError
    from pipeline.pv.triage import Triage
    from pipeline.pv.triage_file import triage_file

    try:
        triage = Triage.default(brands_file)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    try:
        clf = load_classifier(artefacts, threads=int(os.environ.get(THREADS_ENV, 2)))
    except ArtefactsMissingError as exc:
        raise click.ClickException(str(exc)) from exc
    attach_pv_head(clf, progress=lambda m: click.echo(m, err=True))
    try:
        summary = triage_file(source, dest, clf, triage, in_format=in_format, batch_size=batch_size)
    except InputFormatError as exc:
        raise click.ClickException(str(exc)) from exc
    for skip in summary.reported:
        click.echo(f"{source}:{skip.line}: skipped ({skip.kind}): {skip.detail}", err=True)
    for line in describe(summary):
        click.echo(line, err=True)
    click.echo(json.dumps({"output": str(dest), **summary.as_dict()}))
    sys.stdout.flush()


pv.add_command(cases_cli)
