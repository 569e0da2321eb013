"""Console store benchmark: the inbox over 10,000 alerts and search over 1,000,000 mentions.

A script, not a test (it prints figures and asserts nothing). It fills a fresh store (SQLite in a
temporary folder, or with ``--backend postgres`` a fresh database on a throw-away PostgreSQL
server it starts and stops, or on ``--dsn``) through the store's real write path (the records as
the topics carry them, in the feed's batches), then times the queries the pages run, through the
same view-model functions the pages call (``pipeline.console.views``), from one reader thread
like a page handler:

* inbox: unfiltered, by brand, by state, by brand + topic + severity (100 rows each);
* search: a common word, a rare word, word + brand, topic only, brand only, word + a day's
  time range, platform + language (50 newest each);
* alert detail: the 48-hour series with the band, receipts, steps and top mentions.

    python -m bench.console_bench                      # 10,000 alerts, 1,000,000 mentions
    python -m bench.console_bench --mentions 200000    # a quicker run
    python -m bench.console_bench --backend postgres   # the same on PostgreSQL
"""

from __future__ import annotations

import argparse
import contextlib
import random
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pipeline.console import views
from pipeline.console.rows import InboxFilter, Incoming, MentionQuery, Store
from pipeline.console.store import ConsoleStore

BRANDS = ("valmoreau", "brenmoor", "kestrelle", "oradyn", "pellucid", "tamsin")
TOPICS = (
    "pricing",
    "scandal",
    "boycott",
    "adverse_event",
    "patient_advocacy",
    "supply",
    "regulatory",
    "trial_results",
    "marketing",
    "access",
)
PLATFORMS = ("x", "reddit", "facebook", "news", "forum", "youtube")
LANGS = ("en", "fr", "de", "es")
STATES = ("firing", "acknowledged", "escalated", "resolved")
SEVERITIES = ("info", "warning", "critical")
WORDS = [
    "price",
    "hike",
    "insurance",
    "pharmacy",
    "shortage",
    "recall",
    "lawsuit",
    "trial",
    "patients",
    "doctor",
    "nurse",
    "side",
    "effect",
    "headache",
    "nausea",
    "rash",
    "approval",
    "agency",
    "fda",
    "ema",
    "boycott",
    "protest",
    "petition",
    "scandal",
    "whistleblower",
    "cost",
    "coupon",
    "generic",
    "launch",
    "study",
    "results",
    "data",
    "safety",
    "warning",
    "label",
    "dose",
    "tablet",
    "injection",
    "supply",
    "delay",
    "stock",
    "refill",
    "prescription",
    "access",
    "coverage",
    "copay",
    "discount",
    "outrage",
    "support",
    "thanks",
]
RARE = ("zentavo", "glytera", "orvamab", "tesliquin")
END = datetime(2026, 11, 30, tzinfo=UTC)
BATCH = 20_000


def _alerts(n: int, rng: random.Random) -> Iterator[dict[str, Any]]:
    for i in range(n):
        started = END - timedelta(minutes=5 * rng.randrange(30 * 288))
        brand, topic = rng.choice(BRANDS), rng.choice(TOPICS)
        yield {
            "dedup_key": f"{brand}:{topic}:{started:%Y%m%dT%H%MZ}:{i}",
            "state": rng.choice(STATES),
            "severity": rng.choice(SEVERITIES),
            "brand": brand,
            "topic": topic,
            "started_at": started.isoformat(),
            "updated_at": (started + timedelta(minutes=rng.randrange(120))).isoformat(),
            "observed": float(rng.randrange(10, 200)),
            "expected": float(rng.randrange(1, 10)),
            "score": 0.999,
            "summary": f"{brand} {topic}: a surge",
            "top_mentions": [{"text": "a mention", "url": "https://x.example/1", "platform": "x"}],
            "fired_at": started.isoformat(),
        }


def _mentions(n: int, rng: random.Random) -> Iterator[dict[str, Any]]:
    span = 30 * 86400
    for i in range(n):
        at = END - timedelta(seconds=span * i / n)  # arrival order is roughly time order
        words = rng.sample(WORDS, 9)
        if rng.random() < 0.002:
            words.append(rng.choice(RARE))
        yield {
            "mention": {
                "id": f"m:{i}",
                "platform": rng.choice(PLATFORMS),
                "text": " ".join(words),
                "created_at": at.isoformat(),
                "brand": rng.choice(BRANDS),
                "author": {"id": f"u{rng.randrange(50_000)}", "followers": rng.randrange(10**5)},
                "url": f"https://x.example/{i}",
            },
            "topics": rng.sample(TOPICS, rng.choice((1, 1, 2))),
            "stance": rng.choice(("critical", "neutral", "supportive")),
            "lang": rng.choice(LANGS),
        }


def _signals(rng: random.Random) -> Iterator[dict[str, Any]]:
    for brand in BRANDS:
        for topic in TOPICS:
            for k in range(2 * 288):
                start = END - timedelta(minutes=5 * (k + 1))
                expected = 3.0 + rng.random()
                yield {
                    "brand": brand,
                    "topic": topic,
                    "start": start.isoformat(),
                    "end": (start + timedelta(minutes=5)).isoformat(),
                    "observed": float(rng.randrange(0, 9)),
                    "expected": expected,
                    "lower": max(0.0, expected - 2),
                    "upper": expected + 4,
                    "score": 0.5,
                    "severity": "info",
                    "firing": False,
                }


def _fill(store: Store, topic: str, records: Iterator[dict[str, Any]]) -> float:
    t0 = time.perf_counter()
    batch: list[Incoming] = []
    offset = 0
    for record in records:
        batch.append(Incoming(topic, 0, offset, record))
        offset += 1
        if len(batch) == BATCH:
            store.write(batch)
            batch = []
    if batch:
        store.write(batch)
    return offset / (time.perf_counter() - t0)


