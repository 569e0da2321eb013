"""Faust topic declarations, built from the plain specs in ``pipeline/topology.py``.

Every typed topic is a :class:`CheckedTopic`: a record a Tocsin agent reads from it that does not
decode (not UTF-8, not JSON, not an object, a field missing) or whose fields do not have their
declared types (:func:`pipeline.records.shape_problem`) goes to ``mentions.dlq`` with the reason
``undecodable`` or ``malformed_record``, its topic, partition and offset, and is counted in
``tocsin_internal_dead_letters_total{topic}``. Faust's own handling would throw the error into
every agent reading the topic: the agent crashes, is restarted after a pause, and the record is
skipped with nothing kept. Agents that check more than types (a silence's matchers, an approval
event) dead-letter with :func:`dead_letter_message` too.
"""

from __future__ import annotations

import base64
import collections
import logging
import time
from datetime import UTC, datetime
from typing import Any

import faust
from faust.exceptions import ValueDecodeError
from faust.types import Message, TopicT

from pipeline import records, services, topology
from pipeline.app import app

log = logging.getLogger(__name__)
#: Dead-letter reasons of records read from Tocsin's own topics (``mentions.dlq``).
UNDECODABLE = "undecodable"
MALFORMED = "malformed_record"
LOG_EVERY_S = 60.0
_lettered: collections.deque[tuple[str, int, int]] = collections.deque(maxlen=256)
_logged_at: dict[str, float] = {}


def _letter(message: Message, reason: str, detail: str) -> records.DeadLetter:
    payload = message.value or b""
    try:
        text, encoding = payload.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        text, encoding = base64.b64encode(payload).decode("ascii"), "base64"
    return records.DeadLetter(
        reason=reason,
        detail=detail[:500],
        source_topic=message.topic,
        partition=message.partition,
        offset=message.offset,
        received_at=datetime.now(UTC),
        payload=text,
        payload_encoding=encoding,
    )


async def dead_letter_message(message: Message, reason: str, detail: str) -> None:
    """Put a record read from a Tocsin topic on ``mentions.dlq`` with ``reason``, once.

    Faust hands a record that failed to decode to every agent reading its topic (``alerts`` has
    two): the first writes the letter, the others find it done. The log gets one line per topic
    and minute (topic, partition, offset, reason), never the payload or the detail.
    """
    where = (message.topic, message.partition, message.offset)
    if where in _lettered:
        return
    _lettered.append(where)
    await dead_letters.send(value=_letter(message, reason, detail))
    services.metrics().internal_dead_letters.labels(message.topic).inc()
    now = time.monotonic()
    if now - _logged_at.get(message.topic, -LOG_EVERY_S) >= LOG_EVERY_S:
        _logged_at[message.topic] = now
        log.warning(
            "dead-lettered a record of %s (partition %d, offset %d): %s",
            *where,
            reason,
        )


class CheckedTopic(faust.Topic):  # type: ignore[misc]  # faust.Topic is untyped
    """A topic whose bad records are dead-lettered instead of thrown into its agents."""

    def _compile_decode(self) -> None:
        decode = self.schema.compile(  # type: ignore[attr-defined]  # on Schema, not SchemaT
            self.app,
            on_key_decode_error=self.on_key_decode_error,
            on_value_decode_error=self.on_value_decode_error,
        )
        value_type = self.value_type

        async def checked(message: Message, *, propagate: bool = False) -> Any:
            event = await decode(message, propagate=propagate)
            if event is None or not (
                isinstance(value_type, type) and issubclass(value_type, faust.Record)
            ):
                return event
            try:
                problem = records.shape_problem(event.value, value_type)
            except Exception as exc:  # raised here, it would stop the consumer and the worker
                problem = f"{type(exc).__name__}: {exc}"
            if problem is None:
                return event
            error = ValueDecodeError(f"{MALFORMED}: {problem}")
            if propagate:  # the conductor's path: it acks the record and calls the hook below
                raise error
            await self.on_value_decode_error(error, message)
            return None

        self.decode = checked  # type: ignore[method-assign]  # as faust.Topic does

    async def on_key_decode_error(self, exc: Exception, message: Message) -> None:
        await self._letter(message, UNDECODABLE, f"key: {exc}")

    async def on_value_decode_error(self, exc: Exception, message: Message) -> None:
        text = str(exc)
        if text.startswith(f"{MALFORMED}: "):
            await self._letter(message, MALFORMED, text.removeprefix(f"{MALFORMED}: "))
        else:
            await self._letter(message, UNDECODABLE, f"{type(exc).__name__}: {text}")

    async def _letter(self, message: Message, reason: str, detail: str) -> None:
        # Called from the consumer's own loop: anything raised here would stop the worker.
        try:
            await dead_letter_message(message, reason, detail)
        except Exception as exc:  # the record is then lost: said as loudly as the log allows
            log.error(
                "could not dead-letter a record of %s (partition %d, offset %d, %s): %s",
                message.topic,
                message.partition,
                message.offset,
                reason,
                type(exc).__name__,
            )


def _topic(spec: topology.TopicSpec, **kwargs: Any) -> TopicT:
    return CheckedTopic(
        app,
        topics=[spec.name],
        partitions=spec.partitions,
        config=dict(spec.config) or None,
        internal=False,
        **kwargs,
    )


# Raw input stays bytes: the decoder must see exactly what arrived, invalid UTF-8 included.
raw_mentions = _topic(topology.RAW, key_type=bytes, value_type=bytes, value_serializer="raw")
dead_letters = _topic(topology.DLQ, value_type=records.DeadLetter)
classified = _topic(topology.CLASSIFIED, key_type=str, value_type=records.ClassifiedMention)
buckets = _topic(topology.BUCKETS, key_type=str, value_type=records.Bucket)
signals = _topic(topology.SIGNALS, key_type=str, value_type=records.Signal)
alerts = _topic(topology.ALERTS, key_type=str, value_type=records.Alert)
deliveries = _topic(topology.DELIVERIES, key_type=str, value_type=records.DeliveryReceipt)
delivery_dead_letters = _topic(
    topology.DELIVERY_DLQ, key_type=str, value_type=records.DeliveryDeadLetter
)

# Live sources' checkpoints: read by the worker only to hold its one partition (the sources'
# owner when they run inside the worker, pipeline.sources.in_worker).
source_checkpoints = _topic(
    topology.SOURCE_CHECKPOINTS, key_type=bytes, value_type=bytes, value_serializer="raw"
)

# Rapid-response approvals, all keyed by draft id.
response_drafts = _topic(topology.DRAFTS, key_type=str, value_type=records.DraftRecord)
response_decisions = _topic(topology.DECISIONS, key_type=str, value_type=records.DecisionRecord)
response_approved = _topic(topology.APPROVED, key_type=str, value_type=records.ApprovedRecord)
response_published = _topic(topology.PUBLISHED, key_type=str, value_type=records.PublishReceipt)
response_audit = _topic(topology.AUDIT, key_type=str, value_type=records.AuditRecord)
ack_commands = _topic(topology.ACKS, key_type=str, value_type=records.AckCommand)
silence_commands = _topic(topology.SILENCES, key_type=str, value_type=records.SilenceCommand)
alert_groups_topic = _topic(topology.GROUPS, key_type=str, value_type=records.GroupCommand)
case_events = _topic(topology.CASES, key_type=str, value_type=records.CaseEvent)
erasures = _topic(topology.ERASURES, key_type=str, value_type=records.ErasureCommand)
