"""The sources file (``TOCSIN_SOURCES_FILE``): which live sources to run, validated on load.

Each entry has a ``name``, a ``kind`` and ``url`` or ``urls``, plus the fields its protocol needs.
Every problem is reported as ``file:line: field 'sources[2].interval_s': why`` (the line numbers
come from :mod:`pipeline.yamlfile`). Secrets never sit in the file: an entry names the environment
variable that holds its token (``token_env``), read at load time into a ``SecretStr``.

Example::

    sources:
      - name: bsky
        kind: bluesky_jetstream
        url: wss://jetstream2.us-east.bsky.network/subscribe
      - name: mastodon-social
        kind: mastodon
        urls: [https://mastodon.social]
        streams: [public, "hashtag:pharma"]
        token_env: TOCSIN_MASTODON_TOKEN
      - name: news
        kind: rss
        urls: [https://news.example/feed.xml]
        interval_s: 600
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator

from pipeline.errors import ConfigError
from pipeline.settings import check_secret
from pipeline.yamlfile import YamlDoc, read_yaml

HTTP_URL = r"^https?://[^\s/?#]+[^\s]*$"
WS_URL = r"^wss?://[^\s/?#]+[^\s]*$"
KINDS = ("rss", "bluesky_jetstream", "mastodon", "reddit", "x_filtered_stream")


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,39}$")
    enabled: bool = True
    #: Keep authors' handles (``@name``) in mentions; off by default (DESIGN: pseudonymous ids).
    keep_handles: bool = False
    #: Reconnect backoff: first wait and ceiling, seconds (equal jitter; ``Retry-After`` a floor).
    backoff_s: float = Field(default=1.0, gt=0, le=600)
    backoff_max_s: float = Field(default=120.0, gt=0, le=3600)
    url: str | None = None
    urls: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _one_of_url_urls(self) -> _Entry:
        if self.url is not None and self.urls:
            raise ValueError("give url or urls, not both")
        if self.url is None and not self.urls:
            raise ValueError("url or urls is required")
        return self

    @property
    def endpoints(self) -> list[str]:
        return [self.url] if self.url is not None else list(self.urls)


class RssEntry(_Entry):
    """RSS 2.0 and Atom feeds, polled with conditional GET."""

    kind: Literal["rss"]
    url: Annotated[str, Field(pattern=HTTP_URL)] | None = None
    urls: list[Annotated[str, Field(pattern=HTTP_URL)]] = Field(default_factory=list)
    #: Seconds between two polls of one feed; a longer ``<ttl>`` or ``Retry-After`` wins.
    interval_s: float = Field(default=300.0, ge=1, le=86_400)
    platform: Literal["news", "forum", "other"] = "news"
    #: Entry ids remembered for de-duplication (per feed, kept in the checkpoint).
    remember: int = Field(default=2000, ge=10, le=100_000)


class JetstreamEntry(_Entry):
    """Bluesky's Jetstream websocket (JSON commit events)."""

    kind: Literal["bluesky_jetstream"]
    url: Annotated[str, Field(pattern=WS_URL)] | None = None
    urls: list[Annotated[str, Field(pattern=WS_URL)]] = Field(default_factory=list)
    #: Also take reposts (``app.bsky.feed.repost``) of posts this source has seen.
    reposts: bool = False
    #: On resume, start this far before the saved cursor (events in between are re-read; ids
    #: de-duplicate them).
    rewind_s: float = Field(default=5.0, ge=0, le=3600)
    #: Ask for zstd-compressed frames (``compress=true``): about half the bandwidth. Jetstream
    #: compresses every frame with one zstd dictionary of its own, so ``zstd_dictionary`` is then
    #: required: the file's path, relative to the sources file.
    compress: bool = False
    zstd_dictionary: Path | None = None
    #: The dictionary's bytes, read at load (not part of the file).
    zstd_dict: bytes | None = Field(default=None, exclude=True, repr=False)

    @model_validator(mode="after")
    def _dictionary_with_compress(self) -> JetstreamEntry:
        if self.compress and self.zstd_dictionary is None:
            raise ValueError("compress: true needs zstd_dictionary (Jetstream's dictionary file)")
        return self


