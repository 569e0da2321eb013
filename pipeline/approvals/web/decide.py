"""The decision form of a draft page: approve, reject, request changes, edit."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from faust.web import Request, Response

from pipeline.app import app
from pipeline.approvals.errors import ApprovalRefused
from pipeline.approvals.flow import STATUS_LABELS, decision, utcnow
from pipeline.approvals.runtime import runtime
from pipeline.approvals.state import (
    Actor,
    Approved,
    ChangesRequested,
    DraftState,
    Edited,
    Event,
    Rejected,
)
from pipeline.approvals.tokens import LinkClaims
from pipeline.approvals.web.base import REFUSAL_STATUS, ApprovalView, Visit, form_of, load_state
from pipeline.approvals.web.render import render_draft
from pipeline.topics import response_decisions


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
    """Turns the form into a decision event, waits until ``apply_decisions`` has applied (or
    refused) that event, and shows the draft as the state now says."""

    async def post(self, request: Request, draft_id: str) -> Response:
        if not runtime().enabled:
            return self.closed()
        form = await form_of(request)
        action = str(form.get("action") or "decide")[:40]
        visit = await self.visit(request, action=action, draft_id=draft_id)
        if not isinstance(visit, Visit):
            return visit
        rt, user = visit.rt, visit.user
        try:
            link_token = str(form.get("link") or "")
            link = rt.signer.verify(link_token, now=utcnow()) if link_token else None
            rt.signer.check_csrf(
                str(form.get("csrf") or ""), session_id=visit.sid, draft_id=draft_id
            )
            event = web_event(form, load_state(draft_id), link)
        except ApprovalRefused as exc:
            return await self.refuse(
                rt,
                exc,
                actor=user.id,
                action=action,
                draft_id=draft_id,
                remote=visit.remote,
                user=user,
            )
        record = decision(event, Actor.of(user, "web", visit.remote), draft_id)
        waiter = rt.expect(record.event_id)
        await response_decisions.send(key=draft_id, value=record)
        entry = await rt.wait(record.event_id, waiter)
        return self.outcome(visit, draft_id, action, entry)

    def outcome(
        self, visit: Visit, draft_id: str, action: str, entry: Mapping[str, Any] | None
    ) -> Response:
        """The draft page after a decision, with a banner saying what happened to it."""
        state = load_state(draft_id)
        if state is None:
            if entry is not None and entry.get("outcome") == "refused":
                return self.refused(visit.rt, entry, visit.user)
            return self.no_draft(visit.rt, visit.user, "This draft does not exist.")
        if entry is None:
            banner = {
                "kind": "ok",
                "text": "Your decision was recorded and is still being applied.",
            }
            return render_draft(self, visit, state, status=202, banner=banner)
        if entry.get("outcome") == "refused":
            reason = str(entry.get("reason"))
            banner = {
                "kind": "bad",
                "text": f"Refused ({reason}): {entry.get('detail')}. The attempt is in the audit log.",
            }
            return render_draft(
                self, visit, state, status=REFUSAL_STATUS.get(reason, 403), banner=banner
            )
        done = str(entry.get("action", action)).replace("_", " ")
        banner = {
            "kind": "ok",
            "text": f"Recorded: {done} {entry.get('detail') or ''}. Status: "
            f"{STATUS_LABELS.get(state.status, state.status)}.",
        }
        return render_draft(self, visit, state, banner=banner)
