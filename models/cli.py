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

from models.cli_build import build_cmd
from models.cli_build import echo_progress as _echo_progress
from models.corpus import DEFAULT_CORPUS
from pipeline.cli_options import not_a_stream


@click.group("model")
def model() -> None:
    """Build and evaluate the mention classifier (artefacts cached in $TOCSIN_CACHE/models)."""


model.add_command(build_cmd)


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
@click.option(
    "--input",
    "source",
    callback=not_a_stream,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Any labelled CSV/JSONL (`text`, `topics`, optional `lang`, `stance`, `id`, `area`); "
    "GUIDELINES.md §9 placeholders are filled, once per --fill pool. Replaces --corpus.",
)
@click.option(
    "--fill",
    "fills",
    type=click.Choice(["fictional", "real"]),
    multiple=True,
    help="With --input: name pool(s) for placeholders. [default: both, reported per fill]",
)
@click.option(
    "--split",
    type=click.Choice(["all", "train", "validation"]),
    default="all",
    show_default=True,
    help="With --input: only the rows of a Corpus 2.0 id-hash split (validation = not trained on).",
)
@click.option(
    "--reliability-plot",
    "plot",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="With --input: also draw the reliability diagram per topic to this .png or .svg "
    "(needs the `plot` extra, matplotlib).",
)
def eval_cmd(
    as_json: bool,
    artefacts: Path | None,
    corpus: Path | None,
    source: Path | None,
    fills: tuple[str, ...],
    split: str,
    plot: Path | None,
) -> None:
    """Per-topic P/R/F1 and macro-F1, per language, on the held-out test split (or --input).

    With --input, also the expected calibration error and a reliability table per topic (15
    equal-width score bins; models/calibration.py).
    """
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
    if source is not None:
        from models.corpus import CorpusError, load_labelled, row_split
        from models.evaluate import evaluate_file_rows, format_file_report

        try:
            rows = load_labelled(source)
        except CorpusError as exc:
            raise click.ClickException(str(exc)) from exc
        if split != "all":
            # the build's own rule (translation group, else id), so "validation" is never trained on
            rows = [r for r in rows if row_split(r) == split]
        try:
            rep = evaluate_file_rows(clf, rows, topics, fills or ("fictional", "real"))
        except ValueError as exc:
            raise click.ClickException(str(exc)) from exc
        rep["input"] = str(source)
        rep["split"] = split
        if plot is not None:
            try:
                from models.reliability_plot import plot_reliability
            except ImportError as exc:
                raise click.ClickException(f"--reliability-plot needs matplotlib: {exc}") from exc
            plot_reliability(rep, plot)
        if as_json:
            json.dump(rep, sys.stdout, indent=2, ensure_ascii=False)
            click.echo()
        else:
            click.echo(format_file_report(rep))
        return
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
    help="ONNX Runtime intra-op threads per model call. [env: TOCSIN_MODEL_THREADS; default 1]",
)
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=None,
    help="Model calls run side by side, as in the worker (models/serving.py). "
    "[env: TOCSIN_MODEL_WORKERS; default 2]",
)
@click.option(
    "--artefacts",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=None,
    help="Artefact folder. [default: the built folder for the bundled corpus]",
)
@click.option(
    "--texts",
    "n_texts",
    default=192,
    show_default=True,
    type=click.IntRange(0, 100_000),
    help="Distinct corpus texts for the raw-vs-agent passes (0 = skip them).",
)
@click.option(
    "--rounds",
    default=3,
    show_default=True,
    type=click.IntRange(1, 50),
    help="Rounds of raw / plain / repost passes (ratios are per round, medians reported).",
)
@click.option(
    "--repost-share",
    default=0.4,
    show_default=True,
    type=click.FloatRange(0.0, 0.95),
    help="Share of reposts in the repost stream.",
)
@click.option(
    "--broker",
    is_flag=True,
    help="Add the broker pass: a real broker and `tocsin worker` on a pre-loaded backlog "
    "(bench/classify_pass.py; run from the repository, ~3 min).",
)
@click.option(
    "--cached-copies",
    default=2,
    show_default=True,
    type=click.IntRange(0, 64),
    help="Broker pass: reposts of each plain text in the cached segment (no model calls); more "
    "copies make a longer segment and a steadier plumbing figure.",
)
@click.option(
    "--broker-texts",
    default=1600,
    show_default=True,
    type=click.IntRange(20, 100_000),
    help="Distinct corpus texts naming a tracked brand for the broker pass (half plain, half with "
    "reposts; then --cached-copies reposts of the plain half, which measure the pipeline without the "
    "model).",
)
@click.option(
    "--profile",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Broker pass: py-spy raw profile of the worker to this file (py-spy installed by hand).",
)
def bench_cmd(
    seconds: float,
    threads: int | None,
    workers: int | None,
    artefacts: Path | None,
    n_texts: int,
    repost_share: float,
    rounds: int,
    broker: bool,
    broker_texts: int,
    cached_copies: int,
    profile: Path | None,
) -> None:
    """Raw model vs the classify_mentions agent path, in one run (JSON on stdout).

    1. raw model texts/s and p50/p99 latency at batch 1/8/32, load time and RSS;
    2. on N distinct corpus texts: raw model texts/s at the agent's batch size, the agent path
       (Faust take batching, record decoding, repost cache, model thread, record serialisation)
       on a plain stream and on a stream with --repost-share reposts, and their ratios to raw
       (no Kafka sockets: models/pipeline_bench.py).
    3. with --broker: the same comparison through a real broker and a real `tocsin worker`
       (raw model before and after in its own process, worker CPU per mention; see
       bench/classify_pass.py).
    """
    import os

    from models.bench import bench_raw, rss_mb
    from models.classifier import ArtefactsMissingError, load_classifier
    from models.corpus import load_corpus
    from models.serving import WORKERS_ENV

    if workers is not None:  # read by every raw pass and by the broker pass's worker
        os.environ[WORKERS_ENV] = str(workers)
    t0 = time.perf_counter()
    try:
        clf = load_classifier(artefacts, threads=threads)
    except ArtefactsMissingError as exc:
        raise click.ClickException(str(exc)) from exc
    load = {"load_seconds": round(time.perf_counter() - t0, 2), "rss_after_load_mb": rss_mb()}
    report = {**load, **bench_raw(clf, seconds=seconds)}
    if n_texts:
        from models.pipeline_bench import bench_pipeline, branded

        _echo_progress(f"raw vs agent path on {n_texts} distinct corpus texts naming a brand...")
        texts = branded([e.text for e in load_corpus()])[:n_texts]
        pipe = bench_pipeline(clf, texts, repost_share=repost_share, rounds=rounds)
        report["pipeline"] = pipe
        report["rss_end_mb"] = round(rss_mb(), 1)
        med = pipe["median"]
        _echo_progress(
            f"median of {rounds} rounds: raw {med['raw_texts_per_s']} texts/s | agent plain "
            f"{med['plain_mentions_per_s']}/s = {med['plain_over_raw']:.2f}x raw | "
            f"{repost_share:.0%} reposts {med['reposts_mentions_per_s']}/s = "
            f"{med['reposts_over_raw']:.2f}x raw (CPU-time ratios {med['cpu_raw_over_plain']}"
            f" / {med['cpu_raw_over_reposts']})"
        )
    if broker:
        report["broker"] = _broker_pass(
            clf, artefacts, threads, broker_texts, repost_share, cached_copies, profile
        )
    click.echo(json.dumps(report, indent=2))


