"""Approval pages and the Slack interactivity endpoint, on the worker's one web port.

Pages (server-rendered Jinja2, autoescaped, no JavaScript): ``/approvals`` the queue of drafts
awaiting me, ``/approvals/<draft>`` the draft with its alert context and decision forms,
``/approvals/<draft>/audit`` its audit trail, ``/approvals/login`` (per-user token) and
``/approvals/link/<token>`` (single-use signed link). Slack's signed ``block_actions`` clicks on
approval requests arrive through ``/slack/actions`` (registered by ``pipeline.oncall.api``, which
hands them to :func:`slack_approval_action`).

Every request proves who it is (bearer token, signed session cookie, signed link, or Slack
signature + mapped Slack user); every form carries a CSRF token bound to the session and the draft.
A refusal at the edge (bad token, forged cookie, CSRF, link, Slack signature) is written to the
audit topic right here; everything else becomes a decision event on ``responses.decisions`` and
the page answers only once ``apply_decisions`` has applied (or refused and audited) *that* event,
so what the page says is what the state says. Pages read the approval tables of this worker: with
several workers, put the approval pages behind one replica or route by draft partition.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from faust.web import Request, Response, View

from pipeline import services
from pipeline.app import app
from pipeline.approvals import session as approval_session
from pipeline.approvals import slack_verify
from pipeline.approvals.audit import Origin, refusal_entry
from pipeline.approvals.errors import (
    ApprovalRefused,
    AuthRefused,
    CsrfRefused,
    LinkRefused,
)
from pipeline.approvals.flow import (
    STATUS_LABELS,
    audit_record,
    decision,
    role_label,
    utcnow,
)
from pipeline.approvals.runtime import ApprovalRuntime, runtime
from pipeline.approvals.slack import ACTION_PREFIX, claimed_user, parse_interaction
from pipeline.approvals.state import (
    Actor,
    Approved,
    ChangesRequested,
    DraftState,
    Edited,
    Event,
    Rejected,
    fillable_roles,
)
from pipeline.approvals.tokens import LinkClaims
from pipeline.approvals.users import User
from pipeline.refusals import RefusalLedger
from pipeline.tables import approvals, audit_trail
from pipeline.topics import response_audit, response_decisions
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
SLACK_ACK_WAIT_S = 2.5  # Slack wants an answer within 3 s; the message is rewritten anyway


# -- helpers -------------------------------------------------------------------------------------
def remote_of(request: Request) -> str | None:
    remote = getattr(request, "remote", None)
    return str(remote) if remote else None


def load_state(draft_id: str) -> DraftState | None:
    raw = approvals.get(draft_id)
    return DraftState.from_dict(raw) if raw else None


def when(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value is not None else ""


def secure_cookies() -> bool:
    """Secure cookies unless the worker's public URL is plain HTTP (loopback development)."""
    url = services.settings().public_url
    return url is None or url.startswith("https://")


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
        log.info("refused %s on %s: %s", action, draft_id or "-", error.reason)
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


# -- view models ---------------------------------------------------------------------------------
def summary(state: DraftState, actor: Actor) -> dict[str, Any]:
    d = state.draft
    due = [state.deadline(r) for r in state.missing_roles()] if state.status == "pending" else []
    return {
        "draft_id": d.id,
        "brand": d.brand,
        "topic_label": d.topic.replace("_", " "),
        "severity": d.severity,
        "lang": d.language,
        "status_label": STATUS_LABELS.get(state.status, state.status),
        "needs": [role_label(r) for r in state.missing_roles()]
        if state.status == "pending"
        else [],
        "due": when(min(due)) if due else "",
        "mine": bool(fillable_roles(state, actor)),
        "created": state.created_at,
    }


