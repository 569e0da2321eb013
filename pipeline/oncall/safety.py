"""New valid pharmacovigilance cases go to the safety receivers at once, whatever the volume.

A single adverse-event report must reach the safety team even when the topic does not surge, so
when ``track_cases`` opens a ``new`` case (all four criteria) it hands the case here. The safety
receivers are the receivers cleared for health data (``health_data_cleared: true`` in the routing
file: a safety mailbox, the PV system's signed webhook); nobody else gets cases. The case goes out
as an alert step (:func:`case_alert`: dedup key ``case:<id>``, the mention as its top mention) so
every receiver renders it without a case-specific module, through the same path as alerts:
``retry.sender`` (rate limit, health-data check), retries with backoff, a receipt per attempt on
``alerts.deliveries`` and a dead letter when a receiver never accepts it. The idempotency key is
the same on every attempt and re-read (``case:<id>/opened/<receiver>``), so a receiver that
de-duplicates never files a case twice.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pipeline import services
from pipeline.delivery.dead_letters import dead_lettering
from pipeline.delivery.receivers.base import Receiver
from pipeline.delivery.retry import retry_call, sender
from pipeline.oncall.dispatch import dead_letter_sink, retry_policy, secrets, send_receipt
from pipeline.records import HEALTH_TOPIC, Alert

STEP = "opened"


def case_alert(case: Mapping[str, Any]) -> Alert:
    """A new case as an alert step a receiver can render: summary, the clock, the mention."""
    mention: Mapping[str, Any] = case.get("mention") or {}
    received = datetime.fromisoformat(str(case["received_at"]))
    kind = "serious" if case.get("serious") else "non-serious"
    reactions = ", ".join(case.get("reactions", [])) or "a reaction"
    due = (
        f"report due {case['due']} ({case.get('timezone')}), "
        f"{str(case.get('due_region') or 'eu').upper()} rule"
        if case.get("due")
        else "periodic report, no expedited clock"
    )
    return Alert(
        dedup_key=f"case:{case['case_id']}",
        state="firing",
        severity="critical" if case.get("serious") else "warning",
        brand=str(mention.get("brand", "")),
        topic=HEALTH_TOPIC,
        started_at=received,
        updated_at=received,
        observed=1.0,
        expected=0.0,
        score=1.0,
        summary=(
            f"New {kind} adverse-event case {case['case_id']}: {case.get('product')} - "
            f"{reactions}; {due}"
        ),
        why={
            "case": {
                k: case.get(k)
                for k in (
                    "case_id",
                    "status",
                    "criteria",
                    "product",
                    "reactions",
                    "serious",
                    "seriousness",
                    "patient",
                    "day_zero",
                    "due",
                    "deadline",
                    "due_region",
                    "clocks",
                    "timezone",
                )
            }
        },
        top_mentions=[
            {
                "id": mention.get("id"),
                "text": mention.get("text"),
                "url": mention.get("url"),
                "platform": mention.get("platform"),
                "at": mention.get("created_at"),
            }
        ],
    )


def safety_receivers(receivers: list[Receiver]) -> list[Receiver]:
    return [r for r in receivers if r.health_data_cleared]


async def notify_safety(case: Mapping[str, Any]) -> dict[str, bool]:
    """Send a new valid case to every safety receiver; receiver -> delivered."""
    if case.get("status") != "new":
        return {}
    alert, policy, masked = case_alert(case), retry_policy(), secrets()
    results: dict[str, bool] = {}
    for receiver in safety_receivers(services.receivers()):
        await receiver.setup()
        key = f"{alert.dedup_key}/{STEP}/{receiver.name}"

        async def on_attempt(
            attempt: int,
            outcome: str,
            status: int | None,
            error: str | None,
            receiver: Receiver = receiver,
        ) -> None:
            await send_receipt(alert, receiver, attempt, outcome, status, error)

        hook = dead_lettering(
            on_attempt,
            alerts=[alert],
            receiver=receiver.name,
            step=lambda _alert: STEP,
            idempotency_key=key,
            sink=dead_letter_sink,
            secrets=masked,
        )
        results[receiver.name] = await retry_call(
            sender(receiver, alert, key), policy=policy, on_attempt=hook
        )
    return results
