"""The console pages on the worker's web port, signed in like the approval pages.

Pages: ``/console`` (the inbox, filtered by brand/topic/severity/state, polling
``/console/inbox.json`` every second so new alerts appear without a reload),
``/console/alerts/<dedup key>`` (the detail: chart, evidence, receipts, actions),
``/console/brands`` (every brand x topic as a sparkline) and ``/console/search`` (mentions).
Actions, each a POST form with a CSRF token bound to the session and the alert:
``/console/alerts/<key>/ack`` (acknowledge or resolve), ``/console/alerts/<key>/silence``
(mute this brand x topic for a chosen time) and ``/console/alerts/<key>/draft`` (start a draft
response from one of the library's statements, through :mod:`pipeline.approvals.start`, the path
the automatic draft of a firing alert takes; the responder becomes its author).

Sign-in, roles and refusals are the approval pages' own (:class:`ApprovalView`): the same
session cookie and login, the same audited refusals. Anyone signed in may look; only the
``ACT_ROLES`` may acknowledge, resolve and silence, and only ``DRAFT_ROLES`` may start a draft
(the state machine's editor role); adverse-event mentions show their text and handle only to the
``HEALTH_DATA_ROLES``. Acknowledgements and silences go through
:mod:`pipeline.oncall.commands`, the path the API, Slack and PagerDuty use, so a console
acknowledgement updates Slack and PagerDuty like any other. Pages read the worker's console store
(:mod:`pipeline.console.runtime`), which holds every partition's alerts.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any
from urllib.parse import quote, urlencode

import jinja2
from faust.web import Request, Response

from pipeline import services
from pipeline.app import app
from pipeline.approvals.errors import ApprovalRefused, CsrfRefused
from pipeline.approvals.runtime import ApprovalRuntime
from pipeline.approvals.start import prepare, send
from pipeline.approvals.state import EDITOR_ROLE, Actor
from pipeline.approvals.users import User
from pipeline.approvals.web.base import (
    REFUSAL_STATUS,
    SECURITY_HEADERS,
    ApprovalView,
    Visit,
    form_of,
    load_state,
)
from pipeline.console import assets, drafting, runtime, views
from pipeline.console.rows import InboxFilter, MentionQuery
from pipeline.oncall.commands import create_silence, send_ack
from pipeline.oncall.escalation import Ack
from pipeline.oncall.silences import SilenceError

#: Roles that may acknowledge, resolve and silence; every signed-in user may look.
ACT_ROLES = frozenset({"responder", "approver-exec"})
#: Roles that may start a draft response (the approval state machine's editor role).
DRAFT_ROLES = frozenset({EDITOR_ROLE})
#: Roles cleared for health data: they read adverse-event mentions' texts and handles on the
#: console; everyone else sees those mentions as counts, ids and links (as Slack or e-mail do).
HEALTH_DATA_ROLES = frozenset({"safety", "reviewer-medical"})
MAX_TEMPLATE_ID = 100
ACK_ACTIONS = ("acknowledge", "resolve")
MAX_FILTER = 100
POLL_MS = 1000
HEADERS = {
    **SECURITY_HEADERS,
    # The console's own script and uPlot, both served from here; no inline script.
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; connect-src 'self'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
}
DONE = {
    "acknowledge": "Acknowledgement sent. The page shows it once it is applied.",
    "resolve": "Resolution sent. The page shows it once it is applied.",
    "silence": "Silence created: further steps for this brand and topic are muted until it ends.",
}


@cache
def _pages() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(assets.HERE / "templates")),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["q"] = lambda value: quote(str(value), safe="")
    env.filters["link"] = web_link
    return env


def web_link(value: Any) -> str:
    """A mention's URL when it is http(s), else nothing (no ``javascript:`` link from a post)."""
    text = str(value or "")
    return text if text.lower().startswith(("https://", "http://")) else ""


def _clip(value: str | None) -> str | None:
    return value[:MAX_FILTER] if value else None


def _filters(query: Mapping[str, str]) -> InboxFilter:
    return InboxFilter(**{k: _clip(query.get(k)) for k in ("brand", "topic", "severity", "state")})


