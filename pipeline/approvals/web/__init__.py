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

Modules: ``base`` (headers, who is asking, the shared page preamble and refusals), ``render``
(view models), ``login`` (token login, signed links), ``pages`` (queue, draft, audit),
``decide`` (the decision form), ``slack`` (Slack button clicks).
"""

# Routes match in registration order: keep login (and links) before pages, and decide last.
# isort: off
from pipeline.approvals.web import login  # noqa: F401
from pipeline.approvals.web import pages  # noqa: F401
from pipeline.approvals.web import decide  # noqa: F401
from pipeline.approvals.web.slack import is_approval_action, slack_approval_action
# isort: on

__all__ = ["is_approval_action", "slack_approval_action"]
