"""View models of the approval pages: plain dicts the Jinja2 templates read, and the draft page."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from faust.web import Response

from pipeline.approvals.flow import STATUS_LABELS, role_label
from pipeline.approvals.state import Actor, DraftState, fillable_roles
from pipeline.approvals.users import User
from pipeline.approvals.web.base import ApprovalView, Visit, when
from pipeline.tables import audit_trail


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


def render_draft(
    view: ApprovalView,
    visit: Visit,
    state: DraftState,
    *,
    status: int = 200,
    banner: dict[str, str] | None = None,
    cookie: str | None = None,
    link_token: str = "",
    preselect: str = "",
) -> Response:
    """The draft page: text, alert context, approvals so far, decision forms, recent trail."""
    user = visit.user
    actor = Actor.of(user, "web", visit.remote)
    trail = trail_rows(list(audit_trail[state.draft_id]))
    return view.page(
        visit.rt,
        "draft.html",
        status=status,
        cookie=cookie,
        d=draft_view(state, user, actor),
        csrf=visit.rt.signer.csrf_token(session_id=visit.sid, draft_id=state.draft_id),
        trail=trail[:8],
        user=user,
        banner=banner,
        link_token=link_token,
        preselect=preselect,
    )
