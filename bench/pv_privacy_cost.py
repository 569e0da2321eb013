"""What the privacy and case steps add per mention, on this machine (one core, no broker).

    PYTHONPATH=$PWD .venv/bin/python bench/pv_privacy_cost.py [--n 2000]

* ``case_event`` on an ``adverse_event`` mention: the rule triage and the case record
  (``triage_cases`` does this for every mention the classifier tags adverse_event);
* ``case_event`` on any other mention: the topic check alone;
* decoding one ``ClassifiedMention`` (``triage_cases`` reads every classified mention, as
  ``count_mentions`` does);
* pseudonymising one author at ingest (HMAC-SHA256).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from pydantic import SecretStr

from pipeline.brands import load_brands
from pipeline.ingest.pseudonyms import Pseudonymiser
from pipeline.pv.intake import case_event
from pipeline.pv.triage import Triage
from pipeline.records import Author, ClassifiedMention, Mention

TEXTS = (
    "Two days after my first Glytera injection I broke out in hives and couldn't stop vomiting",
    "Started Glytera on Monday and now I have crushing headaches and my vision keeps blurring",
    "My mother was hospitalised with a swollen throat after her second dose of Glytera",
    "Depuis que je prends Glytera j'ai des vertiges et des nausées tous les matins.",
)


def classified(i: int, topics: list[str]) -> ClassifiedMention:
    now = datetime.now(UTC)
    mention = Mention(
        id=f"x:{i}",
        platform="x",
        text=TEXTS[i % len(TEXTS)],
        created_at=now,
        brand="brenmoor",
        author=Author(id="ab" * 16, key_id="k1"),
        brands=["brenmoor"],
        url=f"https://x.example/{i}",
        received_at=now,
    )
    scores = dict.fromkeys(topics, 0.9)
    return ClassifiedMention(
        mention=mention,
        topics=topics,
        scores=scores,
        stance="critical",
        lang="en",
        model_version="v",
    )


T = TypeVar("T")


def per_item_us(items: Sequence[T], call: Callable[[T], object]) -> float:
    began = time.perf_counter()
    for item in items:
        call(item)
    return (time.perf_counter() - began) / len(items) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000, help="items per measurement")
    n = parser.parse_args().n
    rules = Triage(load_brands(Path("pipeline/config/brands.yaml")))
    tz = ZoneInfo("UTC")
    adverse = [classified(i, ["adverse_event"]) for i in range(n)]
    other = [classified(i, ["pricing"]) for i in range(n)]
    raw = [c.dumps() for c in other]
    pseudonyms = Pseudonymiser(SecretStr("bench-pseudonym-key-0123456789abcdef"), "k1")
    authors: list[dict[str, Any]] = [
        {"id": f"u{i}", "kind": "patient", "handle": "@h"} for i in range(n)
    ]
    rows = {
        "case_event, adverse_event mention": per_item_us(
            adverse,
            lambda c: case_event(c, rules, tz),
        ),
        "case_event, other mention": per_item_us(
            other,
            lambda c: case_event(c, rules, tz),
        ),
        "decode one ClassifiedMention": per_item_us(raw, lambda b: ClassifiedMention.loads(b)),
        "pseudonymise one author": per_item_us(
            authors,
            lambda a: pseudonyms.author("x", a),
        ),
    }
    for name, us in rows.items():
        print(f"{name:<36} {us:8.1f} us")


if __name__ == "__main__":
    main()