def _time(call: Callable[[], Any], runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        t0 = time.perf_counter()
        call()
        out.append((time.perf_counter() - t0) * 1000)
    return out


def _row(name: str, ms: list[float]) -> str:
    ms = sorted(ms)
    p95 = ms[min(len(ms) - 1, int(0.95 * len(ms)))]
    return f"{name:<34} {statistics.median(ms):8.2f} {p95:8.2f} {ms[-1]:8.2f}"


def _open(
    args: argparse.Namespace, stack: contextlib.ExitStack
) -> tuple[Store, Callable[[], int], Callable[[], None]]:
    """The store to fill, its size on disk in bytes, and what to run once it is filled."""
    if args.backend == "sqlite":
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="console-bench-")))
        return (
            ConsoleStore.open(tmp / "console.sqlite3"),
            lambda: sum(f.stat().st_size for f in tmp.iterdir()),
            lambda: None,
        )
    import psycopg

    from pipeline.console.pgstore import PgConsoleStore
    from pipeline.ops.postgres import Postgres

    dsn = args.dsn
    if dsn is None:
        server = Postgres()
        stack.callback(server.stop)
        server.start()
        dsn = server.database("console_bench")
    pg = PgConsoleStore.open(dsn)
    if not pg.claim_writer():
        raise SystemExit("another feed holds this store's writer lock")

    def size() -> int:
        with psycopg.connect(dsn) as conn:
            row = conn.execute("SELECT pg_database_size(current_database())").fetchone()
        return int(row[0]) if row else 0

    def analyze() -> None:
        # What autovacuum does after a bulk load: the planner's statistics (word frequencies
        # included), without which it sorts every match of a common word instead of walking
        # the time index newest first.
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("ANALYZE")

    return pg, size, analyze


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--alerts", type=int, default=10_000)
    parser.add_argument("--mentions", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=60, help="timed runs per query kind")
    parser.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument(
        "--dsn",
        help="an empty PostgreSQL database to fill (default: a throw-away server started and "
        "stopped by the script)",
    )
    args = parser.parse_args()
    rng = random.Random(19)

    with contextlib.ExitStack() as stack:
        store, size_of, settle = _open(args, stack)
        rate_a = _fill(store, "alerts", _alerts(args.alerts, rng))
        rate_s = _fill(store, "signals", _signals(rng))
        rate_m = _fill(store, "mentions.classified", _mentions(args.mentions, rng))
        settle()
        counts = store.counts()
        size = size_of() / 1e6
        print(
            f"store: {counts['alerts']} alerts ({rate_a:,.0f}/s written), "
            f"{counts['signals']} signals ({rate_s:,.0f}/s), {counts['mentions']} mentions "
            f"({rate_m:,.0f}/s), {size:,.0f} MB on disk"
        )

        def pick(seq: Sequence[str]) -> str:
            return rng.choice(seq)

        day = END.timestamp() - 86400 * rng.randrange(1, 29)
        inbox: dict[str, Callable[[], Any]] = {
            "inbox, no filter": lambda: views.inbox(store, InboxFilter()),
            "inbox, brand": lambda: views.inbox(store, InboxFilter(brand=pick(BRANDS))),
            "inbox, state": lambda: views.inbox(store, InboxFilter(state=pick(STATES))),
            "inbox, brand+topic+severity": lambda: views.inbox(
                store,
                InboxFilter(brand=pick(BRANDS), topic=pick(TOPICS), severity=pick(SEVERITIES)),
            ),
        }
        search: dict[str, Callable[[], Any]] = {
            "search, common word": lambda: views.search(
                store, MentionQuery(text=pick(WORDS)), cleared=True
            ),
            "search, rare word": lambda: views.search(
                store, MentionQuery(text=pick(RARE)), cleared=True
            ),
            "search, word + brand": lambda: views.search(
                store, MentionQuery(text=pick(WORDS), brand=pick(BRANDS))
            ),
            "search, two words + topic": lambda: views.search(
                store,
                MentionQuery(text=f"{pick(WORDS)} {pick(WORDS)}", topic=pick(TOPICS)),
            ),
            "search, topic only": lambda: views.search(store, MentionQuery(topic=pick(TOPICS))),
            "search, brand only": lambda: views.search(store, MentionQuery(brand=pick(BRANDS))),
            "search, word + one day": lambda: views.search(
                store, MentionQuery(text=pick(WORDS), since=day, until=day + 86400)
            ),
            "search, platform + language": lambda: views.search(
                store, MentionQuery(platform=pick(PLATFORMS), lang=pick(LANGS))
            ),
        }
        keys = [a["dedup_key"] for a in store.inbox(InboxFilter(), limit=500)]
        detail = {
            "alert detail (48 h series)": lambda: views.detail(
                store, rng.choice(keys), now=END.timestamp()
            )
        }
        print(f"\n{'query (ms)':<34} {'p50':>8} {'p95':>8} {'max':>8}")
        every: dict[str, list[float]] = {"inbox": [], "search": []}
        for group, calls in (("inbox", inbox), ("search", search), ("detail", detail)):
            for name, call in calls.items():
                call()  # warm the page cache once, as a serving worker's would be
                ms = _time(call, args.runs)
                every.setdefault(group, []).extend(ms)
                print(_row(name, ms))
        print()
        print(_row("inbox, all kinds", every["inbox"]))
        print(_row("search, all kinds", every["search"]))
        store.close()


if __name__ == "__main__":
    main()
