"""What the demo prints about alerts: one line per page, confirmations and resolutions named."""

from __future__ import annotations

from typing import Any

from pipeline.ops.demo import episodes, step_title


def step(state: str, updated: str, **extra: Any) -> dict[str, Any]:
    return {
        "dedup_key": "valmoreau:pricing:20261121T1415Z",
        "state": state,
        "severity": "critical" if state == "firing" else "info",
        "brand": "valmoreau",
        "topic": "pricing",
        "started_at": "2026-11-21T14:15:00+00:00",
        "updated_at": updated,
        **extra,
    }


EARLY = step(
    "firing", "2026-11-21T14:15:00+00:00", early=True, fired_at="2026-11-21T14:19:10+00:00"
)
CLOSE = step("firing", "2026-11-21T14:20:00+00:00")
RESOLVED = step("resolved", "2026-11-21T17:15:00+00:00")


def test_an_early_page_then_its_confirmation_then_its_resolution() -> None:
    assert step_title(EARLY, []) == (
        "FIRING [critical] valmoreau / pricing  paged at 2026-11-21T14:19Z, "
        "early, inside the filling bucket"
    )
    assert "confirmed at the close of the bucket ending 2026-11-21T14:20Z" in step_title(
        CLOSE, [EARLY]
    )
    assert step_title(RESOLVED, [EARLY, CLOSE]) == (
        "RESOLVED [info] valmoreau / pricing  (at 2026-11-21T17:15Z)"
    )


def test_a_page_at_close_says_so() -> None:
    assert step_title(CLOSE, []).endswith("paged at 2026-11-21T14:20Z, at the close of its bucket")


def test_the_summary_lists_each_paged_episode_once() -> None:
    other = {**CLOSE, "dedup_key": "valmoreau:boycott:20261121T1510Z", "topic": "boycott"}
    assert episodes([EARLY, CLOSE, other, RESOLVED]) == [EARLY, other]
    assert episodes([RESOLVED]) == []
