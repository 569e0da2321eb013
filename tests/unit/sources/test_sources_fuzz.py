"""10,000 garbage events per source kind: none crashes a source; each gets an outcome.

Seeded mutation fuzzing (reproducible: the seed is in the test): valid protocol events (Jetstream
frames, Mastodon statuses, Reddit listing children, X stream lines, RSS documents) are broken
at the JSON level (a field deleted, retyped, replaced by a huge, nested, empty or surrogate value;
the object wrapped in a list) and at the byte level (truncated, bytes flipped, invalid UTF-8
spliced in), then passed through the kind's own mapping and the runner, exactly as a frame from the
network is. Every event must end as produced, dead-lettered with one of the decoder's reason codes,
unmatched, skipped or a repeat, and the counts must add up: nothing vanishes, nothing raises.
"""

from __future__ import annotations

import copy
import json
import random
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from prometheus_client import CollectorRegistry

from pipeline.brands import load_brands
from pipeline.delivery.retry import RetryPolicy
from pipeline.errors import INVALID_MENTION_REASONS
from pipeline.ingest.decoding import Limits
from pipeline.records import DeadLetter
from pipeline.safejson import BadJson, loads
from pipeline.settings import make_settings
from pipeline.sources.base import Event, Malformed
from pipeline.sources.checkpoints import MemoryCheckpoints
from pipeline.sources.config import JetstreamEntry, MastodonEntry, RedditEntry, RssEntry, XEntry
from pipeline.sources.jetstream import JetstreamSource
from pipeline.sources.mastodon import MastodonSource
from pipeline.sources.metrics import SourceMetrics
from pipeline.sources.reddit import RedditSource
from pipeline.sources.rss import RssSource, _entries, _parse
from pipeline.sources.runner import Runner, SourceStats
from pipeline.sources.x_stream import XStreamSource

N = 10_000
NOW = datetime.now(UTC)
STAMP = NOW.isoformat().replace("+00:00", "Z")

WEIRD: list[Any] = [
    None,
    True,
    0,
    -1,
    2**70,
    1.5,
    1e308,
    "",
    " ",
    "\ud800",
    "Glytera",
    "x" * 6000,  # over TOCSIN_MAX_TEXT_CHARS (5000)
    "did:plc:",
    "at://did:plc:a/app.bsky.feed.post/rk",
    "9999-12-31T23:59:59-23:59",
    "2026-13-45T99:99:99Z",
    STAMP,
    [],
    [1, "a", None],
    {},
    {"$type": "app.bsky.embed.record"},
    {"a": {"b": {"c": {"d": [[[[[]]]]]}}}},
]


class Tally:
    def __init__(self) -> None:
        self.mentions: list[bytes] = []
        self.letters: list[DeadLetter] = []

    async def mention(self, key: bytes, payload: bytes) -> None:
        self.mentions.append(payload)

    async def dead_letter(self, letter: DeadLetter) -> None:
        self.letters.append(letter)

    async def flush(self) -> None:
        return None

    async def close(self) -> None:
        return None


def runner(source: Any, sink: Tally) -> Runner:
    cfg = make_settings()
    return Runner(
        source=source,
        name="fuzz",
        sink=sink,
        store=MemoryCheckpoints(),
        matcher=load_brands(cfg.brands_file),
        limits=Limits.from_settings(cfg),
        metrics=SourceMetrics(CollectorRegistry()),
        policy=RetryPolicy(),
    )


