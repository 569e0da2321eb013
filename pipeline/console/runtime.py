"""The worker's console: its store (opened once, on first use) and its feed.

The store lives in the worker's state folder unless ``TOCSIN_CONSOLE_STORE`` names a file; the
feed connects to the broker Faust uses, with Faust's credentials (TLS/SASL) when it has some.
"""

from __future__ import annotations

from pathlib import Path

from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth, server_list

from pipeline import services
from pipeline.app import app
from pipeline.console.feed import ConsoleFeed
from pipeline.console.store import ConsoleStore

STORE_FILE = "console.sqlite3"


def store_path() -> Path:
    return services.settings().console.store or Path(app.conf.appdir) / STORE_FILE


def store() -> ConsoleStore:
    """The worker's console store (``services.extra``, so tests can put their own)."""
    found = services.extra().get("console_store")
    if not isinstance(found, ConsoleStore):
        found = services.extra()["console_store"] = ConsoleStore.open(store_path())
    return found


def feed() -> ConsoleFeed:
    return ConsoleFeed(
        store(),
        server_list(app.conf.broker, 9092),
        retention_days=services.settings().console.retention_days,
        client_options=dict(
            credentials_to_aiokafka_auth(app.conf.broker_credentials, app.conf.ssl_context)
        ),
    )
