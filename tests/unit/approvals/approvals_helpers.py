"""Shared builders for the approval unit tests: the real config files, a fixed clock, alerts."""

from __future__ import annotations

from datetime import UTC, date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from pipeline.approvals.drafts import Draft, propose
from pipeline.approvals.library import Library, load_library
from pipeline.approvals.policy import Policy, load_policy
from pipeline.approvals.state import Actor, DraftCreated, DraftState, decide
from pipeline.approvals.users import UserDirectory, load_users
from pipeline.brands import BrandSpec, load_brands
from pipeline.records import Alert

CONFIG = Path(__file__).resolve().parents[3] / "pipeline" / "config"
TODAY = date(2026, 11, 22)
NOW = datetime(2026, 11, 22, 16, 0, tzinfo=UTC)
LINK = "https://www.example.com/statements"
TOKENS = {
    "c.moreau": "resp-token-0123456789abcdef",
    "e.lindqvist": "exec-token-0123456789abcdef",
    "s.naidoo": "med-token-0123456789abcdef",
}


# Loaded once per test session: these are immutable, and Hypothesis calls them thousands of times.
@lru_cache(maxsize=1)
def users() -> UserDirectory:
    raw = ",".join(f"{user}:{token}" for user, token in TOKENS.items())
    return load_users(CONFIG / "users.yaml", tokens=SecretStr(raw), env={})


@lru_cache(maxsize=1)
def policy() -> Policy:
    from models.taxonomy import load_taxonomy

    return load_policy(CONFIG / "approval_policy.yaml", topics=load_taxonomy().ids, users=users())


@lru_cache(maxsize=1)
def library() -> Library:
    from models.taxonomy import load_taxonomy

    return load_library(CONFIG / "responses.yaml", today=TODAY, topics=load_taxonomy().ids)


@lru_cache(maxsize=1)
def brands() -> tuple[BrandSpec, ...]:
    return tuple(load_brands(CONFIG / "brands.yaml").brands)


def alert(
    topic: str = "adverse_event",
    *,
    brand: str = "valmoreau",
    severity: str = "critical",
    texts: tuple[str, ...] = ("Third day on Somnessa and I keep sleepwalking. Scary.",),
    why: dict[str, Any] | None = None,
) -> Alert:
    return Alert(
        dedup_key=f"{brand}|{topic}|2026-11-22T15:30:00+00:00",
        state="firing",
        severity=severity,
        brand=brand,
        topic=topic,
        started_at=datetime(2026, 11, 22, 15, 30, tzinfo=UTC),
        updated_at=datetime(2026, 11, 22, 15, 35, tzinfo=UTC),
        observed=40.0,
        expected=4.0,
        score=1e-9,
        summary="test alert",
        why=why or {},
        top_mentions=[
            {"id": f"m{i}", "text": text, "reach": 100 - i} for i, text in enumerate(texts)
        ],
    )


def actor(user_id: str, channel: str = "web", addr: str = "192.0.2.10") -> Actor:
    return Actor.of(users().get(user_id), channel, addr)


def first_draft(topic: str = "adverse_event", **kw: Any) -> Draft:
    drafts = propose(alert(topic, **kw), library(), brands=brands(), today=TODAY, link=LINK)
    assert drafts, f"no draft proposed for {topic}"
    return drafts[0]


def created(topic: str = "adverse_event", by: Actor | None = None, **kw: Any) -> DraftState:
    draft = first_draft(topic, **kw)
    state, entries = decide(None, DraftCreated(draft), by or Actor.system(), policy(), NOW)
    assert len(entries) == 1
    return state
