"""Fakes for unit tests: a classifier that needs no model, a topic and receivers that record."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from models.classifier import Prediction
from pipeline.delivery.receivers.base import GroupNotice, Receiver
from pipeline.records import Alert, ClassifiedMention

KEYWORDS = {
    "price": "pricing",
    "prix": "pricing",
    "fraud": "scandal",
    "boycott": "boycott",
    "nausea": "adverse_event",
    "petition": "advocacy",
}


@dataclass
class KeywordClassifier:
    """Labels by keyword: deterministic and instant, for agent tests that are not about the model."""

    version: str = "fake-keywords-1"
    calls: list[list[str]] = field(default_factory=list)

    def classify(self, texts: Sequence[str]) -> list[Prediction]:
        self.calls.append(list(texts))
        out = []
        for text in texts:
            low = text.lower()
            topics = tuple(sorted({t for k, t in KEYWORDS.items() if k in low})) or ("other",)
            scores = {t: (0.9 if t in topics else 0.05) for t in set(KEYWORDS.values()) | {"other"}}
            critical = any(t != "other" for t in topics)
            out.append(
                Prediction(
                    topics=topics,
                    scores=scores,
                    stance="critical" if critical else "neutral",
                    stance_scores={"critical": 0.8 if critical else 0.1},
                    lang="fr" if " le " in f" {low} " or "prix" in low else "en",
                )
            )
        return out


@dataclass
class RecordingTopic:
    """Stands in for a Faust topic in ``agent.test_context()`` tests: records every send."""

    sent: list[tuple[Any, Any]] = field(default_factory=list)

    async def send(self, *, key: Any = None, value: Any = None, **_: Any) -> None:
        self.sent.append((key, value))

    @property
    def values(self) -> list[Any]:
        return [v for _, v in self.sent]


class EncodedRecordingTopic(RecordingTopic):
    """Stands in for a topic its agent writes with encoded bytes (``classify_mentions``): each
    value must be bytes and is recorded decoded as the topic's reader decodes it."""

    async def send(self, *, key: Any = None, value: Any = None, **_: Any) -> None:
        assert isinstance(value, bytes), f"expected encoded bytes, got {type(value).__name__}"
        self.sent.append((key, ClassifiedMention.loads(value)))


class RecordingReceiver(Receiver):
    """The one fake alert receiver: records each step it accepts, after raising ``errors`` in order.

    ``got`` holds (alert, idempotency key) per accepted step; ``sent``, ``steps`` and ``bodies``
    are views of it. It keeps the base class's ``send_group`` (one call per alert, like
    PagerDuty); :class:`GroupRecordingReceiver` renders a group itself (like Slack).
    """

    def __init__(
        self,
        name: str = "recording",
        *,
        cleared: bool = False,
        errors: Iterable[Exception] = (),
        status: int = 200,
    ) -> None:
        self.name = name
        self.health_data_cleared = cleared
        self.errors = list(errors)
        self.status = status
        self.calls = 0
        self.got: list[tuple[Alert, str]] = []

    async def send(self, alert: Alert, *, idempotency_key: str) -> int | None:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        self.got.append((alert, idempotency_key))
        return self.status

    @property
    def sent(self) -> list[tuple[str, str]]:
        """(dedup key, state) of each accepted step."""
        return [(alert.dedup_key, alert.state) for alert, _ in self.got]

    @property
    def steps(self) -> list[tuple[str, str]]:
        """(dedup key, step name from the idempotency key ``<dedup key>/<step>/<receiver>``)."""
        return [(alert.dedup_key, key.split("/")[1]) for alert, key in self.got]

    @property
    def bodies(self) -> list[str]:
        """Each accepted alert serialised the way an HTTP body would carry it."""
        return [json.dumps(alert.to_representation(), default=str) for alert, _ in self.got]


class GroupRecordingReceiver(RecordingReceiver):
    """A :class:`RecordingReceiver` with its own group rendering: one call per notification."""

    def __init__(self, name: str = "slack", **kwargs: Any) -> None:
        super().__init__(name, **kwargs)
        #: (idempotency key, dedup keys, sequence) of each group notification.
        self.groups: list[tuple[str, list[str], int]] = []

    async def send_group(self, notice: GroupNotice, *, idempotency_key: str) -> int | None:
        self.groups.append((idempotency_key, [a.dedup_key for a in notice.alerts], notice.sequence))
        return self.status
