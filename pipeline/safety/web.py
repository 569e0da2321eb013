"""The safety queue on the worker's web port: ``/safety`` (the queue), ``/safety/cases/<id>``
(one case, its mention text included), and two actions, each a POST form with a CSRF token bound
to the session and the case: ``/safety/cases/<id>/move`` (a new status; a possible case moved
on is confirmed valid and its clocks start then) and ``/safety/cases/<id>/note`` (a follow-up
note).

Sign-in, sessions, CSRF tokens and audited refusals are the approval pages' own
(:class:`ApprovalView`, the console's too). Only the ``safety`` role may open any of it: anyone
else signed in gets an audited 403 (``wrong_role``). Every page view and action is written to
the audit log (``responses.audit``: who, when, from where, which case) *before* the page is
answered, so no case is shown without its record; a note's text is audited by its hash only
(health data stays on the case). Moves and notes are events on ``pv.cases`` through
:mod:`pipeline.pv.events`, applied by ``track_cases``; the page waits a moment for the table to
show them. Pages read this worker's ``cases`` table, as the approval pages read theirs: with
several workers, serve them from one replica.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode
from zoneinfo import ZoneInfo

import jinja2
from faust.web import Request, Response

from pipeline import services
from pipeline.app import app
from pipeline.approvals.audit import Origin, make_entry
from pipeline.approvals.errors import ApprovalRefused, CsrfRefused
from pipeline.approvals.flow import audit_record, utcnow
from pipeline.approvals.runtime import ApprovalRuntime
from pipeline.approvals.users import User
from pipeline.approvals.web.base import (
    SECURITY_HEADERS,
    ApprovalView,
    Visit,
    form_of,
)
from pipeline.pv import events
from pipeline.pv.cases import MOVES, confirmed
from pipeline.pv.intake import markets
from pipeline.safety import views
from pipeline.tables import audit_trail, cases
from pipeline.topics import response_audit

log = logging.getLogger(__name__)

#: The roles that may open the safety pages (there is no admin role in the users file).
SAFETY_ROLES = frozenset({"safety"})
MAX_NOTE = 4000
AUDIT_TIMEOUT_S = 10.0
APPLY_WAIT_S = 5.0
HEADERS = {
    **SECURITY_HEADERS,
    # No script at all; the console's stylesheet (served from here) and inline styles.
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
}
DONE = {
    "move": "Status changed.",
    "note": "Note added.",
    "sent": "Sent. The page shows it once the case is updated.",
}


def web_link(value: Any) -> str:
    """A mention's URL when it is http(s), else nothing (no ``javascript:`` link from a post)."""
    text = str(value or "")
    return text if text.lower().startswith(("https://", "http://")) else ""


@cache
def _pages() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(Path(__file__).parent / "templates")),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["q"] = lambda value: quote(str(value), safe="")
    env.filters["link"] = web_link
    return env


def render(name: str, **context: Any) -> str:
    context.setdefault("banner", None)
    context.setdefault("user", None)
    return _pages().get_template(name).render(**context)


def csrf_scope(case_id: str) -> str:
    return f"safety:{case_id}"


def load(case_id: str) -> dict[str, Any] | None:
    found = cases.get(case_id)
    return dict(found) if found else None


async def record(
    visit: Visit, action: str, case_id: str, *, detail: str = "", text: str = ""
) -> None:
    """Write one audit entry (who, when, from where, which case) and wait for the broker's ack.

    ``text`` (a note) is kept as its SHA-256 only.
    """
    entry = make_entry(
        at=utcnow(),
        actor=visit.user.id,
        action=action,
        draft_id=case_id,
        origin=Origin("web", visit.remote),
        detail=detail,
        text=text,
    )
    sent = await response_audit.send(key=case_id or "-", value=audit_record(entry))
    await asyncio.wait_for(sent, AUDIT_TIMEOUT_S)


