"""Which records of ``mentions.raw`` reach the model: what ``classify_mentions`` asks of ingest.

A raw record is untrusted bytes. For each one, in offset order, :class:`Admission` gives one of:

- a :class:`~pipeline.records.DeadLetter`: bad input, whole, with its reason, topic, partition and
  offset (:func:`pipeline.ingest.intake.intake`, the rule HTTP ingest applies too). The caller
  sends it to ``mentions.dlq``: never dropped, never a crash;
- nothing, counted in ``tocsin_mentions_filtered_total`` by reason: a valid mention that names no
  tracked brand (``no_brand``, noise, not an error), or a later copy of an id accepted already at
  an earlier offset of the same partition (``duplicate``, :mod:`pipeline.ingest.dedup`);
- a :class:`~pipeline.records.Mention`, its author pseudonymised, stamped with its raw position
  (counting is exactly-once by it) and the time it reached Tocsin (the raw record's timestamp).

The raw topic is keyed by mention id (:mod:`pipeline.ingest.keys`), so a single brand's mentions
spread over every partition and every worker, while the copies of one id are read from one
partition, by one worker, in offset order: the id memory is per partition.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from faust.types import EventT

from pipeline import services
from pipeline.brands import BrandMatcher
from pipeline.ingest import pseudonyms
from pipeline.ingest.decoding import Limits
from pipeline.ingest.dedup import ChangelogTable, IdMemory, Verdict, arrival
from pipeline.ingest.intake import intake
from pipeline.ingest.pseudonyms import Pseudonymiser
from pipeline.metrics import TocsinMetrics
from pipeline.records import DeadLetter, Mention


def arrived(timestamp: float | None) -> datetime | None:
    """The raw record's broker timestamp (seconds) as the time the mention reached Tocsin."""
    return datetime.fromtimestamp(timestamp, UTC) if timestamp and timestamp > 0 else None


@dataclass
class Admitted:
    """One batch's outcome: the mentions for the model and the dead letters, each in raw order."""

    mentions: list[Mention] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)


@dataclass
class Admission:
    """The decoder's limits, the brand matcher, the pseudonymiser and the id memory of a worker."""

    limits: Limits
    matcher: BrandMatcher
    pseudonyms: Pseudonymiser
    memory: IdMemory
    metrics: TocsinMetrics

    @classmethod
    def configured(cls, table: ChangelogTable) -> Admission:
        """This worker's admission, its id memory in ``table`` (the ``mention_ids`` table)."""
        metrics = services.metrics()
        cfg = services.settings()
        memory = IdMemory(
            table,
            cfg.ingest.dedup_horizon_s,
            cfg.ingest.dedup_max_ids,
            on_forget=lambda reason: metrics.dedup_forgotten.labels(reason).inc(),
        )
        return cls(
            Limits.from_settings(cfg),
            services.matcher(),
            pseudonyms.configured(),
            memory,
            metrics,
        )

    def admit(self, events: Sequence[EventT[Any]]) -> Admitted:
        """Every event of a batch, in order (see the module docstring)."""
        out = Admitted()
        for event in events:
            message = event.message
            result = self.one(
                event.value, message.topic, message.partition, message.offset, message.timestamp
            )
            if isinstance(result, DeadLetter):
                out.dead_letters.append(result)
            elif result is not None:
                out.mentions.append(result)
        return out

    def one(
        self, value: object, topic: str, partition: int, offset: int, timestamp: float | None
    ) -> Mention | DeadLetter | None:
        """The record read at ``topic``/``partition``/``offset``, Kafka timestamp ``timestamp``."""
        result = intake(
            value,
            topic=topic,
            partition=partition,
            offset=offset,
            limits=self.limits,
            matcher=self.matcher,
            pseudonyms=self.pseudonyms,
            received_at=arrived(timestamp),
        )
        if result is None:
            self.metrics.filtered.labels("no_brand").inc()
            return None
        if isinstance(result, DeadLetter):
            return result
        verdict = self.memory.check(result.id, partition, offset, arrival(timestamp))
        if verdict is Verdict.DUPLICATE:
            self.metrics.filtered.labels("duplicate").inc()
            return None
        return result
