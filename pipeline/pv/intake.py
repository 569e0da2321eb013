"""What the case agents do with one record: a classified mention -> a case event, an event -> a case.

``case_event`` triages every mention the classifier gave the ``adverse_event`` topic and opens
its case (``pipeline.pv.cases.open_case``): ``new`` when valid, ``possible`` with the missing
criteria otherwise, with the clocks of the regions its product is sold in
(``TOCSIN_PV_MARKETS_FILE``). Day zero is the mention's ``received_at`` (when it reached Tocsin), or its
``created_at`` for a record written before ingest stamped arrivals. ``near_due_counts`` is what
the near-due gauge shows; ``keeper`` says when handled cases leave the table
(:mod:`pipeline.pv.retention`).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from models.pvhead import CaseCues
from pipeline import services
from pipeline.pv.cases import near_due, open_case
from pipeline.pv.regions import Markets, markets_from
from pipeline.pv.retention import CaseKeeper
from pipeline.pv.triage import Triage
from pipeline.records import HEALTH_TOPIC, CaseEvent, ClassifiedMention
from pipeline.topology import DEFAULT_PARTITIONS, partition_of

SYSTEM = "tocsin"


def triage() -> Triage:
    """This worker's triage (lexicon and product matchers compiled once), with its brands."""
    return services.made_once("pv_triage", Triage, lambda: Triage(services.matcher()))


def markets() -> Markets:
    """This worker's regions and markets (the file read once)."""
    return markets_from(services.settings().pv_markets_file)


def keeper() -> CaseKeeper:
    """This worker's case retention (``TOCSIN_PV_CASES_KEEP_DAYS``, ``TOCSIN_PV_CASES_MAX``): a
    case id's partition is the one ``pv.cases`` puts its key in."""

    def make() -> CaseKeeper:
        settings = services.settings()
        return CaseKeeper(
            keep=timedelta(days=settings.pv_cases_keep_days),
            max_cases=settings.pv_cases_max,
            partition_of=lambda key: partition_of(key.encode(), DEFAULT_PARTITIONS),
            clock=time.monotonic,
        )

    return services.made_once("pv_case_keeper", CaseKeeper, make)


def case_event(
    item: ClassifiedMention, rules: Triage, tz: ZoneInfo, regions: Markets | None = None
) -> CaseEvent | None:
    """The ``open`` event of ``item``'s case, or None when it is not an adverse event."""
    if HEALTH_TOPIC not in item.topics:
        return None
    mention = item.mention
    received = mention.received_at or mention.created_at
    cues = CaseCues.read(item.case_cues)
    assessment = rules.assess(mention.text, mention.author.id, cues)
    case = open_case(
        mention={
            "id": mention.id,
            "url": mention.url,
            "platform": mention.platform,
            "text": mention.text,
            "lang": item.lang,
            "brand": mention.brand,
            "author": mention.author.id,
            "author_key": mention.author.key_id,
            "created_at": mention.created_at.isoformat(),
        },
        assessment=assessment,
        received_at=received,
        tz=tz,
        markets=regions,
    )
    return CaseEvent(case_id=case["case_id"], kind="open", at=received, by=SYSTEM, case=case)


def near_due_counts(cases: Iterable[Mapping[str, Any]], now: datetime) -> dict[str, int]:
    """Near-due unhandled cases by seriousness (the ``tocsin_pv_cases_near_due`` labels)."""
    counts = {"serious": 0, "non_serious": 0}
    for case in near_due(cases, now):
        counts["serious" if case.get("serious") else "non_serious"] += 1
    return counts
