"""``POST /api/ingest/{vendor}``: authenticate a vendor push, map it, and deliver it like HTTP ingest.

In the order a request meets it (cheapest refusal first)::

    vendor configured (404) -> bearer token, for vendors that do not sign (401)
    -> media type, Content-Length, bucket not empty, body read (415/400/413/429/408)
    -> signature over the body read, for vendors that sign (401) -> already accepted? (200)
    -> the adapter maps each item -> pipeline.ingest.http.deliver (the one decode / produce /
       dead-letter path, with the per-line results, 202/207/422 and 503 of POST /api/mentions)

Each vendor is one client of the ingest gate (``vendor:<name>``): its own token bucket, its name
on dead letters. Secrets are compared in constant time and never logged. A signed push carries
no timestamp (Meltwater sends none), so replays are refused by memory instead of by age: the
signatures of accepted pushes are kept for ``TOCSIN_VENDOR_REPLAY_WINDOW_S`` (bounded), and the
same signed body again is answered 200 ``duplicate`` with nothing produced -- also what a vendor
retrying a push that was stored needs to hear.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field

from pydantic import SecretStr

from pipeline.brands import BrandMatcher
from pipeline.ingest.http import (
    IngestGate,
    IngestRefused,
    Reply,
    Sink,
    accepted_media_type,
    answer,
    declared_length,
    deliver,
    read_within,
)
from pipeline.ingest.vendors import ADAPTERS, VendorAdapter
from pipeline.metrics import TocsinMetrics
from pipeline.settings import Settings

PATH = "/api/ingest/{vendor}"
SIGNATURE_HEADER = "X-Hub-Signature"
MAX_REMEMBERED = 100_000


def _unauthorized(code: str, message: str) -> IngestRefused:
    return IngestRefused(401, code, message, {"WWW-Authenticate": 'Bearer realm="tocsin-vendor"'})


def check_bearer(secret: SecretStr, authorization: str) -> None:
    """Refuse (401) unless ``authorization`` is ``Bearer <secret>``; compared in constant time."""
    scheme, _, given = authorization.partition(" ")
    same = hmac.compare_digest(given.strip().encode(), secret.get_secret_value().encode())
    if not (same and scheme.lower() == "bearer"):
        raise _unauthorized("unauthorized", "missing or invalid bearer token")


def hub_signature(secret: SecretStr, body: bytes) -> str:
    """The ``X-Hub-Signature`` Meltwater sends: ``sha1=`` and the HMAC-SHA1 of the body, in hex."""
    mac = hmac.new(secret.get_secret_value().encode(), body, hashlib.sha1)
    return f"sha1={mac.hexdigest()}"


def check_hub_signature(secret: SecretStr, body: bytes, header: str | None) -> str:
    """Refuse (401) a missing or wrong signature; return the signature, the push's identity."""
    if not header:
        raise _unauthorized("signature_missing", f"no {SIGNATURE_HEADER} header")
    expected = hub_signature(secret, body)
    if not hmac.compare_digest(expected.encode(), header.strip().encode("utf-8", "replace")):
        raise _unauthorized("bad_signature", f"{SIGNATURE_HEADER} does not match the body")
    return expected


@dataclass
class VendorGate:
    """Which vendors are configured (and their secrets), and the signed pushes already accepted."""

    secrets: dict[str, SecretStr]
    replay_window_s: float
    clock: Callable[[], float] = time.time
    seen: OrderedDict[str, float] = field(default_factory=OrderedDict)

    @classmethod
    def from_settings(cls, cfg: Settings, clock: Callable[[], float] = time.time) -> VendorGate:
        secrets = {}
        for name, adapter in ADAPTERS.items():
            value = getattr(cfg, adapter.setting)
            if isinstance(value, SecretStr):
                secrets[name] = value
        return cls(secrets, float(cfg.vendor_replay_window_s), clock)

    def configured(self, vendor: str) -> tuple[VendorAdapter, SecretStr]:
        """The vendor's adapter and secret; 404 for a vendor unknown or without a secret."""
        adapter = ADAPTERS.get(vendor)
        secret = self.secrets.get(vendor)
        if adapter is None or secret is None:
            # One answer for both, so the route does not tell which vendors exist.
            raise IngestRefused(404, "unknown_vendor", "no such vendor push is configured")
        return adapter, secret

    def already_accepted(self, signature: str) -> bool:
        self._forget_old()
        return signature in self.seen

    def remember(self, signature: str) -> None:
        self.seen[signature] = self.clock()
        self.seen.move_to_end(signature)
        while len(self.seen) > MAX_REMEMBERED:
            self.seen.popitem(last=False)

    def _forget_old(self) -> None:
        cutoff = self.clock() - self.replay_window_s
        while self.seen and next(iter(self.seen.values())) < cutoff:
            self.seen.popitem(last=False)


async def handle_vendor(
    *,
    vendor: str,
    gate: IngestGate,
    vendors: VendorGate,
    headers: Mapping[str, str],
    chunks: AsyncIterator[bytes],
    sink: Sink,
    matcher: BrandMatcher,
    metrics: TocsinMetrics,
    ack_timeout_s: float = 30.0,
) -> Reply:
    """Answer one vendor push; outcomes are counted with ``POST /api/mentions``'s."""

    async def run() -> Reply:
        adapter, secret = vendors.configured(vendor)
        client = f"vendor:{adapter.name}"
        if adapter.auth == "bearer":
            check_bearer(secret, headers.get("Authorization", ""))
        kind = accepted_media_type(headers)
        declared_length(headers, gate.max_body_bytes)
        gate.refuse_if_empty(client)
        body = await read_within(gate, chunks)
        signature = None
        if adapter.auth == "hub_sha1":
            signature = check_hub_signature(secret, body, headers.get(SIGNATURE_HEADER))
            if vendors.already_accepted(signature):
                return Reply(200, {"client": client, "duplicate": True, "accepted": 0})
        lines = adapter.lines(body, kind, gate.max_lines)
        reply = await deliver(gate, client, lines, sink, matcher, metrics, ack_timeout_s)
        if signature is not None:
            vendors.remember(signature)
        return reply

    return await answer(run, metrics)
