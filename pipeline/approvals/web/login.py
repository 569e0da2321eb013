"""Signing in to the approval pages: the per-user token login and single-use signed links."""

from __future__ import annotations

import time

from faust.web import Request, Response

from pipeline import services
from pipeline.app import app
from pipeline.approvals import session as approval_session
from pipeline.approvals.errors import AuthRefused, CsrfRefused, LinkRefused
from pipeline.approvals.flow import utcnow
from pipeline.approvals.runtime import runtime
from pipeline.approvals.web.base import (
    LOGIN_COOKIE,
    ApprovalView,
    Visit,
    load_state,
    remote_of,
    secure_cookies,
)
from pipeline.approvals.web.render import render_draft

#: Where a sign-in may return to: the pages sharing it (never another site, "//host" included).
SIGNED_IN_PAGES = ("/approvals", "/console", "/safety")


def after_login(nxt: str | None) -> str:
    """``nxt`` when it is one of our signed-in pages, else the approval queue."""
    if nxt and any(nxt == p or nxt.startswith((p + "/", p + "?")) for p in SIGNED_IN_PAGES):
        return nxt
    return "/approvals"


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
        return self.page(
            rt,
            "login.html",
            cookie=cookie,
            csrf=rt.signer.csrf_token(session_id=sid, draft_id="login"),
            next=after_login(request.query.get("next")),
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
            return await self.refuse(
                rt, refusal, actor="anonymous", action="login", draft_id="", remote=remote
            )
        try:
            user = rt.config.users.authenticate(str(form.get("token") or ""))
        except AuthRefused as exc:
            return await self.refuse(
                rt, exc, actor="anonymous", action="login", draft_id="", remote=remote
            )
        cookie = approval_session.cookie_header(
            approval_session.issue(secret, user.id, now=time.time()), secure=secure_cookies()
        )
        return self.redirect(after_login(str(form.get("next") or "")), cookie=cookie)


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
            return await self.refuse(
                rt, exc, actor="anonymous", action="open_link", draft_id="", remote=remote
            )
        state = load_state(claims.draft_id)
        try:
            if state is not None and claims.nonce in state.used_nonces:
                raise LinkRefused("link_replayed", "this single-use link has already been used")
            user = rt.config.users.get(claims.user_id)
        except (LinkRefused, AuthRefused) as exc:
            return await self.refuse(
                rt,
                exc,
                actor=claims.user_id,
                action="open_link",
                draft_id=claims.draft_id,
                remote=remote,
            )
        if state is None:
            return self.no_draft(rt, user)
        secret = services.settings().approval_link_secret
        assert secret is not None
        value = approval_session.issue(secret, user.id, now=time.time())
        sid = value.rsplit(".", 3)[1]
        return render_draft(
            self,
            Visit(rt, user, sid, remote),
            state,
            cookie=approval_session.cookie_header(value, secure=secure_cookies()),
            link_token=token,
            preselect=claims.action,
        )
