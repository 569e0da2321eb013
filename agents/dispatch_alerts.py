"""dispatch_alerts: alert steps -> receivers, each step delivered at most once per receiver.

Idempotency is kept in a changelog-backed table keyed by dedup key (the stream's key): before
sending a step to a receiver the agent checks whether that step already reached it, and records
success right after. A restart or rebalance therefore re-reads uncommitted alert steps without
paging twice; the one window left (the worker dies between a receiver accepting and the table
write) is closed by receivers that de-duplicate on the idempotency key, which is the same on every
attempt. Every attempt leaves a receipt on ``alerts.deliveries``.
"""

from __future__ import annotations

from datetime import UTC, datetime

from faust.types import StreamT

from pipeline import services
from pipeline.app import app
from pipeline.delivery import RetryPolicy, deliver
from pipeline.receivers.base import Receiver
from pipeline.records import Alert, DeliveryReceipt
from pipeline.routing import RoutingTree, load_routing
from pipeline.tables import alert_book
from pipeline.topics import alerts, deliveries

AGENT = "dispatch_alerts"


def idempotency_key(alert: Alert, receiver: Receiver) -> str:
    return f"{alert.dedup_key}/{alert.state}/{receiver.name}"


def select_receivers(
    alert: Alert, receivers: list[Receiver], tree: RoutingTree | None
) -> list[Receiver]:
    """Receivers the route tree names for ``alert`` (all without a tree); the console always."""
    if tree is None:
        return receivers
    names = set(tree.route(alert))
    return [r for r in receivers if r.name in names or r.name == "console"]


def routing_tree(receivers: list[Receiver]) -> RoutingTree | None:
    """The configured route tree, checked against the receivers actually configured."""
    path = services.settings().routing_file
    if path is None:
        return None
    return load_routing(path, known_receivers={r.name for r in receivers})


def retry_policy() -> RetryPolicy:
    cfg = services.settings()
    return RetryPolicy(
        attempts=cfg.delivery_attempts,
        backoff_s=cfg.delivery_backoff_s,
        backoff_max_s=cfg.delivery_backoff_max_s,
    )


async def dispatch(alert: Alert, receivers: list[Receiver], policy: RetryPolicy) -> dict[str, bool]:
    """Deliver one alert step to every receiver not yet reached; returns receiver -> delivered."""
    metrics = services.metrics()
    book = dict(alert_book[alert.dedup_key])
    book["alert"] = alert.to_representation()
    delivered: dict[str, str] = dict(book.get("delivered", {}))
    results: dict[str, bool] = {}
    for receiver in receivers:
        mark = f"{alert.state}/{receiver.name}"
        if mark in delivered:
            metrics.deliveries.labels(receiver.name, "skipped_duplicate").inc()
            results[receiver.name] = True
            continue

        async def receipt(
            attempt: int,
            outcome: str,
            status: int | None,
            error: str | None,
            receiver: Receiver = receiver,
        ) -> None:
            metrics.deliveries.labels(receiver.name, outcome).inc()
            await deliveries.send(
                key=alert.dedup_key,
                value=DeliveryReceipt(
                    dedup_key=alert.dedup_key,
                    state=alert.state,
                    receiver=receiver.name,
                    attempt=attempt,
                    outcome=outcome,
                    status_code=status,
                    at=datetime.now(UTC),
                    error=error,
                ),
            )

        ok = await deliver(
            receiver,
            alert,
            idempotency_key=idempotency_key(alert, receiver),
            policy=policy,
            on_attempt=receipt,
        )
        results[receiver.name] = ok
        if ok:
            delivered[mark] = datetime.now(UTC).isoformat()
            latency = (datetime.now(UTC) - alert.updated_at).total_seconds()
            metrics.delivery_latency.labels(receiver.name).observe(max(0.0, latency))
        book["delivered"] = delivered
        alert_book[alert.dedup_key] = book
    alert_book[alert.dedup_key] = book
    return results


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
        await dispatch(alert, select_receivers(alert, receivers, tree), policy)
        metrics.messages_out.labels(AGENT).inc()
