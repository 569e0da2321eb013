"""Click options shared by several ``tocsin`` commands, declared once so they cannot drift apart."""

from __future__ import annotations

import click

#: ``--bootstrap``: the Kafka bootstrap servers of commands that talk to the broker directly.
bootstrap_option = click.option(
    "--bootstrap",
    envvar="TOCSIN_BOOTSTRAP",
    default="127.0.0.1:9092",
    show_default=True,
    help="Kafka bootstrap servers [env: TOCSIN_BOOTSTRAP]",
)
