"""``tocsin privacy erase`` on a real worker and broker: afterwards no topic or table holds the author.

Three authors post about a price rise; the worker ingests (pseudonymising them, keeping patients'
handles for this test so handles reach the tables), classifies and counts. Before the erasure the
victim's raw id and handle are on ``mentions.raw``, their pseudonym and texts on the mention topics
and in the ``open_buckets`` changelog. After it, a scan of every topic Tocsin owns (delete-policy
topics from their log start; compacted changelogs by the latest value of each key, which is what
compaction keeps) finds none of their ids, handle, mention ids or texts except in the one
pharmacovigilance case their side-effect report opened (kept: a legal record, and counted), the
other authors are still in the tables, and the audit log has the erasure.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from click.testing import CliRunner
from pydantic import SecretStr

from pipeline.cli import cli
from pipeline.ingest.pseudonyms import Pseudonymiser
from pipeline.ops.erase import latest
from pipeline.ops.procs import Broker, Worker
from pipeline.snapshot import read_snapshot
from pipeline.topology import AUDIT, changelog_name, owned_topics
from tests.integration.conftest import consume, produce
from tests.integration.test_delivery_worker import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

KEY = "integration-pseudonym-key-0123456789"
VICTIM, HANDLE = "u4711", "@jo_4711"
OTHERS = ("u0001", "u0002")


AE_AT = 5  # the victim's sixth mention reports a side effect: it opens a case, which is kept


def text(author: str, i: int) -> str:
    if author == VICTIM and i == AE_AT:
        return "I started Glytera last week and now I have terrible nausea every morning"
    return f"{author} says the Glytera price hike number {i} from Brenmoor is outrageous"


def mention(author: str, i: int, at: datetime) -> bytes:
    return json.dumps(
        {
            "id": f"{author}:m{i}",
            "platform": "x",
            "url": f"https://x.example/{author}/{i}",
            "created_at": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "text": text(author, i),
            "author": {
                "id": author,
                "handle": HANDLE if author == VICTIM else f"@{author}",
                "followers": 5000 if author == VICTIM else 10,  # the victim is a top author
                "kind": "patient",
            },
            "kind": "post",
        }
    ).encode()


def scan(bootstrap: str) -> dict[str, list[str]]:
    """Every topic Tocsin owns as JSON texts: delete-policy topics whole, changelogs by the
    latest value of each key (what compaction keeps)."""
    out: dict[str, list[str]] = {}
    for spec in owned_topics():
        if spec.config.get("cleanup.policy") == "compact":
            values = latest(bootstrap, spec.name, 60)
            out[spec.name] = [json.dumps(v, ensure_ascii=False) for v in values.values()]
        else:
            out[spec.name] = [
                (m.value or b"").decode("utf-8", "replace")
                for m in read_snapshot(bootstrap, spec.name, timeout_s=60)
            ]
    return out


def found(texts: dict[str, list[str]], needles: list[str]) -> dict[str, list[str]]:
    return {
        topic: sorted({n for n in needles for t in values if n in t})
        for topic, values in texts.items()
        if any(n in t for n in needles for t in values)
    }


@pytest.fixture()
def key_env(monkeypatch: pytest.MonkeyPatch, reread_settings: None) -> None:
    monkeypatch.setenv("TOCSIN_PSEUDONYM_KEY", KEY)


def test_erase_leaves_no_trace_of_the_author(
    broker: Broker, start_worker: Callable[..., Worker], key_env: None
) -> None:
    start_worker(
        TOCSIN_PSEUDONYM_KEY=KEY,
        TOCSIN_HANDLES_KEPT_FOR="patient",
        TOCSIN_BUCKET_SECONDS="60",
        TOCSIN_ALLOWED_LATENESS_S="30",
    )
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=30)
    payloads = [
        mention(author, i, t0 + timedelta(seconds=20 * i + k))
        for i in range(12)
        for k, author in enumerate((VICTIM, *OTHERS))
    ]
    produce(broker.bootstrap, "mentions.raw", payloads, keys=[b"brenmoor"] * len(payloads))
    consume(broker.bootstrap, "mentions.classified", want=len(payloads), timeout_s=180)
    pseudonym = Pseudonymiser(SecretStr(KEY), "k1").of("x", VICTIM)
    others = [Pseudonymiser(SecretStr(KEY), "k1").of("x", a) for a in OTHERS]
    buckets = changelog_name("open_buckets")

    def in_tables(needle: str) -> bool:
        return any(needle in json.dumps(v) for v in latest(broker.bootstrap, buckets, 30).values())

    wait_until(lambda: in_tables(pseudonym), 120, "the victim in the open_buckets changelog")
    needles = [
        json.dumps(VICTIM),  # quoted: "u4711" is also a prefix of their mention ids
        HANDLE,
        pseudonym,
        *(f"{VICTIM}:m{i}" for i in range(12)),
        *(text(VICTIM, i) for i in range(12)),
    ]
    before = found(scan(broker.bootstrap), needles)
    assert {"mentions.raw", "mentions.classified", buckets} <= set(before)
    assert HANDLE in before[buckets]  # handles kept for patients in this test reach the tables

    result = CliRunner().invoke(
        cli,
        [
            "privacy",
            "erase",
            "--bootstrap",
            broker.bootstrap,
            "--author",
            VICTIM,
            "--platform",
            "x",
            "--handle",
            HANDLE,
            "--by",
            "dpo@brenmoor.example",
            "--timeout",
            "180",
        ],
    )
    assert result.exit_code == 0, result.output
    report: dict[str, Any] = json.loads(result.stdout)
    assert report["mentions"] == 12 and report["table_entries"]["open_buckets"] >= 1

    after = scan(broker.bootstrap)
    # pharmacovigilance cases are kept (a legal record), and counted; nothing else holds them
    kept = found(after, needles)
    assert set(kept) == {"pv.cases", changelog_name("cases")}
    assert kept["pv.cases"] == sorted([pseudonym, f"{VICTIM}:m{AE_AT}", text(VICTIM, AE_AT)])
    assert report["kept_cases"] == 1
    assert any(o in t for o in others for t in after[buckets])  # the others are still counted
    [entry] = [json.loads(r)["entry"] for r in after[AUDIT.name] if "erase_author" in r]
    assert entry["actor"] == "dpo@brenmoor.example" and entry["outcome"] == "ok"
    assert json.loads(entry["detail"])["mentions"] == 12