class MastodonEntry(_Entry):
    """Mastodon's streaming API (server-sent events), with REST gap filling after a reconnect."""

    kind: Literal["mastodon"]
    url: Annotated[str, Field(pattern=HTTP_URL)] | None = None
    urls: list[Annotated[str, Field(pattern=HTTP_URL)]] = Field(default_factory=list)
    #: ``public``, ``public:local`` or ``hashtag:<tag>``, on every instance in ``urls``.
    streams: list[
        Annotated[str, Field(pattern=r"^(public|public:local|hashtag:[^\s#/?&]{1,100})$")]
    ] = Field(default_factory=lambda: ["public"], min_length=1)
    #: Environment variable holding an access token (``read:statuses``); unset: no token.
    token_env: str | None = Field(default=None, pattern=r"^[A-Z][A-Z0-9_]{1,100}$")
    #: Most REST pages (of 40 statuses) read to fill one gap after a reconnect.
    gap_pages: int = Field(default=10, ge=0, le=100)
    token: SecretStr | None = Field(default=None, exclude=True)


class RedditEntry(_Entry):
    """Reddit's search API with an app-only OAuth token (client-credentials grant)."""

    kind: Literal["reddit"]
    #: The OAuth API base; ``/search`` is asked under it.
    url: Annotated[str, Field(pattern=HTTP_URL)] | None = "https://oauth.reddit.com"
    urls: list[Annotated[str, Field(pattern=HTTP_URL)]] = Field(default_factory=list, max_length=0)
    auth_url: Annotated[str, Field(pattern=HTTP_URL)] = "https://www.reddit.com/api/v1/access_token"
    #: Environment variables holding the app's client id and secret.
    client_id_env: str = Field(pattern=r"^[A-Z][A-Z0-9_]{1,100}$")
    client_secret_env: str = Field(pattern=r"^[A-Z][A-Z0-9_]{1,100}$")
    #: Reddit requires a unique, descriptive one: ``<platform>:<app id>:<version> (by /u/<user>)``.
    user_agent: str = Field(min_length=10, max_length=300)
    #: Search query; unset: an OR of every brand term (names, aliases, products, generics).
    query: str | None = Field(default=None, min_length=1, max_length=512)
    interval_s: float = Field(default=60.0, ge=1, le=86_400)
    remember: int = Field(default=5000, ge=100, le=100_000)
    client_id: SecretStr | None = Field(default=None, exclude=True)
    client_secret: SecretStr | None = Field(default=None, exclude=True)


class XEntry(_Entry):
    """The X API v2 filtered stream, rules built from the brand terms and kept in sync."""

    kind: Literal["x_filtered_stream"]
    #: The API base; the stream and its rules live under ``/tweets/search/stream``.
    url: Annotated[str, Field(pattern=HTTP_URL)] | None = "https://api.x.com/2"
    urls: list[Annotated[str, Field(pattern=HTTP_URL)]] = Field(default_factory=list, max_length=0)
    #: Environment variable holding the app's bearer token.
    token_env: str = Field(pattern=r"^[A-Z][A-Z0-9_]{1,100}$")
    #: Rules this source owns carry ``<rule_tag>:<brand id>``; other rules are left alone.
    rule_tag: str = Field(default="tocsin", pattern=r"^[a-z0-9_-]{1,30}$")
    #: Longest rule the plan allows; longer brands are split. 512 is a conservative default (Pro
    #: allowed 1,024 at the time of writing).
    rule_max_chars: int = Field(default=512, ge=64, le=4096)
    #: Ask for the minutes missed after a reconnect (``backfill_minutes``, at most 5; Pro plans).
    backfill: bool = True
    #: Post ids kept in the checkpoint, so a backfill after a restart re-sends none the last
    #: checkpoint covered (X repeats the backfilled minutes whole).
    remember: int = Field(default=2000, ge=100, le=100_000)
    #: X's documented back-off for HTTP errors: from 5 s, doubling, up to 320 s.
    backoff_s: float = Field(default=5.0, gt=0, le=600)
    backoff_max_s: float = Field(default=320.0, gt=0, le=3600)
    token: SecretStr | None = Field(default=None, exclude=True)


