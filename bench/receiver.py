"""A webhook endpoint on 127.0.0.1 that records when each alert step reached it.

The worker delivers through its real generic-webhook receiver (signed, with an idempotency key), so
"alert delivered" here means what it means in production: the receiver answered 200. The receipt
time is taken on arrival, before the body is parsed, with the same wall clock the driver stamps
produced mentions with (same host, so no clock skew between the two).
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from pipeline.delivery.receivers.webhook import (
    IDEMPOTENCY_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    verify_signature,
)


@dataclass(frozen=True)
class Receipt:
    wall: float
    alert: dict[str, Any]
    idempotency_key: str
    signed: bool


@dataclass
class AlertReceiver:
    """Threaded HTTP server; ``receipts`` grows as alert steps arrive."""

    secret: bytes
    receipts: list[Receipt] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        assert self._server is not None, "start() the receiver first"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/alerts"

    def start(self) -> AlertReceiver:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                arrived = time.time()
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                signed = verify_signature(
                    owner.secret,
                    self.headers.get(TIMESTAMP_HEADER),
                    body,
                    self.headers.get(SIGNATURE_HEADER),
                    now=time.time(),
                )
                try:
                    alert = json.loads(body).get("alert", {})
                except ValueError:
                    alert = {}
                with owner._lock:
                    owner.receipts.append(
                        Receipt(arrived, alert, self.headers.get(IDEMPOTENCY_HEADER) or "", signed)
                    )
                self.send_response(200 if signed else 401)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return None

        class Server(ThreadingHTTPServer):
            daemon_threads = True

        self._server = Server(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True
        )
        self._thread.start()
        return self

    def snapshot(self) -> list[Receipt]:
        with self._lock:
            return list(self.receipts)

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