async def applied(case_id: str, done: Callable[[Mapping[str, Any]], bool]) -> bool:
    """Whether the table shows ``done`` on the case within :data:`APPLY_WAIT_S`."""
    loop = asyncio.get_running_loop()
    until = loop.time() + APPLY_WAIT_S
    while loop.time() < until:
        case = load(case_id)
        if case and done(case):
            return True
        await asyncio.sleep(0.1)
    return False


class SafetyView(ApprovalView):
    """A safety page: the approval pages' sign-in and refusals, the safety role, audited views."""

    def page(
        self,
        rt: ApprovalRuntime,
        name: str,
        *,
        status: int = 200,
        cookie: str | None = None,
        **context: Any,
    ) -> Response:
        headers = dict(HEADERS)
        if cookie is not None:
            headers["Set-Cookie"] = cookie
        return self.html(render(name, **context), status=status, headers=headers)

    def closed(self) -> Response:
        return self.html(
            "The safety queue needs the approvals' sign-in: set TOCSIN_APPROVAL_LINK_SECRET.",
            status=503,
            headers=HEADERS,
        )

    def message(
        self, rt: ApprovalRuntime, heading: str, text: str, *, status: int, user: User | None
    ) -> Response:
        return self.page(rt, "message.html", status=status, heading=heading, text=text, user=user)

    def unavailable(self, rt: ApprovalRuntime, user: User) -> Response:
        return self.message(
            rt,
            "Not recorded",
            "The audit log could not record this request, so nothing was shown or changed. "
            "Try again in a moment.",
            status=503,
            user=user,
        )

    async def enter(self, request: Request, *, action: str, case_id: str) -> Visit | Response:
        """Signed in (the approval pages' preamble) with the safety role, or the refusal."""
        visit = await self.visit(request, action=action, draft_id=case_id)
        if not isinstance(visit, Visit):
            return visit
        if not visit.user.roles & SAFETY_ROLES:
            return await self.refuse(
                visit.rt,
                ApprovalRefused("wrong_role", "the safety queue is for the safety role only"),
                actor=visit.user.id,
                action=action,
                draft_id=case_id,
                remote=visit.remote,
                user=visit.user,
            )
        return visit

    async def act(
        self, request: Request, case_id: str, action: str
    ) -> tuple[Visit, Any, dict[str, Any]] | Response:
        """The preamble of an action: the safety role, the form's CSRF token, a case that exists.

        Returns the visit, the form and the case, or the (audited) refusal to send.
        """
        visit = await self.enter(request, action=action, case_id=case_id)
        if not isinstance(visit, Visit):
            return visit
        form = await form_of(request)
        try:
            visit.rt.signer.check_csrf(
                str(form.get("csrf") or ""), session_id=visit.sid, draft_id=csrf_scope(case_id)
            )
        except CsrfRefused as exc:
            return await self.refuse(
                visit.rt,
                exc,
                actor=visit.user.id,
                action=action,
                draft_id=case_id,
                remote=visit.remote,
                user=visit.user,
            )
        case = load(case_id)
        if case is None:
            return self.missing(visit.rt, visit.user)
        return visit, form, case

    def missing(self, rt: ApprovalRuntime, user: User) -> Response:
        return self.message(
            rt, "No such case", "This case is not on this worker (yet).", status=404, user=user
        )

    def done(self, case_id: str, what: str) -> Response:
        return self.redirect(f"/safety/cases/{quote(case_id, safe='')}?done={what}")


@app.page("/safety")
class QueueView(SafetyView):
    async def get(self, request: Request) -> Response:
        visit = await self.enter(request, action="pv_queue_view", case_id="")
        if not isinstance(visit, Visit):
            return visit
        filters = views.QueueFilter.of(request.query)
        try:
            await record(visit, "pv_queue_view", "", detail=urlencode(vars(filters)))
        except Exception:  # no record, no page: the queue lists products and reactions
            log.exception("could not audit a safety queue view")
            return self.unavailable(visit.rt, visit.user)
        rows = views.queue(list(cases.values()), filters, datetime.now(UTC))
        return self.page(
            visit.rt,
            "queue.html",
            user=visit.user,
            rows=rows,
            filters=filters,
            statuses=[
                (s, views.STATUS_LABELS.get(s, s.capitalize())) for s in views.STATUS_FILTERS
            ],
        )


