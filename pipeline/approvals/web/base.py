"""What every approval page shares: security headers, who is asking, audited refusals.

:class:`ApprovalView` is the base of every page. Its :meth:`ApprovalView.visit` is the one
preamble of an authenticated page (approvals on, the request's user and session, or the
response to send instead); :meth:`ApprovalView.refuse` writes a refusal caught at the edge to
the audit topic and renders it.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from faust.web import Request, Response, View

from pipeline import services
from pipeline.app import app
from pipeline.approvals import session as approval_session
from pipeline.approvals.audit import Origin, refusal_entry
from pipeline.approvals.errors import (
    ApprovalRefused,
    AuthRefused,
)
from pipeline.approvals.flow import audit_record, utcnow
from pipeline.approvals.runtime import ApprovalRuntime, runtime
from pipeline.approvals.state import DraftState
from pipeline.approvals.users import User
from pipeline.refusals import RefusalLedger
from pipeline.tables import approvals
from pipeline.topics import response_audit
from pipeline.web_guard import refusal_ledger

log = logging.getLogger(__name__)

LOGIN_COOKIE = "tocsin_login"
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
}
#: HTTP status for a refusal reason (anything else: 403).
REFUSAL_STATUS = {
    "unknown_draft": 404,
    "stale_version": 409,
    "not_pending": 409,
    "edit_after_approval": 409,
    "comment_required": 422,
    "invalid_text": 422,
    "bad_request": 400,
    "bad_payload": 400,
    "bad_token": 401,
    "no_session": 401,
    "bad_session": 401,
    "session_expired": 401,
    "signature_missing": 401,
    "bad_signature": 401,
    "stale_timestamp": 401,
}


# -- helpers -------------------------------------------------------------------------------------
def remote_of(request: Request) -> str | None:
    remote = getattr(request, "remote", None)
    return str(remote) if remote else None


async def form_of(request: Request) -> Mapping[str, Any]:
    """The posted form; one that does not decode (not UTF-8, broken multipart) reads as empty.

    aiohttp raises on such a body (UnicodeDecodeError), which answered a 500 before sign-in was
    even checked. Read as empty, the form has no CSRF token, so the page refuses it as it refuses
    any forged form: a 4xx, audited.
    """
    try:
        form: Mapping[str, Any] = await request.post()  # type: ignore[attr-defined]
    except ValueError:  # UnicodeDecodeError is one
        return {}
    return form


def load_state(draft_id: str) -> DraftState | None:
    raw = approvals.get(draft_id)
    return DraftState.from_dict(raw) if raw else None


def when(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value is not None else ""


def secure_cookies() -> bool:
    """Secure cookies unless the worker's public URL is plain HTTP (loopback development)."""
    url = services.settings().public_url
    return url is None or url.startswith("https://")


