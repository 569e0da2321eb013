"""Delivery dead letters: an alert step retrying gave up on goes to ``alerts.deliveries.dlq``.

:func:`pipeline.delivery.retry_call` reports every attempt through an ``AttemptHook``, and the
outcome is ``failed`` exactly when it gives up on a receiver (a permanent refusal, an unclassified
error, or the last attempt). :func:`dead_lettering` wraps a caller's hook so that, right after that
``failed`` receipt, one :class:`~pipeline.records.DeliveryDeadLetter` per alert of the step goes to
a sink. ``dispatch_alerts`` (one alert per step) and ``notify_groups`` (every alert shown in a group
notification) wrap their hooks the same way, so the rule lives here once.

Error texts come from receivers, which keep URLs out of them, but a 4xx body snippet could echo a
token: every secret setting is masked again before the record is built (as ``tocsin notify test``
does before printing).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import UTC, datetime

from pipeline.delivery.redaction import redact
from pipeline.delivery.retry import AttemptHook
from pipeline.records import Alert, DeliveryDeadLetter

DeadLetterSink = Callable[[DeliveryDeadLetter], Awaitable[None]]
FAILED = "failed"


def dead_letter(
    alert: Alert,
    *,
    step: str,
    receiver: str,
    idempotency_key: str,
    attempts: int,
    status_code: int | None,
    error: str | None,
    secrets: Iterable[str] = (),
    group: str | None = None,
    failed_at: datetime | None = None,
) -> DeliveryDeadLetter:
    """The dead letter of ``alert``'s ``step`` for ``receiver``, its error with secrets masked."""
    body = {k: v for k, v in alert.to_representation().items() if k != "__faust"}
    return DeliveryDeadLetter(
        dedup_key=alert.dedup_key,
        step=step,
        receiver=receiver,
        idempotency_key=idempotency_key,
        attempts=attempts,
        status_code=status_code,
        error=None if error is None else redact(error, list(secrets)),
        alert=body,
        failed_at=failed_at or datetime.now(UTC),
        group=group,
    )


def dead_lettering(
    on_attempt: AttemptHook,
    *,
    alerts: Sequence[Alert],
    receiver: str,
    step: Callable[[Alert], str],
    idempotency_key: str | Callable[[Alert], str],
    sink: DeadLetterSink,
    secrets: Iterable[str] = (),
    group: str | None = None,
) -> AttemptHook:
    """``on_attempt``, then -- when the attempt is the failed last one -- a dead letter per alert.

    ``idempotency_key`` is the step's key, or a function giving each alert's (a group notification
    sent alert by alert gives each its own). The receipt comes first: a worker that dies in between
    leaves a ``failed`` receipt and no dead letter, never a dead letter for a step the receipts
    call anything else.
    """
    masked = list(secrets)

    def key_of(alert: Alert) -> str:
        return idempotency_key(alert) if callable(idempotency_key) else idempotency_key

    async def hook(attempt: int, outcome: str, status: int | None, error: str | None) -> None:
        await on_attempt(attempt, outcome, status, error)
        if outcome != FAILED:
            return
        for alert in alerts:
            await sink(
                dead_letter(
                    alert,
                    step=step(alert),
                    receiver=receiver,
                    idempotency_key=key_of(alert),
                    attempts=attempt,
                    status_code=status,
                    error=error,
                    secrets=masked,
                    group=group,
                )
            )

    return hook
