"""Fakes for unit tests: a classifier that needs no model, a topic that records what is sent."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from models.classifier import Prediction

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
