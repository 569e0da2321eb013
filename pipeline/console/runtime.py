"""The worker's console: its store (opened once, on first use) and its feed.

With ``TOCSIN_CONSOLE_DSN`` set the store is PostgreSQL, shared by every worker (one of them
writes, :mod:`pipeline.console.pgstore`); otherwise it is the SQLite file in the worker's state
folder, or ``TOCSIN_CONSOLE_STORE``. The feed connects to the broker Faust uses, with Faust's
credentials (TLS/SASL) when it has some.
"""

from __future__ import annotations

from pathlib import Path

from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth, server_list

from pipeline import services
from pipeline.app import app
from pipeline.console.feed import ConsoleFeed
from pipeline.console.rows import Store
from pipeline.console.store import ConsoleStore

STORE_FILE = "console.sqlite3"


def store_path() -> Path:
    return services.settings().console.store or Path(app.conf.appdir) / STORE_FILE


def open_store() -> Store:
    """The configured store: PostgreSQL when a DSN is set, else the SQLite file."""
    dsn = services.settings().console.dsn
    if dsn is not None:
        from pipeline.console.pgstore import PgConsoleStore  # the driver only when configured

        return PgConsoleStore.open(dsn.get_secret_value())
    return ConsoleStore.open(store_path())


def store() -> Store:
    """The worker's console store (``services.extra``, so tests can put their own)."""
    found = services.extra().get("console_store")
    if found is None:
        found = services.extra()["console_store"] = open_store()
    return found  # type: ignore[no-any-return]


def feed() -> ConsoleFeed:
    return ConsoleFeed(
        store(),
        server_list(app.conf.broker, 9092),
        retention_days=services.settings().console.retention_days,
        client_options=dict(
            credentials_to_aiokafka_auth(app.conf.broker_credentials, app.conf.ssl_context)
        ),
        metrics=services.metrics(),
    )
