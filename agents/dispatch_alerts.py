"""dispatch_alerts: each alert step through the dispatch plan (``pipeline.oncall.dispatch``)."""

from __future__ import annotations

from typing import Any

from faust.types import StreamT

from pipeline import services
from pipeline.app import app
from pipeline.oncall.dispatch import dispatch, retry_policy, routing_tree, select_receivers
from pipeline.records import Alert
from pipeline.tables import alert_book
from pipeline.topics import alerts

AGENT = "dispatch_alerts"


@app.on_before_shutdown.connect
async def close_receivers(sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
    """Close the receivers and their shared HTTP client when the worker stops."""
    await services.aclose()


@app.agent(alerts, name=AGENT)
async def dispatch_alerts(stream: StreamT[Alert]) -> None:
    metrics = services.metrics()
    receivers = services.receivers()
    for receiver in receivers:
        await receiver.setup()
    policy = retry_policy()
    tree = routing_tree(receivers)
    async for alert in stream:
        metrics.messages_in.labels(AGENT).inc()
        delivered = alert_book[alert.dedup_key].get("delivered", {})
        chosen = select_receivers(alert, receivers, tree, delivered)
        await dispatch(alert, chosen, policy, tree=tree)
        metrics.messages_out.labels(AGENT).inc()
