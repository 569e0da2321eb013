"""The ``tocsin`` command line. Each option names the environment variable it reads."""

# The Kafka settings are read before the modules below import them (topics are declared with their
# partition count): a wrong TOCSIN_KAFKA_* value then stops every command with one line.
from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from pipeline.errors import ConfigError, TocsinError
from pipeline.settings_kafka import kafka_settings

try:
    kafka_settings()
except ConfigError as _exc:
    sys.exit(f"tocsin: {_exc}")

from models.cli import classify_cmd, model
from pipeline.approvals.audit_export import audit
from pipeline.cli_options import bootstrap_option, require_kafka_login
from pipeline.detection.backtest import backtest
from pipeline.ops.notify import notify
from pipeline.ops.silences import silences
from pipeline.pv.cli import pv
from pipeline.records import PLATFORMS
from pipeline.settings import get_settings
from pipeline.sources.cli import sources
from pipeline.topology import DAY_MS, RAW, owned_topics


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """Tocsin: early warning of social-media crises for pharma communications teams."""


@cli.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.argument("faust_args", nargs=-1, type=click.UNPROCESSED)
def worker(faust_args: tuple[str, ...]) -> None:
    """Run a stream worker (Faust). Extra arguments go to ``faust worker`` (e.g. ``-l info``).

    Reads BROKER_URL, WEB_PORT, WEB_BIND, APP_DATADIR (Faust's own) and the TOCSIN_* settings.
    """
    from pipeline.app import app
    from pipeline.errors import StateDirUnusable
    from pipeline.worker.statedir import EXIT_STATE_DIR, require_usable

    try:
        # Before Faust joins the group: a worker that cannot start has consumed nothing.
        require_usable(Path(app.conf.datadir))
    except StateDirUnusable as exc:
        click.echo(f"tocsin worker: {exc}", err=True)
        sys.exit(EXIT_STATE_DIR)
    # Before Faust too: it would keep reconnecting with refused credentials instead of saying so.
    require_kafka_login(
        "worker", ",".join(f"{url.host}:{url.port or 9092}" for url in app.conf.broker)
    )
    # The reporting rules every case's clock depends on: a bad file stops the worker here, with
    # the file, line and field, not inside the triage agent.
    from pipeline.pv.regions import markets_from

    try:
        markets_from(get_settings().pv_markets_file)
    except ConfigError as exc:
        sys.exit(f"tocsin worker: {exc}")
    sys.argv = ["tocsin", "worker", *faust_args]
    app.main()


@cli.command("replay")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@bootstrap_option
@click.option("--topic", default=RAW.name, show_default=True, help="topic to produce to")
@click.option(
    "--speed",
    type=float,
    default=0.0,
    show_default=True,
    help="event-time speed-up: 1440 replays a day in a minute; 0 = as fast as possible",
)
@click.option("--limit", type=int, default=None, help="send at most this many lines")
def replay_cmd(file: Path, bootstrap: str, topic: str, speed: float, limit: int | None) -> None:
    """Produce a JSONL file of raw mentions into Kafka, paced by their event times."""
    from pipeline.ingest.replay import count_lines, replay

    require_kafka_login("replay", bootstrap)
    total = count_lines(file) if limit is None else min(limit, count_lines(file))
    with click.progressbar(length=total, label="replay", show_eta=True) as bar:
        stats = replay(
            file, bootstrap=bootstrap, topic=topic, speed=speed, limit=limit, on_sent=bar.update
        )
    click.echo(
        f"sent {stats.sent} messages to {topic} in {stats.seconds:.1f}s ({stats.rate:.0f}/s)"
    )


@cli.group()
def topics() -> None:
    """Kafka topics Tocsin owns."""


@topics.command("create")
@bootstrap_option
def topics_create(bootstrap: str) -> None:
    """Create every topic with its explicit partition count (existing ones are checked).

    Topics holding mention text and authors are kept TOCSIN_MENTIONS_RETENTION_DAYS (set on
    existing topics too).
    """
    from pipeline.ops.topics import ensure_topics

    require_kafka_login("topics create", bootstrap)
    settings = kafka_settings()
    specs = owned_topics(get_settings().mentions_retention_days)
    try:
        result = ensure_topics(bootstrap, specs, replication_factor=settings.replication_factor)
    except TocsinError as exc:
        click.echo(f"tocsin topics create: {exc}", err=True)
        sys.exit(1)
    for spec in specs:
        kept = spec.config.get("retention.ms")
        days = "" if kept is None else f"  retention={_days(kept)}"
        click.echo(f"{spec.name:<32} partitions={spec.partitions}{days}  {spec.doc}")
    if result.retention_set:
        click.echo(f"retention set on existing topics: {', '.join(result.retention_set)}")


