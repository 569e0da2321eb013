"""``tocsin model build``: build (or find) the classifier artefacts (registered into the
``tocsin model`` group by models/cli.py; torch and the build's modules imported inside)."""

from __future__ import annotations

import time
from pathlib import Path

import click

from models.corpus import CORPUS2_FILES, DEFAULT_CORPUS


def echo_progress(message: str) -> None:
    click.echo(f"[{time.strftime('%H:%M:%S')}] {message}", err=True)


@click.command("build")
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
@click.option(
    "--finetune",
    is_flag=True,
    help="Fine-tune the encoder on the training split before export (slower build, own key).",
)
@click.option(
    "--corpus2",
    "corpus2",
    flag_value="all",
    default=None,
    help="Also train on the Corpus 2.0 files (models/data/corpus2, placeholders filled).",
)
@click.option(
    "--seed-only",
    "corpus2",
    flag_value="none",
    help="Train on the seed corpus alone, whatever the default.",
)
@click.option(
    "--calibrate",
    is_flag=True,
    help="Per-topic isotonic maps after Platt where they win out of fold (artefact v7, own key).",
)
@click.option(
    "--all-writers",
    is_flag=True,
    help="Every writer's rows, calibration, one CV fold per writer (artefact v8, own key).",
)
@click.option(
    "--plain",
    is_flag=True,
    help="The v6 recipe: seed corpus + Corpus 2.0's train split, Platt only (default until v9).",
)
@click.option(
    "--writers9",
    is_flag=True,
    help="Candidate v10: the all-writers head over nine writers (held-out 2 and 3 added) and "
    "its adverse_event stack (own key).",
)
def build_cmd(
    force: bool,
    out_root: Path | None,
    corpus: Path | None,
    finetune: bool,
    corpus2: str | None,
    calibrate: bool,
    all_writers: bool,
    plain: bool,
    writers9: bool,
) -> None:
    """Build (or find) the classifier artefacts; print the folder. With no recipe option: the
    default (``DEFAULT_STACK`` in models/aestack.py: v9), i.e. the all-writers head (v8), the PV
    heads, then the adverse_event stack; ``--writers9``: the same over nine writers (v10).

    ``--plain`` / ``--corpus2`` / ``--seed-only`` / ``--corpus``: the seed corpus plus those files
    (models/corpus.py). Backbone: multilingual-e5-small unless [env: TOCSIN_MODEL] names a local
    checkpoint folder or a hub id. Needs the `build` extra (torch).
    """
    from models.aestack import DEFAULT_STACK, V10_STACK
    from models.aestack_build import after_build, build_default
    from models.build import build_artefacts

    if writers9 or not (plain or corpus or finetune or corpus2 or calibrate or all_writers):
        stack = V10_STACK if writers9 else DEFAULT_STACK
        click.echo(str(build_default(out_root, force=force, progress=echo_progress, stack=stack)))
        return
    path = build_artefacts(
        out_root,
        force=force,
        progress=echo_progress,
        corpus=corpus,
        finetune=finetune,
        extra={"all": CORPUS2_FILES, "none": (), None: None}[corpus2],
        calibrate=calibrate,
        all_writers=all_writers,
    )
    click.echo(str(after_build(path, out_root, stack=None, progress=echo_progress)))