@app.page("/safety/cases/{case_id}")
class CaseView(SafetyView):
    async def get(self, request: Request, case_id: str) -> Response:
        visit = await self.enter(request, action="pv_case_view", case_id=case_id)
        if not isinstance(visit, Visit):
            return visit
        case = load(case_id)
        if case is None:
            return self.missing(visit.rt, visit.user)
        try:
            await record(visit, "pv_case_view", case_id)
        except Exception:  # the view of a case is shown only once it is on the record
            log.exception("could not audit a case view")
            return self.unavailable(visit.rt, visit.user)
        done = request.query.get("done", "")
        return self.page(
            visit.rt,
            "case.html",
            user=visit.user,
            d=views.detail(case, datetime.now(UTC)),
            log=views.access_log(audit_trail.get(case_id) or []),
            csrf=visit.rt.signer.csrf_token(session_id=visit.sid, draft_id=csrf_scope(case_id)),
            banner={"kind": "ok", "text": DONE[done]} if done in DONE else None,
            max_note=MAX_NOTE,
        )


@app.page("/safety/cases/{case_id}/move")
class MoveView(SafetyView):
    async def post(self, request: Request, case_id: str) -> Response:
        found = await self.act(request, case_id, "pv_case_move")
        if not isinstance(found, tuple):
            return found
        visit, form, case = found
        to, seen = str(form.get("to") or ""), str(form.get("from") or "")
        if seen != case["status"]:
            return self.message(
                visit.rt,
                "The case changed",
                f"Someone moved this case to {views.STATUS_LABELS[case['status']]} since you "
                "opened it. Reload it and choose again.",
                status=409,
                user=visit.user,
            )
        if to not in MOVES.get(case["status"], ()):
            return self.message(
                visit.rt,
                "Not a possible move",
                f"A case that is {views.STATUS_LABELS[case['status']]} cannot move to {to!r}.",
                status=400,
                user=visit.user,
            )
        try:
            await record(visit, "pv_case_move", case_id, detail=f"{case['status']} -> {to}")
        except Exception:
            log.exception("could not audit a case move")
            return self.unavailable(visit.rt, visit.user)
        before, at = len(case.get("history", [])), utcnow()
        clock = None
        if case["status"] == "possible" and to != "closed_invalid":
            # a person confirms the criteria: day zero is now, the clocks start
            clock = confirmed(case, at, ZoneInfo(services.settings().pv_timezone), markets())
        await events.send(events.move(case_id, to, by=visit.user.id, at=at, clock=clock))
        ok = await applied(case_id, lambda c: len(c.get("history", [])) > before)
        return self.done(case_id, "move" if ok else "sent")


@app.page("/safety/cases/{case_id}/note")
class NoteView(SafetyView):
    async def post(self, request: Request, case_id: str) -> Response:
        found = await self.act(request, case_id, "pv_case_note")
        if not isinstance(found, tuple):
            return found
        visit, form, case = found
        text = str(form.get("text") or "").strip()
        if not text or len(text) > MAX_NOTE:
            return self.message(
                visit.rt,
                "Write a note",
                f"A note is between 1 and {MAX_NOTE} characters.",
                status=422,
                user=visit.user,
            )
        try:
            await record(visit, "pv_case_note", case_id, text=text)
        except Exception:
            log.exception("could not audit a case note")
            return self.unavailable(visit.rt, visit.user)
        before = len(case.get("notes", []))
        await events.send(events.note(case_id, text, by=visit.user.id, at=utcnow()))
        ok = await applied(case_id, lambda c: len(c.get("notes", [])) > before)
        return self.done(case_id, "note" if ok else "sent")