def _broker_pass(
    clf: object,
    artefacts: Path | None,
    threads: int | None,
    n_texts: int,
    repost_share: float,
    cached_copies: int,
    profile: Path | None,
) -> dict[str, object]:
    """The broker pass; the worker and the raw-model process get the same thread settings."""
    import os

    from models.classifier import THREADS_ENV, default_artefact_dir
    from models.corpus import load_corpus

    try:
        from bench.classify_pass import run_broker_pass, summary_lines
    except ImportError as exc:  # bench/ ships with the repository, not the installed package
        raise click.ClickException(
            f"--broker runs from the repository (PYTHONPATH): {exc}"
        ) from exc
    del clf  # the worker and the raw process load their own
    if threads is not None:
        os.environ[THREADS_ENV] = str(threads)
    folder = (artefacts or default_artefact_dir()).resolve()
    from models.pipeline_bench import branded

    texts = branded([e.text for e in load_corpus()])[:n_texts]
    _echo_progress(f"broker pass on {len(texts)} distinct corpus texts naming a brand...")
    result = run_broker_pass(
        texts,
        artefacts=folder,
        repost_share=repost_share,
        cached_copies=cached_copies,
        profile=profile,
        progress=_echo_progress,
    )
    for line in summary_lines(result):
        _echo_progress(line)
    return result