def paths(obj: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(obj, dict):
        for key, value in obj.items():
            out += paths(value, (*prefix, key))
    elif isinstance(obj, list):
        for i, value in enumerate(obj):
            out += paths(value, (*prefix, i))
    return out


def weird(rng: random.Random) -> Any:
    return copy.deepcopy(rng.choice(WEIRD))  # a fresh copy: mutations must not alias


def mutate(rng: random.Random, seed_obj: Any) -> bytes:
    """One broken variant of ``seed_obj``, as bytes."""
    obj = copy.deepcopy(seed_obj)
    for _ in range(rng.randint(1, 3)):
        where = rng.choice(paths(obj))
        if not where:
            obj = rng.choice([obj, [obj], weird(rng)])
            continue
        parent = obj
        for part in where[:-1]:
            parent = parent[part]
        last = where[-1]
        action = rng.random()
        if action < 0.3 and isinstance(parent, dict):
            del parent[last]
        elif action < 0.4 and isinstance(parent, dict):
            parent[rng.choice(["extra", "$type", "kind", "id"])] = weird(rng)
        else:
            parent[last] = weird(rng)
    try:
        data = json.dumps(obj, ensure_ascii=rng.random() < 0.5).encode("utf-8", "surrogatepass")
    except (TypeError, ValueError):
        data = b"{}"
    roll = rng.random()
    if roll < 0.1:
        data = data[: rng.randint(0, len(data))]
    elif roll < 0.2 and data:
        i = rng.randrange(len(data))
        data = data[:i] + bytes([rng.randrange(256)]) + data[i + 1 :]
    elif roll < 0.25:
        data = data[: len(data) // 2] + b"\xff\xfe\xc0" + data[len(data) // 2 :]
    elif roll < 0.27:
        data = b"[" * 5000 + b"]" * 5000
    elif roll < 0.272:
        data = b'{"text": "' + b"x" * 600_000 + b'"}'  # over the 512 KiB event limit
    return data


def check(stats: SourceStats, sink: Tally, n: int) -> None:
    assert stats.events == n
    letters = sum(stats.dead_letters.values())
    skipped = sum(stats.skipped.values())
    assert stats.produced + letters + stats.unmatched + skipped + stats.duplicates == n, stats
    assert len(sink.mentions) == stats.produced and len(sink.letters) == letters
    assert set(stats.dead_letters) <= set(INVALID_MENTION_REASONS), stats.dead_letters
    assert all(letter.reason and letter.detail for letter in sink.letters)
    for payload in sink.mentions:  # what was produced is the mentions.raw contract
        mention = json.loads(payload)
        assert {"id", "platform", "text", "created_at", "author"} <= set(mention)
    # The fuzzing reached every outcome, not only the dead-letter one.
    assert stats.produced > 0 and letters > 0 and stats.unmatched > 0, stats


async def fuzz(
    source: Any, to_event: Callable[[bytes], Event], seeds: list[Any], seed: int
) -> None:
    rng = random.Random(seed)
    sink = Tally()
    run = runner(source, sink)
    for i in range(N):
        base = seeds[i % len(seeds)]
        payload = json.dumps(base).encode() if i % 7 == 0 else mutate(rng, base)
        await run.handle(to_event(payload))
    check(run.stats, sink, N)


def jetstream_post(i: int, text: str) -> dict[str, Any]:
    return {
        "did": "did:plc:alice",
        "time_us": 1_760_000_000_000_000 + i,
        "kind": "commit",
        "commit": {
            "operation": "create",
            "collection": "app.bsky.feed.post",
            "rkey": f"rk{i}",
            "record": {"createdAt": STAMP, "text": text, "langs": ["en"], "reply": {"parent": {}}},
        },
    }


async def test_jetstream_survives_garbage_frames() -> None:
    entry = JetstreamEntry(kind="bluesky_jetstream", name="j", url="ws://x", reposts=True)
    source = JetstreamSource(entry)
    seeds = [
        jetstream_post(1, "Glytera price hike"),
        jetstream_post(2, "nice weather"),
        {"did": "did:plc:b", "time_us": 5, "kind": "identity", "identity": {"handle": "b.bsky"}},
        {
            "did": "did:plc:b",
            "time_us": 6,
            "kind": "commit",
            "commit": {
                "operation": "create",
                "collection": "app.bsky.feed.repost",
                "rkey": "r1",
                "record": {
                    "createdAt": STAMP,
                    "subject": {"uri": "at://did:plc:alice/app.bsky.feed.post/rk1"},
                },
            },
        },
    ]
    await fuzz(source, source.event, seeds, seed=18)


def toot(n: int, html: str) -> dict[str, Any]:
    return {
        "id": str(n),
        "uri": f"https://m.example/users/a/statuses/{n}",
        "url": f"https://m.example/@a/{n}",
        "created_at": STAMP,
        "content": html,
        "language": "en",
        "account": {"acct": "a", "url": "https://m.example/@a", "followers_count": 3},
        "favourites_count": 1,
        "reblogs_count": 0,
        "replies_count": 0,
        "reblog": None,
    }


async def test_mastodon_survives_garbage_events() -> None:
    entry = MastodonEntry(kind="mastodon", name="m", url="https://m.example")
    source = MastodonSource(entry)
    names = ["update", "update", "update", "delete", "status.update", "weird"]
    counter = iter(range(10**9))

    def to_event(payload: bytes) -> Event:
        return source.sse_event(names[next(counter) % len(names)], payload)[0]

    seeds = [
        toot(1, "<p>Is #Glytera worth it?</p>"),
        toot(2, "<p>hello</p>"),
        {**toot(3, ""), "reblog": toot(4, "<b>Valmoreau</b> recall")},
    ]
    await fuzz(source, to_event, seeds, seed=19)


async def test_mastodon_sse_framing_survives_garbage_lines() -> None:
    """The SSE reader itself: random lines, fields and lengths never raise, each event counted."""
    rng = random.Random(20)
    source = MastodonSource(MastodonEntry(kind="mastodon", name="m", url="https://m.example"))
    parts = [
        b"event: update",
        b"data: {",
        b'data: {"id": "1"}',
        b":thump",
        b"",
        b"data:",
        b"x" * 40,
    ]
    parts += [b"event: delete", b"data: " + json.dumps(toot(5, "Glytera")).encode(), b"\xff\xfe"]
    body = b"\n".join(rng.choice(parts) for _ in range(N)) + b"\n\n"
    response = httpx.Response(200, content=body)
    seen = 0
    async for _event, _status_id in source._sse(response):
        seen += 1
    assert seen > 100


async def test_rss_survives_garbage_feeds() -> None:
    entry = RssEntry(kind="rss", name="r", url="https://news.example/feed")
    source = RssSource(entry)
    rng = random.Random(21)
    sink = Tally()
    run = runner(source, sink)
    item = (
        "<item><guid>{g}</guid><title>{t}</title><description>&lt;b&gt;{t}&lt;/b&gt;</description>"
        "<pubDate>{d}</pubDate><link>https://news.example/{g}</link></item>"
    )
    titles = ["Glytera price up", "Weather", "Neviora &amp; Osteliq", "", "\u00e9\u00e8"]
    dates = [NOW.strftime("%a, %d %b %Y %H:%M:%S +0000"), "garbage", "", "Mon, 99 Foo 2026"]
    count = 0
    while count < N:
        items = "".join(
            item.format(g=rng.randrange(10**6), t=rng.choice(titles), d=rng.choice(dates))
            for _ in range(rng.randint(1, 20))
        )
        doc = f'<?xml version="1.0"?><rss version="2.0"><channel>{items}</channel></rss>'.encode()
        roll = rng.random()
        if roll < 0.15:
            doc = doc[: rng.randint(0, len(doc))]
        elif roll < 0.25:
            i = rng.randrange(len(doc))
            doc = doc[:i] + bytes([rng.randrange(256)]) + doc[i + 1 :]
        elif roll < 0.27:
            doc = b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaa">]><rss>&a;</rss>'
        elif roll < 0.29:  # the same in UTF-16: no byte reads "<!DOCTYPE"
            text = '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE r [<!ENTITY a "aaaa">]>'
            doc = (text + "<rss>&a;</rss>").encode("utf-16")
        parsed = _parse(doc)
        if not isinstance(parsed, tuple):
            await run.handle(parsed)
            count += 1
            continue
        for _entry_id, event in _entries(parsed[0], "news.example", "news"):
            await run.handle(event)
            count += 1
    check(run.stats, sink, count)


@pytest.mark.parametrize(
    ("declared", "codec"), [("UTF-8", "utf-8"), ("UTF-16", "utf-16"), ("UTF-16BE", "utf-16-be")]
)
def test_a_feed_declaring_a_dtd_is_refused_in_any_encoding(declared: str, codec: str) -> None:
    """A byte search for ``<!DOCTYPE`` missed it in UTF-16, and the entities were expanded."""
    doc = (
        f'<?xml version="1.0" encoding="{declared}"?><!DOCTYPE rss [<!ENTITY a "aaaa">]>'
        '<rss version="2.0"><channel><title>&a;</title></channel></rss>'
    ).encode(codec)
    parsed = _parse(doc)
    assert isinstance(parsed, Malformed), parsed
    assert "DTD" in parsed.detail


async def test_reddit_survives_garbage_listing_children() -> None:
    entry = RedditEntry(
        kind="reddit",
        name="r",
        client_id_env="X_ID",
        client_secret_env="X_SECRET",
        user_agent="test:tocsin:0.1 (by /u/t)",
    )
    source = RedditSource(entry, ["Glytera"])

    def to_event(payload: bytes) -> Event:
        # The listing is parsed by safejson (depth-limited) before its children are mapped.
        try:
            child = loads(payload)
        except BadJson:
            child = payload.decode("utf-8", "replace")  # any JSON value a listing could hold
        return source.thing_event(child, payload)

    def thing(key: str, title: str) -> dict[str, Any]:
        data = {"name": f"t3_{key}", "title": title, "created_utc": NOW.timestamp() - 60}
        data.update({"author": "a", "permalink": f"/r/x/{key}", "score": 1, "num_comments": 0})
        return {"kind": "t3", "data": data}

    seeds = [thing("a", "Glytera recall"), thing("b", "hiking"), {"kind": "t1", "data": {}}]
    await fuzz(source, to_event, seeds, seed=22)


async def test_x_stream_survives_garbage_lines() -> None:
    entry = XEntry(kind="x_filtered_stream", name="x", token_env="X_TOKEN")
    source = XStreamSource(entry, [])

    def line(n: int, text: str, ref: str | None = None) -> dict[str, Any]:
        data: dict[str, Any] = {"id": str(n), "text": text, "created_at": STAMP, "author_id": "7"}
        data["public_metrics"] = {"like_count": 1, "retweet_count": 0, "reply_count": 0}
        if ref:
            data["referenced_tweets"] = [{"type": ref, "id": "1"}]
        user = {"id": "7", "username": "u", "public_metrics": {"followers_count": 5}}
        return {"data": data, "includes": {"users": [user]}}

    seeds = [
        line(1, "Glytera price"),
        line(2, "cats"),
        line(3, "RT Valmoreau", "retweeted"),
        {"errors": [{"title": "operational-disconnect"}]},
    ]
    await fuzz(source, source.event, seeds, seed=23)