SourceEntry = Annotated[
    RssEntry | JetstreamEntry | MastodonEntry | RedditEntry | XEntry, Field(discriminator="kind")
]
#: Per kind, the ``*_env`` fields whose variables are read into secret fields at load.
SECRETS: dict[type, tuple[tuple[str, str], ...]] = {
    MastodonEntry: (("token_env", "token"),),
    RedditEntry: (("client_id_env", "client_id"), ("client_secret_env", "client_secret")),
    XEntry: (("token_env", "token"),),
}


class SourcesFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    sources: list[SourceEntry] = Field(min_length=1)


#: The first four bytes of a zstd dictionary (``ZSTD_MAGIC_DICTIONARY``, little-endian).
ZSTD_DICT_MAGIC = b"\x37\xa4\x30\xec"
MAX_DICTIONARY_BYTES = 4 * 1024 * 1024


def _read_dictionary(path: Path) -> bytes | str:
    """A zstd dictionary file's bytes, or why it cannot be one."""
    try:
        if path.stat().st_size > MAX_DICTIONARY_BYTES:
            return f"{path}: larger than {MAX_DICTIONARY_BYTES} bytes"
        data = path.read_bytes()
    except OSError as exc:
        return f"{path}: {exc.strerror or type(exc).__name__}"
    if not data.startswith(ZSTD_DICT_MAGIC):
        return f"{path}: not a zstd dictionary (no dictionary magic number)"
    return data


def _resolve_outside(doc: YamlDoc, parsed: SourcesFile, env: Mapping[str, str]) -> SourcesFile:
    """What entries name outside the file: secrets from the environment, dictionaries from disk."""
    problems: list[str] = []
    out: list[Any] = []
    for i, entry in enumerate(parsed.sources):
        for env_field, secret_field in SECRETS.get(type(entry), ()):
            name = getattr(entry, env_field)
            if not name:
                continue
            raw = env.get(name)
            where = ("sources", i, env_field)
            if raw is None:
                problems.append(doc.problem(where, f"environment variable {name} is unset"))
                continue
            try:
                check_secret(raw)
            except ValueError as exc:
                problems.append(doc.problem(where, f"{name}: {exc}"))
            entry = entry.model_copy(update={secret_field: SecretStr(raw.strip())})
        if isinstance(entry, JetstreamEntry) and entry.zstd_dictionary is not None:
            found = _read_dictionary(doc.path.parent / entry.zstd_dictionary)
            if isinstance(found, str):
                problems.append(doc.problem(("sources", i, "zstd_dictionary"), found))
            else:
                entry = entry.model_copy(update={"zstd_dict": found})
        out.append(entry)
    names = [e.name for e in parsed.sources]
    for i, name in enumerate(names):
        if name in names[:i]:
            problems.append(doc.problem(("sources", i, "name"), f"duplicate source name {name!r}"))
    if problems:
        raise ConfigError("\n".join(problems))
    return SourcesFile(sources=out)


def parse_sources(doc: YamlDoc, env: Mapping[str, str] | None = None) -> SourcesFile:
    """Validate a parsed sources file; :class:`ConfigError` names file, line and field."""
    try:
        parsed = SourcesFile.model_validate(doc.data)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            loc = tuple(err["loc"])
            # pydantic puts the discriminator's value in the path (sources.0.rss.interval_s);
            # the file has no such key, so it is dropped to name the field as written.
            if len(loc) > 2 and loc[0] == "sources" and loc[2] in KINDS:
                loc = loc[:2] + loc[3:]
            lines.append(doc.problem(loc, err["msg"]))
        raise ConfigError("\n".join(lines)) from None
    return _resolve_outside(doc, parsed, os.environ if env is None else env)


def load_sources(path: Path, env: Mapping[str, str] | None = None) -> SourcesFile:
    """Read and validate the sources file at ``path``."""
    return parse_sources(read_yaml(path), env)