_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def loggable(value: str, limit: int = 100) -> str:
    """A request-supplied value fit for one log line: control characters (CR, LF, ESC ...)
    escaped, so a draft id of ``x%0a[..] [INFO] approved`` from a URL cannot forge a line."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", value[:limit])


async def audit_refusal(
    error: ApprovalRefused,
    *,
    actor: str,
    action: str,
    draft_id: str,
    channel: str,
    remote: str | None,
) -> dict[str, Any]:
    """Write a refusal caught at the edge to the audit topic; returns the entry (dict).

    Every refusal is counted; past the ledger's threshold for this client and minute it is not
    written one by one but summarised once the minute is over (:mod:`pipeline.refusals`).
    """
    entry = refusal_entry(
        error,
        at=utcnow(),
        actor=actor,
        action=action,
        draft_id=draft_id,
        origin=Origin(channel, remote),
    )
    metrics = services.metrics()
    metrics.approval_refusals.labels(error.reason).inc()
    ledger = refusal_ledger()
    if ledger.refused(remote or "-", error.reason):
        await response_audit.send(key=entry.draft_id or "-", value=audit_record(entry))
        log.info("refused %s on %s: %s", loggable(action), loggable(draft_id or "-"), error.reason)
    await write_summaries(ledger)
    return entry.to_dict()


async def write_summaries(ledger: RefusalLedger) -> None:
    """Audit one summary per client and finished minute for the refusals not audited singly."""
    for summary in ledger.take_summaries():
        reasons = ", ".join(f"{k} x{v}" for k, v in sorted(summary.reasons.items()))
        entry = refusal_entry(
            ApprovalRefused(
                "refusals_summarised",
                f"{summary.count} more refusals from this client in the minute: {reasons}",
            ),
            at=datetime.fromtimestamp(summary.minute_start, UTC),
            actor="anonymous",
            action="refused_requests",
            draft_id="",
            origin=Origin("web", summary.client),
        )
        await response_audit.send(key="-", value=audit_record(entry))
        log.info("refusals summarised for %s: %d (%s)", summary.client, summary.count, reasons)


@app.timer(30.0)  # type: ignore[untyped-decorator]  # faust.App.timer is not typed
async def flush_refusal_summaries() -> None:
    """Summaries are written by the next refusal too; this writes them when none follows."""
    if "refusal_ledger" in services.extra():
        await write_summaries(refusal_ledger())


def who(request: Request, rt: ApprovalRuntime) -> tuple[User, str]:
    """The user and session id of a request (bearer token first, then the session cookie)."""
    header = request.headers.get("Authorization", "")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise AuthRefused("bad_token", "the Authorization header is not a bearer token")
        user = rt.config.users.authenticate(token)
        return user, approval_session.bearer_session_id(token)
    secret = services.settings().approval_link_secret
    assert secret is not None  # the pages answer 503 before this when the feature is off
    session = approval_session.verify(
        secret, request.cookies.get(approval_session.COOKIE), now=time.time()
    )
    return rt.config.users.get(session.user_id), session.sid


def claimed_actor(request: Request) -> str:
    """Who an unauthenticated request says it is, for the audit (never trusted)."""
    cookie = request.cookies.get(approval_session.COOKIE) or ""
    user = cookie.rsplit(".", 3)[0] if cookie.count(".") >= 3 else ""
    return f"claimed:{user[:40]}" if user else "anonymous"


# -- base view -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Visit:
    """An authenticated request to an approval page: the runtime, who, their session, from where."""

    rt: ApprovalRuntime
    user: User
    sid: str
    remote: str | None


class ApprovalView(View):
    """Shared rendering and refusal handling for the approval pages."""

    def page(
        self,
        rt: ApprovalRuntime,
        name: str,
        *,
        status: int = 200,
        cookie: str | None = None,
        **context: Any,
    ) -> Response:
        headers = dict(SECURITY_HEADERS)
        if cookie is not None:
            headers["Set-Cookie"] = cookie
        return self.html(rt.render(name, **context), status=status, headers=headers)

    def redirect(self, location: str, *, cookie: str | None = None) -> Response:
        headers = {**SECURITY_HEADERS, "Location": location}
        if cookie is not None:
            headers["Set-Cookie"] = cookie
        return self.html("", status=303, headers=headers)

    def closed(self) -> Response:
        return self.html(
            "Approvals are not configured (TOCSIN_APPROVAL_LINK_SECRET).",
            status=503,
            headers=SECURITY_HEADERS,
        )

    def refused(
        self, rt: ApprovalRuntime, entry: Mapping[str, Any], user: User | None = None
    ) -> Response:
        reason = str(entry.get("reason", ""))
        return self.page(
            rt,
            "message.html",
            status=REFUSAL_STATUS.get(reason, 403),
            heading="Request refused",
            text=f"{entry.get('detail') or reason} (reason: {reason}). This attempt is in the audit log.",
            link="/approvals",
            user=user,
        )

    async def authenticate(
        self, request: Request, rt: ApprovalRuntime, *, action: str, draft_id: str
    ) -> tuple[User, str] | Response:
        """The user, or the response to send: login redirect (GET) or an audited 401."""
        try:
            return who(request, rt)
        except AuthRefused as exc:
            if exc.reason == "no_session" and request.method == "GET":
                return self.redirect(f"/approvals/login?next={quote(str(request.url.path))}")
            entry = await audit_refusal(
                exc,
                actor=claimed_actor(request),
                action=action,
                draft_id=draft_id,
                channel="web",
                remote=remote_of(request),
            )
            return self.refused(rt, entry)

    async def visit(self, request: Request, *, action: str, draft_id: str) -> Visit | Response:
        """The preamble of an authenticated page: the visit, or the response to send instead
        (503 when approvals are off, a login redirect, an audited refusal)."""
        rt = runtime()
        if not rt.enabled:
            return self.closed()
        found = await self.authenticate(request, rt, action=action, draft_id=draft_id)
        if not isinstance(found, tuple):
            return found
        user, sid = found
        return Visit(rt, user, sid, remote_of(request))

    async def refuse(
        self,
        rt: ApprovalRuntime,
        error: ApprovalRefused,
        *,
        actor: str,
        action: str,
        draft_id: str,
        remote: str | None,
        user: User | None = None,
    ) -> Response:
        """Audit a refusal caught at the edge of a web page and render it."""
        entry = await audit_refusal(
            error, actor=actor, action=action, draft_id=draft_id, channel="web", remote=remote
        )
        return self.refused(rt, entry, user)

    def no_draft(
        self, rt: ApprovalRuntime, user: User, text: str = "This draft does not exist (yet)."
    ) -> Response:
        return self.page(
            rt,
            "message.html",
            status=404,
            heading="No such draft",
            text=text,
            link="/approvals",
            user=user,
        )
