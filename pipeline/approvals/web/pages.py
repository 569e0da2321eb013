"""The read-only approval pages: the queue, one draft, and its audit trail."""

from __future__ import annotations

from faust.web import Request, Response

from pipeline.app import app
from pipeline.approvals.state import Actor, DraftState
from pipeline.approvals.web.base import ApprovalView, Visit, load_state
from pipeline.approvals.web.render import render_draft, summary, trail_rows
from pipeline.tables import approvals, audit_trail


@app.page("/approvals")
class QueueView(ApprovalView):
    async def get(self, request: Request) -> Response:
        visit = await self.visit(request, action="view_queue", draft_id="")
        if not isinstance(visit, Visit):
            return visit
        actor = Actor.of(visit.user, "web", visit.remote)
        items = [
            summary(DraftState.from_dict(raw), actor) for raw in list(approvals.values()) if raw
        ]
        items.sort(key=lambda s: s["created"], reverse=True)
        mine = [s for s in items if s["mine"]]
        others = [s for s in items if not s["mine"]][:100]
        return self.page(
            visit.rt, "queue.html", mine=mine, others=others, user=visit.user, nav="queue"
        )


@app.page("/approvals/{draft_id}")
class DraftView(ApprovalView):
    async def get(self, request: Request, draft_id: str) -> Response:
        visit = await self.visit(request, action="view_draft", draft_id=draft_id)
        if not isinstance(visit, Visit):
            return visit
        state = load_state(draft_id)
        if state is None:
            return self.no_draft(visit.rt, visit.user)
        return render_draft(self, visit, state)


@app.page("/approvals/{draft_id}/audit")
class AuditView(ApprovalView):
    """A draft's audit trail, for a draft that exists.

    The audit log also holds the safety queue's entries (keyed by case id) and requests made
    outside any draft (keyed ``-``): those are not a draft's trail, and a reader of the approval
    pages without the safety role must not learn who opened which case from here.
    """

    async def get(self, request: Request, draft_id: str) -> Response:
        visit = await self.visit(request, action="view_audit", draft_id=draft_id)
        if not isinstance(visit, Visit):
            return visit
        if load_state(draft_id) is None:
            return self.no_draft(visit.rt, visit.user)
        trail = trail_rows(list(audit_trail[draft_id]))
        return self.page(visit.rt, "audit.html", draft_id=draft_id, trail=trail, user=visit.user)
