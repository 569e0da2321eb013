"""The one Faust app. Topics, tables and agents live in their own modules and are autodiscovered.

Faust reads its own settings from the environment (``BROKER_URL``, ``WEB_PORT``, ``WEB_BIND``,
``APP_DATADIR`` ...); we only change defaults, through the ``env`` mapping Faust accepts, so an
operator's environment always wins and nothing is configured twice. The defaults are safe for a
laptop: broker on 127.0.0.1, web server bound to 127.0.0.1, and consumer-group timeouts short enough
that a restarted worker rejoins in seconds rather than the minute Faust's defaults take.

Two things come from Tocsin's Kafka settings (``TOCSIN_KAFKA_*``, ``pipeline/settings_kafka.py``),
read once when this module is imported: the broker credentials (TLS, SASL), the partition count
every table's changelog gets (``topic_partitions``, the same as the topics in
``pipeline/topology.py``) and the replication factor of the topics Faust creates itself.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Mapping
from typing import Any

import faust
from faust.types import ConsumerT
from mode import Service
from mode.utils.queues import FlowControlQueue

from pipeline.fair_poll import share_polls
from pipeline.kafka_clients import faust_credentials
from pipeline.redelivery import (
    HOLE_CHECK_INTERVAL_S,
    HoleWatch,
    redeliver_after_rebalance,
    refetch_holes,
)
from pipeline.settings_kafka import kafka_settings
from pipeline.topology import DEFAULT_PARTITIONS, MAX_MESSAGE_BYTES

FAUST_DEFAULTS: dict[str, str] = {
    "BROKER_URL": "kafka://127.0.0.1:9092",
    "WEB_BIND": "127.0.0.1",
    "WEB_PORT": "6066",
    "APP_DATADIR": "tocsin-data",
    "BROKER_SESSION_TIMEOUT": "10",
    "BROKER_HEARTBEAT_INTERVAL": "2",
    "BROKER_REBALANCE_TIMEOUT": "20",
    "PRODUCER_MAX_REQUEST_SIZE": str(2 * MAX_MESSAGE_BYTES + 65536),
    "CONSUMER_MAX_FETCH_SIZE": str(2 * MAX_MESSAGE_BYTES + 65536),
    # Producer batches wait up to 50 ms to fill: fewer, larger produce requests, and so fewer
    # fetch wake-ups for the agents reading them. Through a broker on the same two cores this
    # halves the broker's CPU per mention and takes a third off the event loop's
    # (docs/benchmarks.md); 50 ms per hop is nothing against a detector that needs minutes of crisis.
    "PRODUCER_LINGER": "0.05",
    "APP_WEB_STATS_ENABLED": "false",
    "APP_WEB_GRAPH_ENABLED": "false",
    # Faust's own views (/table/<name>/<key> with any table's values, /router/ with the host and
    # partition layout) have no authentication: off, and refused by pipeline.web_guard anyway.
    "APP_WEB_TABLES_ENABLED": "false",
    "APP_WEB_ROUTER_ENABLED": "false",
    "APP_WEB_METRICS_ENABLED": "false",
}


#: Faust's own default for ``STREAM_BUFFER_MAXSIZE``: the events buffered for each agent.
FAUST_STREAM_BUFFER_MAXSIZE = 4096


def poll_records(buffer_maxsize: int, partitions: int) -> int:
    """Records one consumer poll may hand over so that no agent's stream buffer ever fills.

    Faust's fetch loop hands a poll's records to the agents one at a time. An agent's buffer stops
    the fetching of a partition at ``maxsize / 1.25`` events (``FlowControlQueue``'s high-pressure
    mark) but still takes what the poll already holds, and once it is *full* the loop waits for
    room: for that agent, and so for every other topic, since one loop delivers them all. Without
    a bound a poll holds up to ``CONSUMER_MAX_FETCH_SIZE`` (16 MiB) per partition: the whole
    ``mentions.raw`` backlog (10,000 mentions per partition measured), fed to a full
    ``classify_mentions`` buffer at the model's pace while ``count_mentions`` got nothing for
    minutes (bench/README.md, "Counting starved behind a raw backlog"). A poll of at most the room
    above the mark, shared by the partitions of a topic, always fits.
    """
    high = math.floor(buffer_maxsize / FlowControlQueue.pressure_high_ratio)
    return max(1, (buffer_maxsize - high) // max(1, partitions))


def faust_env(environ: Mapping[str, str]) -> dict[str, str]:
    """Faust's settings: Tocsin's defaults, then ``environ`` (an operator's value always wins)."""
    buffer_maxsize = int(environ.get("STREAM_BUFFER_MAXSIZE", FAUST_STREAM_BUFFER_MAXSIZE))
    return {
        **FAUST_DEFAULTS,
        "BROKER_MAX_POLL_RECORDS": str(poll_records(buffer_maxsize, DEFAULT_PARTITIONS)),
        # Faust's own topics (the assignor's leader topic) get Tocsin's replication factor
        # unless TOPIC_REPLICATION_FACTOR says otherwise: a managed cluster refuses 1.
        "TOPIC_REPLICATION_FACTOR": str(kafka_settings().replication_factor),
        **environ,
    }


class TocsinWorker(faust.Worker):
    """``faust.Worker`` without the terminal progress spinner.

    Why: at ``-l warn`` (or above) Faust keeps a spinner that turns on every log record, and for
    that sets the *root logger* to DEBUG for the worker's whole life. Every ``log.debug`` call in
    aiokafka and Faust -- several per message produced or fetched -- then builds a ``LogRecord``
    (with a stack walk for the caller) that no handler prints: 4 % of the event loop's py-spy
    samples at saturation (``tocsin model bench --broker --profile``). The spinner is of no use
    to a worker whose output goes to a log file or a container runtime anyway.
    """

    def on_setup_root_logger(self, logger: logging.Logger, level: int) -> None:
        self.spinner = None
        super().on_setup_root_logger(logger, level)


class TocsinApp(faust.App):
    """``faust.App`` whose consumer redelivers rather than skips after a rebalance.

    See :mod:`pipeline.redelivery`: without this, a rebalance can make Faust drop fetched
    messages nobody processed, and at-least-once becomes at-most-once for them. The same module's
    hole watch runs here, every few seconds, for whatever else skips a fetched message. Its polls
    are bounded (:func:`poll_records`) and shared evenly among the partitions
    (:mod:`pipeline.fair_poll`).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._hole_watch = HoleWatch()

    def on_webserver_init(self, web: Any) -> None:
        """Put :mod:`pipeline.web_guard` in front of every view (allow-list, headers, logs)."""
        from pipeline import web_guard

        web_guard.install(web.web_app, web.views)

    def _new_consumer(self) -> ConsumerT:
        return share_polls(redeliver_after_rebalance(super()._new_consumer()))

    @Service.timer(HOLE_CHECK_INTERVAL_S)
    async def _refetch_holes(self) -> None:
        if self.rebalancing or self.client_only:
            return
        await refetch_holes(self.consumer, self._hole_watch)


def create_app() -> faust.App:
    """Create the app; the module-level ``app`` below is the only call in production."""
    return TocsinApp(
        "tocsin",
        env=faust_env(os.environ),
        autodiscover=[
            "agents",
            "pipeline.worker.web",
            "pipeline.ingest.web",
            "pipeline.approvals.web",
            "pipeline.console.web",
            "pipeline.safety.web",
            "pipeline.oncall.api",
        ],
        origin="pipeline",
        topic_partitions=DEFAULT_PARTITIONS,
        broker_credentials=faust_credentials(kafka_settings()),
        topic_allow_declare=True,
        topic_disable_leader=True,
        stream_wait_empty=False,
        table_cleanup_interval=60.0,
        Worker=TocsinWorker,
    )


app = create_app()