def can_act(user: User) -> bool:
    return bool(user.roles & ACT_ROLES)


def can_draft(user: User) -> bool:
    return bool(user.roles & DRAFT_ROLES)


def health_cleared(user: User) -> bool:
    return bool(user.roles & HEALTH_DATA_ROLES)


def _csrf_scope(key: str) -> str:
    return f"console:{key}"


def _time(value: str | None, name: str) -> float | None:
    """A ``YYYY-MM-DDTHH:MM`` form value read as UTC; ValueError names the field."""
    if not value:
        return None
    try:
        return datetime.fromisoformat(value[:40]).replace(tzinfo=UTC).timestamp()
    except ValueError:
        raise ValueError(f"{name}: expected a date and time such as 2026-11-21T14:00") from None


class ConsoleView(ApprovalView):
    """A console page: the approval pages' sign-in and refusals, the console's templates."""

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
        context.setdefault("banner", None)
        context.setdefault("user", None)
        context.setdefault("nav", "")
        context.setdefault("link", "/console")
        body = _pages().get_template(name).render(**context)
        return self.html(body, status=status, headers=headers)

    def refused(
        self, rt: ApprovalRuntime, entry: Mapping[str, Any], user: User | None = None
    ) -> Response:
        reason = str(entry.get("reason", ""))
        return self.page(
            rt,
            "message.html",
            status=REFUSAL_STATUS.get(reason, 403),
            heading="Request refused",
            text=f"{entry.get('detail') or reason} (reason: {reason}). "
            "This attempt is in the audit log.",
            user=user,
        )

    def closed(self) -> Response:
        return self.html(
            "The console needs the approvals' sign-in: set TOCSIN_APPROVAL_LINK_SECRET.",
            status=503,
            headers=HEADERS,
        )

    async def visit(self, request: Request, *, action: str, draft_id: str) -> Visit | Response:
        """The approval pages' preamble, after checking the console is on at all."""
        if not services.settings().console.feed:
            return self.html(
                "The console is off on this worker (TOCSIN_CONSOLE_FEED=false).",
                status=503,
                headers=HEADERS,
            )
        return await super().visit(request, action=action, draft_id=draft_id)

    def missing(self, rt: ApprovalRuntime, user: User) -> Response:
        return self.page(
            rt,
            "message.html",
            status=404,
            heading="No such alert",
            text="This alert is not in the console (yet).",
            user=user,
        )

    async def act(
        self,
        request: Request,
        key: str,
        action: str,
        *,
        roles: frozenset[str] = ACT_ROLES,
        needs: str = "acknowledging, resolving and silencing need the responder or "
        "approver-exec role",
    ) -> tuple[Visit, Any] | Response:
        """The preamble of an action: signed in, the form's CSRF token, one of ``roles``.

        Returns the visit and the form, or the (audited) refusal to send.
        """
        visit = await self.visit(request, action=f"console_{action}", draft_id="")
        if not isinstance(visit, Visit):
            return visit
        form = await form_of(request)
        try:
            visit.rt.signer.check_csrf(
                str(form.get("csrf") or ""), session_id=visit.sid, draft_id=_csrf_scope(key)
            )
            if not visit.user.roles & roles:
                raise ApprovalRefused("wrong_role", needs)
        except (CsrfRefused, ApprovalRefused) as exc:
            return await self.refuse(
                visit.rt,
                exc,
                actor=visit.user.id,
                action=f"console_{action}",
                draft_id="",
                remote=visit.remote,
                user=visit.user,
            )
        return visit, form


@app.page("/console/static/{name}")
class StaticView(ConsoleView):
    """The console's script and style, and uPlot (no data in them: served without sign-in)."""

    async def get(self, request: Request, name: str) -> Response:
        found = assets.load(name)
        if found is None:
            return self.error(404, "no such file")
        body, kind = found
        return self.bytes(
            body,
            content_type=kind,
            headers={"Cache-Control": "public, max-age=3600", "X-Content-Type-Options": "nosniff"},
        )


