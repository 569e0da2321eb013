"""``reddit``: new posts that name a brand, from Reddit's search API with an app-only OAuth token.

The token comes from the client-credentials grant (``POST /api/v1/access_token`` with the app's id
and secret as HTTP Basic auth) and is renewed when it expires or a request answers 401. Every
``interval_s`` the source asks ``/search?q=<terms>&sort=new&type=link&limit=100``, the query an OR
of the brand terms (names, aliases, products) unless ``query`` is set, and hands on the posts it
has not seen, oldest first. Reddit's rate-limit headers are obeyed: when
``X-Ratelimit-Remaining`` reaches 0, the next request waits ``X-Ratelimit-Reset`` seconds (and a
429 waits its ``Retry-After``). The ids seen are kept in the checkpoint, so a restart neither
re-sends nor skips what the last listing showed.

Mapping (``t3`` things): id ``reddit:t3_<id>``, title and self text, ``created_utc``, a
pseudonymous author id (the username only with ``keep_handles``), score as likes, comments as
replies, the permalink.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import httpx

from pipeline.delivery.http import parse_retry_after
from pipeline.safejson import BadJson, loads
from pipeline.sources.base import (
    Bad,
    Candidate,
    Event,
    Malformed,
    Recent,
    Source,
    SourceDisconnected,
    SourceRefused,
    author_id,
    bounded_id,
    need,
    opt,
)
from pipeline.sources.config import RedditEntry

MAX_LISTING_BYTES = 4 * 1024 * 1024


def _float(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise Bad("wrong_type", f"{where}: expected a number")
    return float(value)


class RedditSource(Source[RedditEntry]):
    kind = "reddit"

    def __init__(
        self, entry: RedditEntry, terms: list[str], *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        super().__init__(entry)
        self.query = entry.query or " OR ".join(f'"{t}"' if " " in t else t for t in terms)
        self.seen = Recent(entry.remember)
        self._clock = clock
        self._client: httpx.AsyncClient | None = None
        self._token: str | None = None
        self._token_until = 0.0
        self._next_at = 0.0
        self._restored = False

    async def connect(self, checkpoint: Mapping[str, Any] | None) -> None:
        if not self._restored:
            saved = (checkpoint or {}).get("seen")
            if isinstance(saved, list):
                self.seen = Recent(self.entry.remember, [s for s in saved if isinstance(s, str)])
            self._restored = True
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(30.0, connect=10.0),
            headers={"User-Agent": self.entry.user_agent},
            follow_redirects=False,
        )

    def checkpoint(self) -> dict[str, Any]:
        return {"seen": self.seen.items()}

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def _authorize(self) -> str:
        assert self._client is not None
        if self._token is not None and self._clock() < self._token_until:
            return self._token
        assert self.entry.client_id is not None and self.entry.client_secret is not None
        try:
            response = await self._client.post(
                self.entry.auth_url,
                data={"grant_type": "client_credentials"},
                auth=(
                    self.entry.client_id.get_secret_value(),
                    self.entry.client_secret.get_secret_value(),
                ),
            )
        except httpx.HTTPError as exc:
            raise SourceDisconnected(f"{self.entry.name}: token: {type(exc).__name__}") from exc
        if response.status_code in (400, 401, 403):
            raise SourceRefused(f"{self.entry.name}: token request answered {response.status_code}")
        if response.status_code != 200:
            retry = parse_retry_after(response.headers.get("Retry-After"))
            raise SourceDisconnected(
                f"{self.entry.name}: token request answered {response.status_code}",
                retry_after=retry,
            )
        try:
            body = loads(response.content)
        except BadJson as exc:
            raise SourceDisconnected(f"{self.entry.name}: token answer is not JSON") from exc
        token = body.get("access_token") if isinstance(body, dict) else None
        expires = body.get("expires_in") if isinstance(body, dict) else None
        if not isinstance(token, str) or not token:
            raise SourceDisconnected(f"{self.entry.name}: token answer without access_token")
        lifetime = float(expires) if isinstance(expires, int | float) else 3600.0
        self._token = token
        self._token_until = self._clock() + max(60.0, lifetime - 60.0)
        return token

    async def read(self) -> AsyncIterator[Event]:
        assert self._client is not None, "connect() first"
        while True:
            wait = self._next_at - self._clock()
            if wait > 0:
                await asyncio.sleep(wait)
            self._next_at = self._clock() + self.entry.interval_s
            for name, event in await self._poll():
                if name is not None and name in self.seen:
                    continue  # listed twice in one answer
                # Marked just before it is handed on (never for the rest of a listing a stopped
                # run did not hand on), so the checkpoint holds exactly what was handled.
                if name is not None:
                    self.seen.add(name)
                yield event

    async def _poll(self) -> list[tuple[str | None, Event]]:
        assert self._client is not None
        token = await self._authorize()
        params = {"q": self.query, "sort": "new", "type": "link", "limit": "100", "raw_json": "1"}
        host = urlsplit(self.entry.endpoints[0]).netloc
        try:
            response = await self._client.get(
                self.entry.endpoints[0].rstrip("/") + "/search",
                params=params,
                headers={"Authorization": f"Bearer {token}"},
            )
        except httpx.HTTPError as exc:
            raise SourceDisconnected(f"{self.entry.name}: {host}: {type(exc).__name__}") from exc
        self._obey_rate_limit(response.headers)
        if response.status_code == 401:
            self._token = None  # expired or revoked early: the next attempt asks for a new one
            raise SourceDisconnected(f"{self.entry.name}: {host} answered 401")
        if response.status_code in (403, 404):
            raise SourceRefused(f"{self.entry.name}: {host} answered {response.status_code}")
        if response.status_code != 200:
            retry = parse_retry_after(response.headers.get("Retry-After"))
            raise SourceDisconnected(
                f"{self.entry.name}: {host} answered {response.status_code}", retry_after=retry
            )
        if len(response.content) > MAX_LISTING_BYTES:
            return [(None, Malformed("oversized", "listing too large", response.content[:4096]))]
        try:
            listing = loads(response.content)
        except BadJson as exc:
            return [(None, Malformed("invalid_json", str(exc), response.content[:4096]))]
        try:
            children = need(need(listing, "data", dict, ""), "children", list, "data.")
        except Bad as exc:
            return [(None, Malformed(exc.reason, exc.detail, response.content[:4096]))]
        except Exception as exc:  # a listing that is not even an object
            why = f"listing: {type(exc).__name__}"
            return [(None, Malformed("not_an_object", why, response.content[:4096]))]
        # The listing is newest first; hand on oldest first.
        return [(_fullname(c), self.thing_event(c, _dumps(c))) for c in reversed(children)]

    def _obey_rate_limit(self, headers: httpx.Headers) -> None:
        remaining = headers.get("X-Ratelimit-Remaining")
        reset = headers.get("X-Ratelimit-Reset")
        try:
            left = float(remaining) if remaining is not None else None
            reset_s = float(reset) if reset is not None else None
        except ValueError:
            return
        if left is not None and reset_s is not None and left < 1:
            self._next_at = max(self._next_at, self._clock() + min(reset_s, 900.0))

    def thing_event(self, child: Any, raw: bytes) -> Event:
        try:
            if not isinstance(child, dict):
                raise Bad("not_an_object", "listing child is not an object")
            return Candidate(self._map(child), raw)
        except Bad as exc:
            return Malformed(exc.reason, exc.detail, raw)
        except Exception as exc:  # a shape the mapping did not foresee: a dead letter, not a crash
            return Malformed("invalid_value", f"unmappable ({type(exc).__name__})", raw)

    def _map(self, child: dict[str, Any]) -> dict[str, Any]:
        kind = need(child, "kind", str, "")
        if kind != "t3":
            raise Bad("invalid_value", f"kind: {kind[:10]!r} is not a post (t3)")
        data = need(child, "data", dict, "")
        name = need(data, "name", str, "data.")
        title = need(data, "title", str, "data.")
        body = opt(data, "selftext", str, "data.") or ""
        created = _float(need(data, "created_utc", (int, float), "data."), "data.created_utc")
        try:
            when = datetime.fromtimestamp(created, UTC)
        except (OverflowError, OSError, ValueError) as exc:
            raise Bad("invalid_value", "data.created_utc: out of range") from exc
        author = opt(data, "author", str, "data.") or "[deleted]"
        person: dict[str, Any] = {"id": author_id("reddit", author), "kind": "unknown"}
        if self.entry.keep_handles:
            person["handle"] = f"u/{author}"[:200]
        permalink = opt(data, "permalink", str, "data.")
        return {
            "id": bounded_id("reddit", name),
            "platform": "reddit",
            "url": f"https://www.reddit.com{permalink}" if permalink else None,
            "created_at": when.isoformat().replace("+00:00", "Z"),
            "text": " — ".join(part for part in (title, body) if part),
            "author": person,
            "engagement": {
                "likes": max(0, opt(data, "score", int, "data.") or 0),
                "replies": max(0, opt(data, "num_comments", int, "data.") or 0),
            },
            "kind": "post",
        }


def _fullname(child: Any) -> str | None:
    if isinstance(child, dict) and isinstance(child.get("data"), dict):
        name = child["data"].get("name")
        if isinstance(name, str):
            return name
    return None


def _dumps(value: Any) -> bytes:
    import json

    try:
        return json.dumps(value, ensure_ascii=True).encode("ascii")
    except (TypeError, ValueError):
        return repr(value)[:4096].encode("utf-8", "replace")
