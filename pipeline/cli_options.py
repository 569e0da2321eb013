"""Click options shared by several ``tocsin`` commands, declared once so they cannot drift apart."""

from __future__ import annotations

import sys

import click

#: ``--bootstrap``: the Kafka bootstrap servers of commands that talk to the broker directly.
bootstrap_option = click.option(
    "--bootstrap",
    envvar="TOCSIN_BOOTSTRAP",
    default="127.0.0.1:9092",
    show_default=True,
    help="Kafka bootstrap servers [env: TOCSIN_BOOTSTRAP]; TLS and SASL from TOCSIN_KAFKA_*",
)


def require_kafka_login(command: str, bootstrap: str) -> None:
    """Stop ``tocsin <command>`` with one line (exit 77) if the broker refuses its TLS or login.

    Without this, kafka-python retries a refused login until its bootstrap timeout and reports
    only "Unable to bootstrap". A broker that does not answer at all is left to the command's own
    client, which waits for it as before.
    """
    from pipeline.errors import KafkaLoginFailed
    from pipeline.kafka_clients import EXIT_KAFKA_LOGIN, check_login
    from pipeline.settings_kafka import kafka_settings

    try:
        check_login(bootstrap, kafka_settings())
    except KafkaLoginFailed as exc:
        click.echo(f"tocsin {command}: {exc}", err=True)
        sys.exit(EXIT_KAFKA_LOGIN)


def not_a_stream(_ctx: click.Context, _param: click.Parameter, value: object) -> object:
    """Refuse ``-`` for a file option: the file commands read their input twice (encoding, then
    rows) and print their summary on stdout, so neither end can be a stream."""
    if value is not None and str(value) == "-":
        raise click.BadParameter("'-' (standard input/output) is not supported; give a file path")
    return value
