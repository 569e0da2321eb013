"""``tocsin model ...``: build and evaluate the classifier artefacts.

The group is registered into the main ``tocsin`` CLI by the pipeline; heavy imports (torch,
transformers, onnxruntime) happen inside the commands so ``tocsin --help`` stays fast.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import click

from models.corpus import DEFAULT_CORPUS


def _echo_progress(message: str) -> None:
    click.echo(f"[{time.strftime('%H:%M:%S')}] {message}", err=True)


@click.group("model")
def model() -> None:
    """Build and evaluate the mention classifier (artefacts cached in $TOCSIN_CACHE/models)."""


@model.command("build")
@click.option("--force", is_flag=True, help="Rebuild every step even if artefacts exist.")
@click.option(
    "--out",
    "out_root",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder to build into. [default: $TOCSIN_CACHE/models]",
)
@click.option(
    "--corpus",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help=f"Training corpus (JSONL). [default: {DEFAULT_CORPUS.name} bundled with models/]",
)
def build_cmd(force: bool, out_root: Path | None, corpus: Path | None) -> None:
    """Rebuild the backbone, export int8 ONNX, train the head; print the artefact folder.

    The backbone is multilingual-e5-small unless [env: TOCSIN_MODEL] names a local checkpoint
    folder or a hub id. Needs the `build` extra (torch).
    """
    from models.build import build_artefacts

    path = build_artefacts(out_root, force=force, progress=_echo_progress, corpus=corpus)
    click.echo(str(path))


@model.command("eval")
@click.option("--json", "as_json", is_flag=True, help="Print a machine-readable JSON report.")
@click.option(
    "--artefacts",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=None,
    help="Artefact folder. [default: the built folder for the bundled corpus]",
)
@click.option(
    "--corpus",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Corpus whose split=test rows are scored. [default: the bundled corpus]",
)
def eval_cmd(as_json: bool, artefacts: Path | None, corpus: Path | None) -> None:
    """Per-topic P/R/F1 and macro-F1, per language, on the held-out test split."""
    from models.classifier import (
        ArtefactsMissingError,
        default_artefact_dir,
        load_classifier,
        read_meta,
    )
    from models.corpus import load_corpus
    from models.evaluate import evaluate, format_report

    try:
        folder = default_artefact_dir() if artefacts is None else artefacts
        clf = load_classifier(folder)
    except ArtefactsMissingError as exc:
        raise click.ClickException(str(exc)) from exc
    topics = read_meta(folder)["topics"]
    report = evaluate(clf, load_corpus(corpus or DEFAULT_CORPUS), topics)
    if as_json:
        json.dump(report, sys.stdout, indent=2, ensure_ascii=False)
        click.echo()
    else:
        click.echo(format_report(report))


@model.command("bench")
@click.option("--seconds", default=5.0, show_default=True, help="Measuring time per batch size.")
@click.option(
    "--threads",
    type=int,
    default=None,
    help="ONNX Runtime intra-op threads. [env: TOCSIN_MODEL_THREADS; default 2]",
)
@click.option(
    "--artefacts",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=None,
    help="Artefact folder. [default: the built folder for the bundled corpus]",
)
def bench_cmd(seconds: float, threads: int | None, artefacts: Path | None) -> None:
    """Raw model texts/s and p50/p99 latency at batch 1/8/32, load time and RSS (JSON)."""
    from models.bench import bench_raw, rss_mb
    from models.classifier import ArtefactsMissingError, load_classifier

    t0 = time.perf_counter()
    try:
        clf = load_classifier(artefacts, threads=threads)
    except ArtefactsMissingError as exc:
        raise click.ClickException(str(exc)) from exc
    load = {"load_seconds": round(time.perf_counter() - t0, 2), "rss_after_load_mb": rss_mb()}
    report = {**load, **bench_raw(clf, seconds=seconds)}
    click.echo(json.dumps(report, indent=2))
