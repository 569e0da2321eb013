"""Authors pseudonymised at ingest: a keyed hash instead of the platform's id, handles dropped.

Every mention that leaves ingest (``mentions``, then classified mentions, buckets, alerts, cases)
names its author by ``HMAC-SHA256(key, platform + "\\x1f" + author id)`` (hex, first 32
characters: 128 bits) instead of the id the source gave. The same author on the same platform gets
the same pseudonym under one key, so distinct-author counts and top authors still work; without the
key nobody can go back from the pseudonym to the account. ``Author.key_id`` records which key made
it, so the key can be rotated: after a rotation old records keep their key id, new ones get the
new one, and a tool that must find an author (``tocsin privacy erase``) hashes their id under each
key it is given.

Handles (``@jane_doe``) are dropped except for the author kinds a setting lists
(``TOCSIN_HANDLES_KEPT_FOR``, e.g. ``journalist,ngo``: public voices a responder may need to
name); a patient's handle is never kept unless an operator lists ``patient`` on purpose.

The key is ``TOCSIN_PSEUDONYM_KEY`` (a secret, placeholders refused) with its id
``TOCSIN_PSEUDONYM_KEY_ID``. Without one, a worker uses a random key of its own (id ``ephemeral``)
and says so in its log: ids are still never kept, but pseudonyms then change when the worker
restarts and differ between workers, so production sets the key.

The raw topic (``mentions.raw``) holds what sources sent, ids and handles included, for as long as
its retention allows (``pipeline/topology.py``); the mention's ``url`` and ``id`` may still name
the account on some platforms.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import SecretStr

from pipeline import services
from pipeline.records import Author
from pipeline.settings import Settings

log = logging.getLogger(__name__)

DIGEST_CHARS = 32
EPHEMERAL = "ephemeral"
KEY_ID = re.compile(r"[A-Za-z0-9_.-]{1,32}")


def pseudonym(key: bytes, platform: str, author_id: str) -> str:
    """The keyed hash of one author on one platform (hex, :data:`DIGEST_CHARS` long)."""
    message = f"{platform}\x1f{author_id}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()[:DIGEST_CHARS]


@dataclass(frozen=True)
class Pseudonymiser:
    """Replaces author ids by their pseudonym and keeps handles only for the kinds allowed."""

    key: SecretStr
    key_id: str
    handles_kept_for: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        if not KEY_ID.fullmatch(self.key_id):
            raise ValueError(f"pseudonym key id {self.key_id!r}: letters, digits, '_.-', 1-32")

    def of(self, platform: str, author_id: str) -> str:
        return pseudonym(self.key.get_secret_value().encode(), platform, author_id)

    def author(self, platform: str, given: Mapping[str, Any]) -> Author:
        """The record's author for the author fields a source gave (validated by the decoder)."""
        kind = str(given.get("kind", "unknown"))
        return Author(
            id=self.of(platform, str(given["id"])),
            followers=int(given.get("followers", 0)),
            verified=bool(given.get("verified", False)),
            kind=kind,
            handle=given.get("handle") if kind in self.handles_kept_for else None,
            key_id=self.key_id,
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> Pseudonymiser:
        """The configured key, or a random one for this process (logged as a warning)."""
        kept = frozenset(settings.handles_kept_for)
        if settings.pseudonym_key is None:
            log.warning(
                "TOCSIN_PSEUDONYM_KEY is not set: authors are pseudonymised with a random key of "
                "this worker's own, so pseudonyms change on restart and differ between workers"
            )
            return cls(SecretStr(secrets.token_hex(32)), EPHEMERAL, kept)
        return cls(settings.pseudonym_key, settings.pseudonym_key_id, kept)


def configured() -> Pseudonymiser:
    """This worker's pseudonymiser, built once from its settings (kept with its services)."""
    return services.made_once(
        "pseudonymiser", Pseudonymiser, lambda: Pseudonymiser.from_settings(services.settings())
    )