@app.page("/console")
class InboxView(ConsoleView):
    async def get(self, request: Request) -> Response:
        visit = await self.visit(request, action="console_inbox", draft_id="")
        if not isinstance(visit, Visit):
            return visit
        filters = _filters(request.query)
        store = runtime.store()
        data = await asyncio.to_thread(views.inbox, store, filters)
        choices = await asyncio.to_thread(views.filter_choices, store)
        query = urlencode({k: v for k, v in data["filters"].items() if v})
        return self.page(
            visit.rt,
            "inbox.html",
            user=visit.user,
            nav="inbox",
            data=data,
            choices=choices,
            query=query,
            poll_ms=POLL_MS,
        )


@app.page("/console/inbox.json")
class InboxFeedView(ConsoleView):
    """What the open inbox polls: the rows for its filters and when the store last changed."""

    async def get(self, request: Request) -> Response:
        visit = await self.visit(request, action="console_inbox", draft_id="")
        if not isinstance(visit, Visit):
            return visit
        data = await asyncio.to_thread(views.inbox, runtime.store(), _filters(request.query))
        return self.json(data, headers={"Cache-Control": "no-store"})


@app.page("/console/brands")
class BrandsView(ConsoleView):
    """Every brand x topic as a sparkline of the last day with its anomaly score."""

    async def get(self, request: Request) -> Response:
        visit = await self.visit(request, action="console_brands", draft_id="")
        if not isinstance(visit, Visit):
            return visit
        data = await asyncio.to_thread(views.overview, runtime.store())
        return self.page(
            visit.rt,
            "brands.html",
            user=visit.user,
            nav="brands",
            data=data,
            charts=assets.charts_available(),
        )


@app.page("/console/search")
class SearchView(ConsoleView):
    async def get(self, request: Request) -> Response:
        visit = await self.visit(request, action="console_search", draft_id="")
        if not isinstance(visit, Visit):
            return visit
        q = request.query
        form = {k: (q.get(k) or "")[:200] for k in ("text", "brand", "topic", "platform", "lang")}
        form.update({k: (q.get(k) or "")[:40] for k in ("since", "until")})
        store = runtime.store()
        results: list[dict[str, Any]] | None = None
        error = ""
        if any(form.values()):
            try:
                query = MentionQuery(
                    text=form["text"],
                    brand=form["brand"] or None,
                    topic=form["topic"] or None,
                    platform=form["platform"] or None,
                    lang=form["lang"] or None,
                    since=_time(form["since"], "from"),
                    until=_time(form["until"], "until"),
                )
                results = await asyncio.to_thread(
                    views.search, store, query, cleared=health_cleared(visit.user)
                )
            except ValueError as exc:
                error = str(exc)
        choices = await asyncio.to_thread(views.filter_choices, store)
        return self.page(
            visit.rt,
            "search.html",
            status=400 if error else 200,
            user=visit.user,
            nav="search",
            form=form,
            results=results,
            error=error,
            choices=choices,
        )


@app.page("/console/alerts/{key}")
class AlertView(ConsoleView):
    async def get(self, request: Request, key: str) -> Response:
        visit = await self.visit(request, action="console_alert", draft_id="")
        if not isinstance(visit, Visit):
            return visit
        store = runtime.store()
        data = await asyncio.to_thread(
            views.detail, store, key, now=time.time(), cleared=health_cleared(visit.user)
        )
        if data is None:
            return self.missing(visit.rt, visit.user)
        offers: list[dict[str, Any]] = []
        if can_draft(visit.user):
            row = await asyncio.to_thread(store.alert, key)
            offers = await asyncio.to_thread(drafting.offered, row, load_state) if row else []
        done = request.query.get("done", "")
        return self.page(
            visit.rt,
            "alert.html",
            user=visit.user,
            nav="inbox",
            d=data,
            key=key,
            can_act=can_act(visit.user),
            can_draft=can_draft(visit.user),
            offers=offers,
            csrf=visit.rt.signer.csrf_token(session_id=visit.sid, draft_id=_csrf_scope(key)),
            charts=assets.charts_available(),
            banner={"kind": "ok", "text": DONE[done]} if done in DONE else None,
        )