@click.command("classify")
@click.option(
    "--input",
    "source",
    callback=not_a_stream,
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="CSV with a `text` column, or JSONL with a `text` field (an `id` is carried over).",
)
@click.option(
    "--output",
    "dest",
    callback=not_a_stream,
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write results; .csv or .jsonl (written atomically).",
)
@click.option(
    "--format",
    "in_format",
    type=click.Choice(["auto", "csv", "jsonl"]),
    default="auto",
    show_default=True,
    help="Input format; auto = from the input file's suffix.",
)
@click.option("--batch-size", default=32, show_default=True, type=click.IntRange(1, 1024))
@click.option(
    "--threads",
    type=int,
    default=None,
    help="ONNX Runtime intra-op threads (this command makes one call at a time). "
    "[env: TOCSIN_MODEL_THREADS; default 2]",
)
@click.option(
    "--artefacts",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=None,
    help="Artefact folder. [default: the built folder for the bundled corpus]",
)
def classify_cmd(
    source: Path,
    dest: Path,
    in_format: str,
    batch_size: int,
    threads: int | None,
    artefacts: Path | None,
) -> None:
    """Classify a file of mentions: per row topic probabilities, labels, stance and language.

    Empty or malformed rows (blank text, bad JSON, wrong CSV field count...) are reported on
    stderr with their line number, skipped and counted; they never stop the run. A JSON summary
    is printed on stdout at the end.
    """
    import os

    from models.classifier import THREADS_ENV, ArtefactsMissingError, load_classifier
    from models.classify_file import InputFormatError, classify_file, count_lines, describe

    if threads is None:  # one call at a time here, unlike the worker (models/serving.py)
        threads = int(os.environ.get(THREADS_ENV, 2))
    try:
        clf = load_classifier(artefacts, threads=threads)
    except ArtefactsMissingError as exc:
        raise click.ClickException(str(exc)) from exc
    total = max(count_lines(source), 1)
    with click.progressbar(
        length=total, label="classifying", file=sys.stderr, show_pos=True
    ) as bar:
        done = 0

        def advance(line: int) -> None:
            nonlocal done
            bar.update(max(0, min(line, total) - done))
            done = max(done, min(line, total))

        try:
            summary = classify_file(
                source,
                dest,
                clf,
                in_format=in_format,
                batch_size=batch_size,
                on_progress=advance,
            )
        except InputFormatError as exc:
            raise click.ClickException(str(exc)) from exc
        bar.update(total - done)
    for skip in summary.reported:
        click.echo(f"{source}:{skip.line}: skipped ({skip.kind}): {skip.detail}", err=True)
    for line in describe(summary):
        click.echo(line, err=True)
    click.echo(json.dumps({"output": str(dest), **summary.as_dict()}))
