"""``x_filtered_stream``: posts from the X API v2 filtered stream, rules built from the brands.

On every connect the source first syncs its rules (``/tweets/search/stream/rules``): one rule per
brand, ``(term OR "two words" OR ...)`` tagged ``<rule_tag>:<brand id>`` (split over several rules
when longer than ``rule_max_chars``); rules it owns that are no longer wanted are deleted, rules
with other tags are left alone. Then it opens the stream (one JSON object per line, a blank
keep-alive line every 20 s; 30 s of silence counts as a dropped connection, as X advises) with the
fields Tocsin maps. After a reconnect it asks for the minutes it missed (``backfill_minutes``,
at most 5, a Pro feature) when ``backfill`` is on. The backfill repeats those minutes whole, so the
last ``remember`` post ids are kept with the time of the last post in the checkpoint: a post the
last saved checkpoint covers is skipped (``backfill_repeat``), also after a restart.

Back-off: the runner's exponential back-off with jitter from ``backoff_s`` (5 s) to
``backoff_max_s`` (320 s), X's advice for HTTP errors; a 429 waits until ``x-rate-limit-reset``
(a minute when the header is missing). 401/403 stop the source (a bad token or a plan without the stream).

Mapping: id ``x:<post id>``; ``referenced_tweets`` ``retweeted`` -> ``repost`` (``repost_of`` the
original), ``quoted`` -> ``quote``, ``replied_to`` -> ``reply``; the author from ``includes.users``
(followers, verified; a pseudonymous id, ``@username`` only with ``keep_handles``); likes,
reposts + quotes and replies from ``public_metrics``.
"""

from __future__ import annotations

import math
import time
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

import httpx

from pipeline.brands import BrandSpec
from pipeline.safejson import BadJson, loads
from pipeline.sources.base import (
    MAX_EVENT_BYTES,
    Bad,
    Candidate,
    Event,
    Malformed,
    Recent,
    Skipped,
    Source,
    SourceDisconnected,
    SourceRefused,
    author_id,
    bounded_id,
    need,
    opt,
    parse_object,
)
from pipeline.sources.config import XEntry

FIELDS = {
    "tweet.fields": "created_at,lang,author_id,public_metrics,referenced_tweets",
    "expansions": "author_id",
    "user.fields": "username,public_metrics,verified",
}
KINDS = {"retweeted": "repost", "quoted": "quote", "replied_to": "reply"}


def _term(term: str) -> str:
    clean = term.replace('"', "").strip()
    return f'"{clean}"' if " " in clean or "-" in clean else clean


def build_rules(brands: list[BrandSpec], tag: str, max_chars: int) -> list[dict[str, str]]:
    """One or more ``{"value", "tag"}`` rules per brand, each at most ``max_chars`` long."""
    rules: list[dict[str, str]] = []
    for brand in brands:
        terms = list(dict.fromkeys(_term(t) for t in brand.terms() if t.strip()))
        if brand.cashtag:
            terms.append(f"${brand.cashtag}")
        part: list[str] = []
        for term in terms:
            if part and len("(" + " OR ".join([*part, term]) + ")") > max_chars:
                rules.append({"value": "(" + " OR ".join(part) + ")", "tag": f"{tag}:{brand.id}"})
                part = []
            part.append(term)
        if part:
            rules.append({"value": "(" + " OR ".join(part) + ")", "tag": f"{tag}:{brand.id}"})
    return rules


def _rate_limit_wait(headers: httpx.Headers, now: float) -> float:
    """Seconds until ``x-rate-limit-reset`` (a Unix time), capped at 15 min; a minute without it."""
    try:
        return max(0.0, min(float(headers["x-rate-limit-reset"]) - now, 900.0))
    except (KeyError, ValueError):
        return 60.0


