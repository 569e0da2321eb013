"""The sources file: validated on load, every problem named by file, line and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.errors import ConfigError
from pipeline.sources.config import (
    JetstreamEntry,
    MastodonEntry,
    RedditEntry,
    RssEntry,
    load_sources,
)

GOOD = """\
sources:
  - name: bsky
    kind: bluesky_jetstream
    url: wss://jetstream2.us-east.bsky.network/subscribe
  - name: fedi
    kind: mastodon
    urls: [https://mastodon.social, https://fosstodon.org]
    streams: [public, "hashtag:pharma"]
    token_env: TOCSIN_MASTODON_TOKEN
  - name: news
    kind: rss
    urls: [https://news.example/feed.xml]
    interval_s: 600
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "sources.yaml"
    path.write_text(text)
    return path


def problem(tmp_path: Path, text: str, env: dict[str, str] | None = None) -> str:
    with pytest.raises(ConfigError) as caught:
        load_sources(write(tmp_path, text), env=env or {})
    return str(caught.value)


def test_a_valid_file_loads_each_kind_and_reads_the_token_from_the_environment(
    tmp_path: Path,
) -> None:
    token = "a-real-token-0123456789"
    parsed = load_sources(write(tmp_path, GOOD), env={"TOCSIN_MASTODON_TOKEN": token})
    bsky, fedi, news = parsed.sources
    assert isinstance(bsky, JetstreamEntry) and bsky.rewind_s == 5.0 and not bsky.reposts
    assert isinstance(fedi, MastodonEntry) and fedi.endpoints == [
        "https://mastodon.social",
        "https://fosstodon.org",
    ]
    assert fedi.token is not None and fedi.token.get_secret_value() == token
    assert token not in repr(fedi) and token not in str(parsed)
    assert isinstance(news, RssEntry) and news.interval_s == 600 and news.platform == "news"


def test_a_wrong_field_is_named_with_its_line(tmp_path: Path) -> None:
    text = GOOD.replace("interval_s: 600", "interval_s: 0")
    assert problem(tmp_path, text, {"TOCSIN_MASTODON_TOKEN": "x" * 20}) == (
        f"{tmp_path / 'sources.yaml'}:13: field 'sources[2].interval_s': "
        "Input should be greater than or equal to 1"
    )


def test_an_unknown_kind_a_bad_url_and_a_typo_are_each_reported(tmp_path: Path) -> None:
    text = (
        "sources:\n"
        "  - name: a\n"
        "    kind: twitter\n"
        "    url: https://x.example\n"
        "  - name: b\n"
        "    kind: bluesky_jetstream\n"
        "    url: https://not-a-websocket.example\n"
        "  - name: c\n"
        "    kind: rss\n"
        "    url: https://x.example/feed\n"
        "    intervall_s: 60\n"
    )
    lines = problem(tmp_path, text).splitlines()
    assert lines[0].startswith(f"{tmp_path / 'sources.yaml'}:2: field 'sources[0]'")
    assert "'rss', 'bluesky_jetstream', 'mastodon', 'reddit'" in lines[0]
    assert lines[1].startswith(f"{tmp_path / 'sources.yaml'}:7: field 'sources[1].url'")
    assert lines[2].startswith(f"{tmp_path / 'sources.yaml'}:11: field 'sources[2].intervall_s'")
    assert len(lines) == 3


def test_url_or_urls_is_required_and_names_must_be_unique(tmp_path: Path) -> None:
    text = "sources:\n  - name: a\n    kind: rss\n"
    assert "url or urls is required" in problem(tmp_path, text)
    text = (
        "sources:\n"
        "  - {name: a, kind: rss, url: 'https://x.example/1'}\n"
        "  - {name: a, kind: rss, url: 'https://x.example/2'}\n"
    )
    assert problem(tmp_path, text).endswith(
        ":3: field 'sources[1].name': duplicate source name 'a'"
    )


def test_a_missing_or_placeholder_token_is_refused_without_echoing_it(tmp_path: Path) -> None:
    unset = problem(tmp_path, GOOD)
    assert (
        ":9: field 'sources[1].token_env': environment variable TOCSIN_MASTODON_TOKEN is unset"
        in unset
    )
    placeholder = problem(tmp_path, GOOD, {"TOCSIN_MASTODON_TOKEN": "changeme"})
    assert "looks like a placeholder" in placeholder and "changeme" not in placeholder


def test_invalid_yaml_names_the_line(tmp_path: Path) -> None:
    assert ":3: not valid YAML" in problem(tmp_path, "sources:\n  - name: a\n   kind: [\n")


def test_reddit_needs_its_app_credentials_from_the_environment(tmp_path: Path) -> None:
    text = (
        "sources:\n"
        "  - name: reddit\n"
        "    kind: reddit\n"
        "    client_id_env: TOCSIN_REDDIT_ID\n"
        "    client_secret_env: TOCSIN_REDDIT_SECRET\n"
        "    user_agent: 'linux:tocsin:0.1 (by /u/someone)'\n"
    )
    assert ":5: field 'sources[0].client_secret_env': environment variable" in problem(
        tmp_path, text, {"TOCSIN_REDDIT_ID": "id-0123456789"}
    )
    env = {"TOCSIN_REDDIT_ID": "id-0123456789", "TOCSIN_REDDIT_SECRET": "secret-0123456789"}
    (entry,) = load_sources(write(tmp_path, text), env=env).sources
    assert isinstance(entry, RedditEntry) and entry.endpoints == ["https://oauth.reddit.com"]
    assert entry.client_secret is not None
    assert entry.client_secret.get_secret_value() == "secret-0123456789"
    assert "secret-0123456789" not in repr(entry)


def test_jetstream_compression_needs_a_zstd_dictionary_file(tmp_path: Path) -> None:
    head = "sources:\n  - name: bsky\n    kind: bluesky_jetstream\n    url: wss://j.example/s\n"
    assert "compress: true needs zstd_dictionary" in problem(
        tmp_path, head + "    compress: true\n"
    )
    missing = problem(tmp_path, head + "    compress: true\n    zstd_dictionary: no.dict\n")
    assert missing.startswith(f"{tmp_path / 'sources.yaml'}:6: field 'sources[0].zstd_dictionary'")
    (tmp_path / "plain.txt").write_bytes(b"not a dictionary")
    wrong = problem(tmp_path, head + "    compress: true\n    zstd_dictionary: plain.txt\n")
    assert "not a zstd dictionary" in wrong
    # A real dictionary's magic number; the path is relative to the sources file.
    (tmp_path / "jetstream.dict").write_bytes(b"\x37\xa4\x30\xec" + bytes(60))
    entry = load_sources(
        write(tmp_path, head + "    compress: true\n    zstd_dictionary: jetstream.dict\n"), env={}
    ).sources[0]
    assert isinstance(entry, JetstreamEntry) and entry.zstd_dict is not None
    assert entry.zstd_dict.startswith(b"\x37\xa4\x30\xec")
