"""HTTP endpoints on the worker's one web port (Faust's web server).

``/metrics`` serves this worker's own registry in the Prometheus text format (bearer token
``TOCSIN_METRICS_TOKEN`` when set). ``/healthz`` says the process is alive and its mention path
is not frozen with records waiting (``pipeline/worker/progress.py``; a liveness probe restarts
it); ``/readyz`` says it can do its job (model loaded, consumer not rebalancing, broker
answering), which is what a Kubernetes readiness probe and the demo wait on; it also turns false
while the state folder is unusable or nearly full (``pipeline/worker/statedir.py``).
``/openapi.json`` describes the API. :func:`authorised` checks the API's bearer token
(``TOCSIN_API_TOKEN``) for ``/api/alerts`` and the on-call endpoints (``pipeline/oncall/api.py``);
with no token configured the API is closed, never open by default.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from faust.types import TP
from faust.web import Request, Response, View
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from pipeline import services
from pipeline.app import app
from pipeline.topology import ALL_TOPICS
from pipeline.worker import openapi
from pipeline.worker.broker_probe import PROBE_INTERVAL_S, BrokerProbe
from pipeline.worker.progress import WATCH_INTERVAL_S, ProgressWatch
from pipeline.worker.statedir import StateDirWatch

OWN_TOPICS = frozenset(spec.name for spec in ALL_TOPICS)

log = logging.getLogger(__name__)


@app.task  # type: ignore[untyped-decorator]  # faust.App.task is not typed
async def load_model_at_start() -> None:
    """Load the classifier off the event loop before the first batch needs it.

    On a model thread, under ``services.classifier``'s lock, so a batch that arrives during the
    load waits for it instead of loading a second copy.
    """
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(services.executor(), services.classifier)
    log.info("classifier loaded: %s", services.classifier().version)


def authorised(request: Request) -> bool | None:
    """True/False for a valid/invalid bearer token, None when the API has no token configured."""
    token = services.settings().api_token
    if token is None:
        return None
    header = request.headers.get("Authorization", "")
    scheme, _, given = header.partition(" ")
    if scheme.lower() != "bearer" or not given:
        return False
    return hmac.compare_digest(given.encode(), token.get_secret_value().encode())


def consumer_positions() -> tuple[dict[tuple[str, int], int], dict[tuple[str, int], int]]:
    """Committed offset and lag (log end minus committed) of each assigned partition of Tocsin's topics.

    Read from the Faust consumer's in-memory view (no broker round trip per scrape): the highwater
    the last fetch saw and the offset Faust last committed (next offset to read, Kafka's convention).
    """
    consumer = app.consumer
    # Faust keeps no public accessor for what it committed; default to "nothing committed".
    committed: Mapping[TP, int | None] = getattr(consumer, "_committed_offset", {})
    done: dict[tuple[str, int], int] = {}
    lag: dict[tuple[str, int], int] = {}
    for tp in consumer.assignment():
        if tp.topic not in OWN_TOPICS:
            continue
        high = consumer.highwater(tp)
        if high is None:
            continue
        key = (tp.topic, tp.partition)
        done[key] = int(committed.get(tp) or 0)
        lag[key] = max(0, int(high) - done[key])
    return done, lag


def consumer_lag() -> dict[tuple[str, int], int]:
    """Lag of each assigned partition of Tocsin's own topics (see :func:`consumer_positions`)."""
    return consumer_positions()[1]


def progress_watch() -> ProgressWatch:
    """The mention-path stall watch, made on first use (its limit comes from the settings)."""
    return services.made_once(
        "progress_watch",
        ProgressWatch,
        lambda: ProgressWatch(services.settings().stall_after_s),
    )


@app.timer(WATCH_INTERVAL_S)  # type: ignore[untyped-decorator]  # faust.App.timer is not typed
async def watch_progress() -> None:
    watch = progress_watch()
    # Table recovery after a rebalance can take minutes on a big changelog; nothing moves then.
    recovering = bool(getattr(app, "in_recovery", False))
    if (
        app.rebalancing
        or recovering
        or not services.classifier_loaded()
        or broker_probe().problem()
    ):
        watch.pause()
    else:
        watch.observe(*consumer_positions())
    services.metrics().stalled_partitions.set(len(watch.stalled()))


def metrics_authorised(request: Request) -> bool:
    """Whether a scrape may read /metrics: always without a token, else only with it."""
    token = services.settings().metrics_token
    if token is None:
        return True
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(
        given.strip().encode("utf-8", "replace"), token.get_secret_value().encode()
    )


@app.page("/metrics")
class MetricsView(View):
    async def get(self, request: Request) -> Response:
        if not metrics_authorised(request):
            return self.error(
                401, "missing or invalid bearer token", headers={"WWW-Authenticate": "Bearer"}
            )
        metrics = services.metrics()
        if not app.rebalancing:
            for (topic, partition), lag in consumer_lag().items():
                metrics.consumer_lag.labels(topic, str(partition)).set(lag)
        body = generate_latest(metrics.registry)
        return self.bytes(body, content_type=CONTENT_TYPE_LATEST.split(";")[0])


@app.page("/healthz")
class HealthView(View):
    """Liveness: the process answers and its mention path is not frozen with work waiting."""

    async def get(self, request: Request) -> Response:
        stalled = progress_watch().stalled()
        if stalled:
            body = {"status": "stalled", "partitions": [f"{t}[{p}]" for t, p in stalled]}
            return self.json(body, status=503)
        return self.json({"status": "ok"})


def state_dir_watch() -> StateDirWatch:
    """The state-folder probe, made on first use (the datadir is known once Faust is configured)."""
    return services.made_once(
        "state_dir_watch",
        StateDirWatch,
        lambda: StateDirWatch(Path(app.conf.datadir), services.settings().state_min_free_bytes),
    )


def broker_probe() -> BrokerProbe:
    """The broker probe, made on first use (its timeout comes from the settings)."""
    return services.made_once(
        "broker_probe",
        BrokerProbe,
        lambda: BrokerProbe(services.settings().broker_probe_timeout_s),
    )


async def _broker_metadata() -> bool:
    """One metadata round trip through the producer's client (False before it is connected)."""
    # Faust exposes no public handle on its aiokafka client; the producer's is the one that
    # must work for anything to be written, so it is the one asked.
    client = getattr(getattr(app.producer, "_producer", None), "client", None)
    if client is None:
        return False
    # shield: a timed-out probe must not cancel aiokafka's shared metadata future
    return bool(await asyncio.shield(client.force_metadata_update()))


@app.timer(PROBE_INTERVAL_S)  # type: ignore[untyped-decorator]  # faust.App.timer is not typed
async def probe_broker() -> None:
    await broker_probe().probe(_broker_metadata)


@app.page("/readyz")
class ReadyView(View):
    async def get(self, request: Request) -> Response:
        state_problem = await state_dir_watch().current()
        broker_problem = broker_probe().problem()
        checks = {
            "model_loaded": services.classifier_loaded(),
            "not_rebalancing": not app.rebalancing,
            "state_dir": state_problem is None,
            "broker": broker_problem is None,
        }
        ready = all(checks.values())
        body: dict[str, Any] = {"ready": ready, "checks": checks}
        if state_problem is not None:
            body["state_dir"] = state_problem
        if broker_problem is not None:
            body["broker"] = broker_problem
        return self.json(body, status=200 if ready else 503)


@app.page("/openapi.json")
class OpenApiView(View):
    """The HTTP API's OpenAPI 3.1 description: public, like the README that documents the same.

    It lists paths, parameters and response shapes; no data, no secret, nothing an attacker
    cannot learn by reading the open-source repository.
    """

    async def get(self, request: Request) -> Response:
        return self.bytes(openapi.document_bytes(), content_type="application/json")