class XStreamSource(Source[XEntry]):
    kind = "x_filtered_stream"

    def __init__(
        self, entry: XEntry, brands: list[BrandSpec], *, wall: Callable[[], float] = time.time
    ) -> None:
        super().__init__(entry)
        self.rules = build_rules(brands, entry.rule_tag, entry.rule_max_chars)
        self.last_event_at: float | None = None
        self.seen = Recent(entry.remember)
        self._restored = False
        self._wall = wall
        self._client: httpx.AsyncClient | None = None
        self._response: httpx.Response | None = None
        self._users: dict[str, dict[str, Any]] = {}

    @property
    def base(self) -> str:
        return self.entry.endpoints[0].rstrip("/")

    async def connect(self, checkpoint: Mapping[str, Any] | None) -> None:
        saved = (checkpoint or {}).get("last_event_at")
        if (
            self.last_event_at is None
            and isinstance(saved, int | float)
            and not isinstance(saved, bool)
        ):
            self.last_event_at = float(saved)
        if not self._restored:
            ids = (checkpoint or {}).get("seen")
            if isinstance(ids, list):
                self.seen = Recent(self.entry.remember, [i for i in ids if isinstance(i, str)])
            self._restored = True
        assert self.entry.token is not None
        self._client = httpx.AsyncClient(
            headers={
                "Authorization": f"Bearer {self.entry.token.get_secret_value()}",
                "User-Agent": "tocsin-sources/0.1",
            },
            # X sends a keep-alive every 20 s: 30 s without a byte is a stalled stream.
            timeout=httpx.Timeout(30.0, connect=10.0),
        )
        try:
            await self.sync_rules()
            params = dict(FIELDS)
            if self.entry.backfill and self.last_event_at is not None:
                missed = (self._wall() - self.last_event_at) / 60
                if 0 < missed <= 5:
                    params["backfill_minutes"] = str(max(1, math.ceil(missed)))
            request = self._client.build_request(
                "GET", f"{self.base}/tweets/search/stream", params=params
            )
            response = await self._client.send(request, stream=True)
        except httpx.HTTPError as exc:
            raise SourceDisconnected(f"{self.entry.name}: {type(exc).__name__}") from exc
        if response.status_code != 200:
            await response.aclose()
            self._check(response, "stream")
        self._response = response

    def _check(self, response: httpx.Response, what: str) -> None:
        status = response.status_code
        host = urlsplit(self.base).netloc
        if 200 <= status < 300:
            return
        if status in (401, 403, 404):
            raise SourceRefused(f"{self.entry.name}: {host} {what} answered {status}")
        retry = _rate_limit_wait(response.headers, self._wall()) if status == 429 else None
        raise SourceDisconnected(
            f"{self.entry.name}: {host} {what} answered {status}", retry_after=retry
        )

    async def sync_rules(self) -> None:
        """Make the stream's rules with our tag exactly :attr:`rules`; others are not touched."""
        assert self._client is not None
        url = f"{self.base}/tweets/search/stream/rules"
        response = await self._client.get(url)
        self._check(response, "rules")
        try:
            body = loads(response.content)
        except BadJson as exc:
            raise SourceDisconnected(f"{self.entry.name}: rules answer is not JSON") from exc
        current = body.get("data") if isinstance(body, dict) else None
        ours = [
            r
            for r in (current if isinstance(current, list) else [])
            if isinstance(r, dict) and str(r.get("tag", "")).startswith(f"{self.entry.rule_tag}:")
        ]
        wanted = {(r["value"], r["tag"]) for r in self.rules}
        stale = [str(r.get("id")) for r in ours if (r.get("value"), r.get("tag")) not in wanted]
        have = {(r.get("value"), r.get("tag")) for r in ours}
        missing = [r for r in self.rules if (r["value"], r["tag"]) not in have]
        if stale:
            self._check(await self._client.post(url, json={"delete": {"ids": stale}}), "rules")
        if missing:
            self._check(await self._client.post(url, json={"add": missing}), "rules")

    def checkpoint(self) -> dict[str, Any]:
        if self.last_event_at is None:
            return {}
        return {"last_event_at": self.last_event_at, "seen": self.seen.items()}

    async def close(self) -> None:
        if self._response is not None:
            await self._response.aclose()
            self._response = None
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def read(self) -> AsyncIterator[Event]:
        assert self._response is not None, "connect() first"
        try:
            async for line in self._response.aiter_lines():
                if not line.strip():
                    continue  # keep-alive
                payload = line.encode("utf-8", "surrogatepass")
                event = self.event(payload)
                if isinstance(event, Candidate):
                    post_id = str(event.mention["id"])
                    if post_id in self.seen:
                        yield Skipped("backfill_repeat")
                        continue
                    # Marked just before it is handed on: the runner handles it before asking
                    # for the next, so the checkpoint holds exactly what was handled.
                    self.seen.add(post_id)
                    self.last_event_at = self._wall()
                yield event
        except httpx.HTTPError as exc:
            raise SourceDisconnected(f"{self.entry.name}: {type(exc).__name__}") from exc
        raise SourceDisconnected(f"{self.entry.name}: the stream ended")

    def event(self, payload: bytes) -> Event:
        if len(payload) > MAX_EVENT_BYTES:
            return Malformed("oversized", f"line over {MAX_EVENT_BYTES} bytes", payload[:4096])
        obj = parse_object(payload)
        if isinstance(obj, Malformed):
            return obj
        try:
            return self._map(obj, payload)
        except Bad as exc:
            return Malformed(exc.reason, exc.detail, payload)
        except Exception as exc:  # a shape the mapping did not foresee: a dead letter, not a crash
            return Malformed("invalid_value", f"unmappable ({type(exc).__name__})", payload)

    def _map(self, obj: dict[str, Any], payload: bytes) -> Event:
        if "data" not in obj and "errors" in obj:
            return Skipped("stream_message")  # operational notices (e.g. before a disconnect)
        data = need(obj, "data", dict, "")
        post_id = need(data, "id", str, "data.")
        text = need(data, "text", str, "data.")
        created = need(data, "created_at", str, "data.")
        author_key = need(data, "author_id", str, "data.")
        includes = opt(obj, "includes", dict, "") or {}
        users = opt(includes, "users", list, "includes.") or []
        user = next((u for u in users if isinstance(u, dict) and u.get("id") == author_key), {})
        metrics = opt(user, "public_metrics", dict, "includes.users.") or {}
        author: dict[str, Any] = {
            "id": author_id("x", author_key),
            "followers": max(0, opt(metrics, "followers_count", int, "user.public_metrics.") or 0),
            "verified": bool(opt(user, "verified", bool, "includes.users.") or False),
            "kind": "unknown",
        }
        if self.entry.keep_handles:
            username = opt(user, "username", str, "includes.users.")
            author["handle"] = f"@{username}"[:200] if username else None
        counts = opt(data, "public_metrics", dict, "data.") or {}

        def count(key: str) -> int:
            return max(0, opt(counts, key, int, "data.public_metrics.") or 0)

        mention: dict[str, Any] = {
            "id": bounded_id("x", post_id),
            "platform": "x",
            "url": f"https://x.com/i/web/status/{post_id}",
            "created_at": created,
            "text": text,
            "lang": opt(data, "lang", str, "data."),
            "author": author,
            "engagement": {
                "likes": count("like_count"),
                "shares": count("retweet_count") + count("quote_count"),
                "replies": count("reply_count"),
            },
            "kind": "post",
        }
        for ref in opt(data, "referenced_tweets", list, "data.") or []:
            if not isinstance(ref, dict):
                raise Bad("wrong_type", "data.referenced_tweets: expected objects")
            kind = KINDS.get(str(ref.get("type")))
            if kind is None:
                continue
            mention["kind"] = kind
            if kind == "repost":
                mention["repost_of"] = bounded_id(
                    "x", need(ref, "id", str, "data.referenced_tweets.")
                )
                break
        return Candidate(mention, payload)
