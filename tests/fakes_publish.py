"""A real HTTP publish endpoint on 127.0.0.1 for the approvals publish step.

It checks what a careful publisher would check: the HMAC signature over ``timestamp.body`` with
the shared secret, a timestamp inside the 5-minute window, and the idempotency key, which it uses
to drop a retry it already acted on. ``published`` is what it *acted on* (one entry per distinct
key), ``requests`` every call it saw, so a test can tell "received once" from "sent once".
"""

from __future__ import annotations

import time
from typing import Any

from pipeline.delivery.receivers.webhook import verify_signature
from tests.fakes_http import FakeAPI, Invalid, Seen, json_response
from tests.fakes_http import Response as FakeResponse


class PublishWebhookFake(FakeAPI):
    path = "/publish"

    def __init__(self, secret: str) -> None:
        super().__init__()
        self.secret = secret.encode()
        self.published: dict[str, dict[str, Any]] = {}

    @property
    def url(self) -> str:
        return f"{self.base_url}{self.path}"

    def handle(self, seen: Seen) -> FakeResponse:
        if seen.method != "POST" or seen.path != self.path:
            raise Invalid("unknown path", json_response(404, {"error": "not_found"}))
        ok = verify_signature(
            self.secret,
            seen.headers.get("x-tocsin-timestamp"),
            seen.body,
            seen.headers.get("x-tocsin-signature"),
            now=time.time(),
        )
        if not ok:
            raise Invalid("bad signature", json_response(401, {"error": "bad_signature"}))
        key = seen.headers.get("x-tocsin-idempotency-key")
        if not key:
            raise Invalid("no idempotency key", json_response(400, {"error": "no_key"}))
        body = self.parse_json(seen, json_response(415, {"error": "not_json"}))
        if key in self.published:
            return json_response(200, {"ok": True, "duplicate": True})
        self.published[key] = body
        return json_response(201, {"ok": True})