def _days(retention_ms: str) -> str:
    return "kept" if int(retention_ms) < 0 else f"{int(retention_ms) / DAY_MS:g}d"


@cli.group()
def privacy() -> None:
    """Data-subject requests on what Tocsin holds in Kafka."""


@privacy.command("erase")
@bootstrap_option
@click.option("--author", "author_id", required=True, help="the author's id as the source gave it")
@click.option(
    "--platform",
    required=True,
    type=click.Choice(PLATFORMS),
    help="the platform of that id (pseudonyms are per platform)",
)
@click.option("--handle", default=None, help="the author's handle, if sources sent one")
@click.option("--by", "actor", default="operator", show_default=True, help="who asks (audited)")
@click.option(
    "--timeout", "timeout_s", type=float, default=120.0, show_default=True, help="give up after"
)
def privacy_erase(
    bootstrap: str,
    author_id: str,
    platform: str,
    handle: str | None,
    actor: str,
    timeout_s: float,
) -> None:
    """Remove an author's mentions, ids and handle from every Tocsin table and topic.

    Needs TOCSIN_PSEUDONYM_KEY (the workers' key) and a running worker (it rewrites the tables).
    Pharmacovigilance cases are kept (a legal record) and counted. See pipeline/ops/erase.py.
    """
    from pipeline.ops.erase import ErasureFailed, erase

    try:
        report = erase(
            get_settings(),
            bootstrap,
            author_id=author_id,
            platform=platform,
            handle=handle,
            actor=actor,
            timeout_s=timeout_s,
        )
    except ErasureFailed as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(json.dumps(report.summary(), indent=1))


@topics.command("grow")
@bootstrap_option
@click.option(
    "--to",
    "to",
    type=click.IntRange(2, 1024),
    required=True,
    help="new partition count of every keyed topic and table changelog",
)
def topics_grow(bootstrap: str, to: int) -> None:
    """Grow the keyed topics from TOCSIN_KAFKA_PARTITIONS to --to, moving table state to match.

    Every worker stopped and drained first; afterwards set TOCSIN_KAFKA_PARTITIONS to the new
    count everywhere (docs/operations.md, Partitions).
    """
    from pipeline.ops.grow import grow_partitions

    require_kafka_login("topics grow", bootstrap)
    try:
        result = grow_partitions(bootstrap, to)
    except TocsinError as exc:
        click.echo(f"tocsin topics grow: {exc}", err=True)
        sys.exit(1)
    for name in result.grown:
        moved = result.moved.get(name)
        click.echo(f"{name:<32} partitions={to}" + ("" if moved is None else f"  moved={moved}"))
    click.echo(f"now set TOCSIN_KAFKA_PARTITIONS={to} for every worker and command")


@cli.command()
@click.option(
    "--speed",
    type=float,
    default=2000.0,
    show_default=True,
    help="event-time speed-up of the replay (2000: two days in about 90 s)",
)
@click.option(
    "--stream",
    "stream_file",
    type=click.Path(exists=True, path_type=Path),
    default=None,
    help="JSONL file to replay (default: the bundled two-day stream)",
)
@click.option("--keep-state", is_flag=True, help="keep the broker and worker data folders")
@click.option(
    "--kafka-port", type=int, default=None, help="port for the demo broker (default: free)"
)
@click.option(
    "--summary-json",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="also write the summary (figures and alerts) to this JSON file",
)
@click.option(
    "--serve/--no-serve",
    default=True,
    help="after the summary, keep the broker, worker and console up until Ctrl-C (default)",
)
def demo(
    speed: float,
    stream_file: Path | None,
    keep_state: bool,
    kafka_port: int | None,
    summary_json: Path | None,
    serve: bool,
) -> None:
    """Start a broker and a worker, replay a two-day stream with a crisis, print the alerts;
    then keep them up with the console until Ctrl-C (unless --no-serve)."""
    from pipeline.ops.demo import STREAM, run_demo

    code = run_demo(
        speed=speed,
        stream=stream_file or STREAM,
        keep_state=keep_state,
        kafka_port=kafka_port,
        summary_json=summary_json,
        serve=serve,
    )
    sys.exit(code)


cli.add_command(model)
cli.add_command(classify_cmd, name="classify")
cli.add_command(backtest)
cli.add_command(audit)
cli.add_command(notify)
cli.add_command(silences)
cli.add_command(pv)
cli.add_command(sources)


def main() -> None:
    cli(prog_name="tocsin")


if __name__ == "__main__":
    main()