def trail_rows(entries: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for e in reversed(entries):
        detail = "; ".join(
            x for x in (str(e.get("detail") or ""), str(e.get("comment") or "")) if x
        )
        rows.append(
            {
                "at": str(e.get("at", ""))[:19].replace("T", " "),
                "who": e.get("actor", ""),
                "action": str(e.get("action", "")).replace("_", " "),
                "outcome": e.get("outcome", ""),
                "reason": e.get("reason", ""),
                "channel": e.get("channel", ""),
                "remote": e.get("remote_addr", ""),
                "detail": detail,
                "text": str(e.get("text") or ""),
                "hash": str(e.get("text_hash") or "")[:12],
            }
        )
    return rows


def draft_view(state: DraftState, user: User, actor: Actor) -> dict[str, Any]:
    d = state.draft
    alert = dict(state.extra.get("alert") or {})
    held = user.roles | state.acting_roles(user.id)
    required = set(state.requirement.roles)
    return {
        **summary(state, actor),
        "text": d.text,
        "text_hash": state.text_hash,
        "version": state.version,
        "template_id": d.template_id,
        "edited": d.needs_review,
        "required": [role_label(r) for r in state.requirement.roles],
        "approvals": [
            {"user": a.user_id, "role": role_label(a.role), "at": when(a.at)}
            for a in state.current_approvals()
        ],
        # Reviewers who hold a required role and have not approved this round may decide;
        # those who already approved see the outcome instead of a second form.
        "can_decide": state.status == "pending"
        and bool(held & required)
        and user.id not in {a.user_id for a in state.current_approvals()},
        "can_edit": state.status in ("pending", "changes_requested")
        and "responder" in user.roles
        and not state.current_approvals(),
        "alert": {
            "summary": alert.get("summary", ""),
            "observed": f"{float(alert.get('observed') or 0):g}",
            "expected": alert.get("expected", ""),
            "started_at": alert.get("started_at", ""),
            "why": sorted((str(k).replace("_", " "), v) for k, v in alert.get("why", {}).items()),
            "top_mentions": alert.get("top_mentions", []),
        },
    }


# -- base view -----------------------------------------------------------------------------------
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


# -- pages ---------------------------------------------------------------------------------------
@app.page("/approvals/login")
class LoginView(ApprovalView):
    async def get(self, request: Request) -> Response:
        rt = runtime()
        if not rt.enabled:
            return self.closed()
        pre = approval_session.issue(
            services.settings().approval_link_secret,  # type: ignore[arg-type]
            "login",
            now=time.time(),
            ttl_s=900,
        )
        sid = pre.rsplit(".", 3)[1]
        cookie = (
            f"{LOGIN_COOKIE}={pre}; Path=/approvals/login; Max-Age=900; HttpOnly; SameSite=Strict"
            + ("; Secure" if secure_cookies() else "")
        )
        nxt = request.query.get("next", "/approvals")
        return self.page(
            rt,
            "login.html",
            cookie=cookie,
            csrf=rt.signer.csrf_token(session_id=sid, draft_id="login"),
            next=nxt if nxt.startswith("/approvals") else "/approvals",
        )

    async def post(self, request: Request) -> Response:
        rt = runtime()
        if not rt.enabled:
            return self.closed()
        secret = services.settings().approval_link_secret
        assert secret is not None
        form = await request.post()
        remote = remote_of(request)
        try:
            pre = approval_session.verify(
                secret, request.cookies.get(LOGIN_COOKIE), now=time.time()
            )
            rt.signer.check_csrf(str(form.get("csrf") or ""), session_id=pre.sid, draft_id="login")
        except (AuthRefused, CsrfRefused) as exc:
            refusal = (
                exc if isinstance(exc, CsrfRefused) else CsrfRefused("csrf_missing", exc.detail)
            )
            entry = await audit_refusal(
                refusal,
                actor="anonymous",
                action="login",
                draft_id="",
                channel="web",
                remote=remote,
            )
            return self.refused(rt, entry)
        try:
            user = rt.config.users.authenticate(str(form.get("token") or ""))
        except AuthRefused as exc:
            entry = await audit_refusal(
                exc, actor="anonymous", action="login", draft_id="", channel="web", remote=remote
            )
            return self.refused(rt, entry)
        cookie = approval_session.cookie_header(
            approval_session.issue(secret, user.id, now=time.time()), secure=secure_cookies()
        )
        nxt = str(form.get("next") or "/approvals")
        return self.redirect(nxt if nxt.startswith("/approvals") else "/approvals", cookie=cookie)


@app.page("/approvals/link/{token}")
class LinkView(ApprovalView):
    """A single-use signed link: signs the user in and shows the draft with the linked action.

    Opening the link does not decide anything (mail scanners open links); the decision is the
    form that follows, which carries the link so the state machine spends its nonce once.
    """

    async def get(self, request: Request, token: str) -> Response:
        rt = runtime()
        if not rt.enabled:
            return self.closed()
        remote = remote_of(request)
        try:
            claims = rt.signer.verify(token, now=utcnow())
        except LinkRefused as exc:
            entry = await audit_refusal(
                exc,
                actor="anonymous",
                action="open_link",
                draft_id="",
                channel="web",
                remote=remote,
            )
            return self.refused(rt, entry)
        state = load_state(claims.draft_id)
        if state is not None and claims.nonce in state.used_nonces:
            entry = await audit_refusal(
                LinkRefused("link_replayed", "this single-use link has already been used"),
                actor=claims.user_id,
                action="open_link",
                draft_id=claims.draft_id,
                channel="web",
                remote=remote,
            )
            return self.refused(rt, entry)
        try:
            user = rt.config.users.get(claims.user_id)
        except AuthRefused as exc:
            entry = await audit_refusal(
                exc,
                actor=claims.user_id,
                action="open_link",
                draft_id=claims.draft_id,
                channel="web",
                remote=remote,
            )
            return self.refused(rt, entry)
        if state is None:
            return self.page(
                rt,
                "message.html",
                status=404,
                heading="No such draft",
                text="This draft does not exist (yet).",
                link="/approvals",
                user=user,
            )
        secret = services.settings().approval_link_secret
        assert secret is not None
        value = approval_session.issue(secret, user.id, now=time.time())
        sid = value.rsplit(".", 3)[1]
        return render_draft(
            self,
            rt,
            state,
            user,
            sid,
            remote,
            cookie=approval_session.cookie_header(value, secure=secure_cookies()),
            link_token=token,
            preselect=claims.action,
        )


def render_draft(
    view: ApprovalView,
    rt: ApprovalRuntime,
    state: DraftState,
    user: User,
    sid: str,
    remote: str | None,
    *,
    status: int = 200,
    banner: dict[str, str] | None = None,
    cookie: str | None = None,
    link_token: str = "",
    preselect: str = "",
) -> Response:
    actor = Actor.of(user, "web", remote)
    trail = trail_rows(list(audit_trail[state.draft_id]))
    return view.page(
        rt,
        "draft.html",
        status=status,
        cookie=cookie,
        d=draft_view(state, user, actor),
        csrf=rt.signer.csrf_token(session_id=sid, draft_id=state.draft_id),
        trail=trail[:8],
        user=user,
        banner=banner,
        link_token=link_token,
        preselect=preselect,
    )


@app.page("/approvals")
class QueueView(ApprovalView):
    async def get(self, request: Request) -> Response:
        rt = runtime()
        if not rt.enabled:
            return self.closed()
        found = await self.authenticate(request, rt, action="view_queue", draft_id="")
        if not isinstance(found, tuple):
            return found
        user, _sid = found
        actor = Actor.of(user, "web", remote_of(request))
        items = [
            summary(DraftState.from_dict(raw), actor) for raw in list(approvals.values()) if raw
        ]
        items.sort(key=lambda s: s["created"], reverse=True)
        mine = [s for s in items if s["mine"]]
        others = [s for s in items if not s["mine"]][:100]
        return self.page(rt, "queue.html", mine=mine, others=others, user=user, nav="queue")


@app.page("/approvals/{draft_id}")
class DraftView(ApprovalView):
    async def get(self, request: Request, draft_id: str) -> Response:
        rt = runtime()
        if not rt.enabled:
            return self.closed()
        found = await self.authenticate(request, rt, action="view_draft", draft_id=draft_id)
        if not isinstance(found, tuple):
            return found
        user, sid = found
        state = load_state(draft_id)
        if state is None:
            return self.page(
                rt,
                "message.html",
                status=404,
                heading="No such draft",
                text="This draft does not exist (yet).",
                link="/approvals",
                user=user,
            )
        return render_draft(self, rt, state, user, sid, remote_of(request))


@app.page("/approvals/{draft_id}/audit")
class AuditView(ApprovalView):
    async def get(self, request: Request, draft_id: str) -> Response:
        rt = runtime()
        if not rt.enabled:
            return self.closed()
        found = await self.authenticate(request, rt, action="view_audit", draft_id=draft_id)
        if not isinstance(found, tuple):
            return found
        user, _sid = found
        trail = trail_rows(list(audit_trail[draft_id]))
        return self.page(rt, "audit.html", draft_id=draft_id, trail=trail, user=user)


def web_event(form: Mapping[str, Any], state: DraftState | None, link: LinkClaims | None) -> Event:
    """The state-machine event a decision form asks for; ApprovalRefused('bad_request')."""
    action = str(form.get("action") or "")
    try:
        version = int(str(form.get("version") or (state.version if state else 0)))
    except ValueError:
        raise ApprovalRefused("bad_request", "version is not a number") from None
    comment = str(form.get("comment") or "")
    if action == "approve":
        return Approved(version, str(form.get("text_hash") or ""), link=link)
    if action == "reject":
        return Rejected(version, comment, link=link)
    if action == "request_changes":
        return ChangesRequested(version, comment, link=link)
    if action == "edit":
        return Edited(str(form.get("text") or ""), version)
    raise ApprovalRefused("bad_request", f"unknown action {action[:40]!r}")


@app.page("/approvals/{draft_id}/decide")
class DecideView(ApprovalView):
    async def post(self, request: Request, draft_id: str) -> Response:
        rt = runtime()
        if not rt.enabled:
            return self.closed()
        form = await request.post()
        action = str(form.get("action") or "decide")[:40]
        remote = remote_of(request)
        found = await self.authenticate(request, rt, action=action, draft_id=draft_id)
        if not isinstance(found, tuple):
            return found
        user, sid = found
        state = load_state(draft_id)
        try:
            link_token = str(form.get("link") or "")
            link = rt.signer.verify(link_token, now=utcnow()) if link_token else None
            rt.signer.check_csrf(str(form.get("csrf") or ""), session_id=sid, draft_id=draft_id)
            event = web_event(form, state, link)
        except ApprovalRefused as exc:
            refusal = await audit_refusal(
                exc, actor=user.id, action=action, draft_id=draft_id, channel="web", remote=remote
            )
            return self.refused(rt, refusal, user)
        record = decision(event, Actor.of(user, "web", remote), draft_id)
        waiter = rt.expect(record.event_id)
        await response_decisions.send(key=draft_id, value=record)
        entry = await rt.wait(record.event_id, waiter)
        state = load_state(draft_id)
        if state is None:
            if entry is not None and entry.get("outcome") == "refused":
                return self.refused(rt, entry, user)
            return self.page(
                rt,
                "message.html",
                status=404,
                heading="No such draft",
                text="This draft does not exist.",
                link="/approvals",
                user=user,
            )
        if entry is None:
            banner = {
                "kind": "ok",
                "text": "Your decision was recorded and is still being applied.",
            }
            return render_draft(self, rt, state, user, sid, remote, status=202, banner=banner)
        if entry.get("outcome") == "refused":
            reason = str(entry.get("reason"))
            banner = {
                "kind": "bad",
                "text": f"Refused ({reason}): {entry.get('detail')}. The attempt is in the audit log.",
            }
            return render_draft(
                self,
                rt,
                state,
                user,
                sid,
                remote,
                status=REFUSAL_STATUS.get(reason, 403),
                banner=banner,
            )
        done = str(entry.get("action", action)).replace("_", " ")
        banner = {
            "kind": "ok",
            "text": f"Recorded: {done} {entry.get('detail') or ''}. Status: "
            f"{STATUS_LABELS.get(state.status, state.status)}.",
        }
        return render_draft(self, rt, state, user, sid, remote, banner=banner)


# -- Slack ---------------------------------------------------------------------------------------
def is_approval_action(body: bytes) -> bool:
    """Whether a Slack interaction is a response-approval click (peeked, *not* trusted).

    Slack has one interactivity URL per app, so ``/slack/actions`` (``pipeline.oncall.api``)
    routes on this: approval clicks come here, where the signature is verified and every
    refusal, forged ones included, is audited; acknowledge/resolve clicks stay with on-call.
    """
    return ACTION_PREFIX.encode() in body or quote(ACTION_PREFIX).encode() in body


async def slack_approval_action(view: View, request: Request, body: bytes) -> Response:
    """A Slack block action on an approval request: verify, map the user, decide, answer."""
    rt = runtime()
    secret = services.settings().slack_signing_secret
    if not rt.enabled or secret is None:
        return view.text("approvals via Slack are not configured", status=503)
    remote = remote_of(request)
    try:
        slack_verify.verify_headers(
            secret, body=body, headers=dict(request.headers), now=time.time()
        )
        interaction = parse_interaction(body)
        user = rt.config.users.by_slack(interaction.slack_user_id)
    except ApprovalRefused as exc:
        await audit_refusal(
            exc,
            actor=claimed_user(body),
            action="slack_action",
            draft_id="",
            channel="slack",
            remote=remote,
        )
        return view.text(exc.reason, status=REFUSAL_STATUS.get(exc.reason, 403))
    state = load_state(interaction.draft_id)
    version = state.version if state is not None else 0
    event: Event
    if interaction.action == "approve":
        event = Approved(version, interaction.text_hash)
    elif interaction.action == "reject":
        event = Rejected(version, interaction.comment)
    else:
        event = ChangesRequested(version, interaction.comment)
    reply = (
        {"channel": interaction.channel, "ts": interaction.message_ts}
        if interaction.channel and interaction.message_ts
        else None
    )
    record = decision(event, Actor.of(user, "slack", remote), interaction.draft_id, reply=reply)
    waiter = rt.expect(record.event_id)
    await response_decisions.send(key=interaction.draft_id, value=record)
    entry: dict[str, Any] | None
    try:
        entry = await asyncio.wait_for(asyncio.shield(waiter), timeout=SLACK_ACK_WAIT_S)
    except TimeoutError:
        entry = None  # the agent still applies it and rewrites the message
    finally:
        rt.waiters.pop(record.event_id, None)
    if entry is not None and entry.get("outcome") == "refused":
        return view.text(f"refused: {entry.get('reason')}", status=200)
    return view.text("", status=200)