@app.page("/console/alerts/{key}/ack")
class AckActionView(ConsoleView):
    async def post(self, request: Request, key: str) -> Response:
        found = await self.act(request, key, "ack")  # acknowledge or resolve
        if not isinstance(found, tuple):
            return found
        visit, form = found
        action = str(form.get("action") or "acknowledge")
        alert = await asyncio.to_thread(runtime.store().alert, key)
        if alert is None:
            return self.missing(visit.rt, visit.user)
        if action not in ACK_ACTIONS:
            return self.page(
                visit.rt,
                "message.html",
                status=400,
                heading="Unknown action",
                text=f"The action must be one of: {', '.join(ACK_ACTIONS)}.",
                user=visit.user,
            )
        await send_ack(Ack(key, datetime.now(UTC), visit.user.id, "console", action))
        return self.redirect(f"/console/alerts/{quote(key, safe='')}?done={action}")


@app.page("/console/alerts/{key}/silence")
class SilenceActionView(ConsoleView):
    async def post(self, request: Request, key: str) -> Response:
        found = await self.act(request, key, "silence")
        if not isinstance(found, tuple):
            return found
        visit, form = found
        alert = await asyncio.to_thread(runtime.store().alert, key)
        if alert is None:
            return self.missing(visit.rt, visit.user)
        hours = str(form.get("hours") or "")
        if not hours.isdigit() or int(hours) not in views.SILENCE_HOURS:
            return self.page(
                visit.rt,
                "message.html",
                status=400,
                heading="Choose how long",
                text="A silence lasts one of: "
                + ", ".join(f"{h} h" for h in views.SILENCE_HOURS)
                + ".",
                user=visit.user,
            )
        now = datetime.now(UTC)
        body = {
            "matchers": [
                {"name": "brand", "value": alert["brand"]},
                {"name": "topic", "value": alert["topic"]},
            ],
            "startsAt": now.isoformat(),
            "endsAt": (now + timedelta(hours=int(hours))).isoformat(),
            "createdBy": visit.user.id,
            "comment": f"from the console, alert {key}"[:2000],
        }
        try:
            await create_silence(body, now=now)
        except SilenceError as exc:
            return self.page(
                visit.rt,
                "message.html",
                status=400,
                heading="Silence refused",
                text=str(exc),
                user=visit.user,
            )
        return self.redirect(f"/console/alerts/{quote(key, safe='')}?done=silence")


@app.page("/console/alerts/{key}/draft")
class DraftActionView(ConsoleView):
    """Start a draft response: the library's statement the form names (the best one when it
    names none), created by the state machine with the responder as its author, then the draft's
    approval page. A draft of that statement that exists already is opened, not made again."""

    async def post(self, request: Request, key: str) -> Response:
        found = await self.act(
            request,
            key,
            "draft",
            roles=DRAFT_ROLES,
            needs="starting a draft response needs the responder role",
        )
        if not isinstance(found, tuple):
            return found
        visit, form = found
        row = await asyncio.to_thread(runtime.store().alert, key)
        if row is None:
            return self.missing(visit.rt, visit.user)
        alert = drafting.alert_record(row)
        template = str(form.get("template") or "")[:MAX_TEMPLATE_ID] or None
        actor = Actor.of(visit.user, "web", visit.remote)
        # after a rejection, the statement starts again as the next round's draft
        started = await asyncio.to_thread(prepare, alert, actor, template, load_state)
        if started is None:
            return self.page(
                visit.rt,
                "message.html",
                status=400,
                heading="No such statement",
                text="The response library offers no statement of that name for this alert.",
                user=visit.user,
            )
        draft_id = started.draft.id
        known = {d["draft_id"] for d in row["drafts"]}
        if draft_id in known or load_state(draft_id) is not None:
            return self.redirect(f"/approvals/{quote(draft_id, safe='')}")
        waiter = visit.rt.expect(started.record.event_id)
        await send(started, alert)
        entry = await visit.rt.wait(started.record.event_id, waiter)
        if entry is not None and entry.get("outcome") == "refused":
            return self.refused(visit.rt, entry, visit.user)
        # Applied (or still on its way, when another worker owns the draft's partition): the
        # approval page shows it as soon as it is.
        return self.redirect(f"/approvals/{quote(draft_id, safe='')}")
