"""Exceptions of the approval domain, in one small tree so the web and Slack edges catch one base.

TocsinError
├── ConfigError                 (pipeline.errors) a responses/policy/users YAML file is wrong
├── RenderError                 a template cannot be filled (missing value for a placeholder)
└── ApprovalRefused             a request is refused; ``reason`` is a fixed code, audit it
    ├── AuthRefused             no such user / unknown token / unmapped Slack user
    ├── SignatureRefused        Slack signature missing, forged, or timestamp outside 5 minutes
    ├── LinkRefused             signed link malformed, forged, expired, replayed, or not yours
    ├── CsrfRefused             web form token missing or not bound to this session and draft
    └── DecisionRefused         the state machine refuses (role, four eyes, stale version...);
                                carries the audit entry of the refusal in ``entry``

Why one base with a ``reason`` code: every refusal must also be an audit entry, and a fixed code
(``bad_signature``, ``wrong_role``...) is what an auditor filters on and what a metric label can
carry without unbounded cardinality. ``detail`` is for people and never holds a secret.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pipeline.errors import TocsinError

if TYPE_CHECKING:
    from pipeline.approvals.audit import AuditEntry


class RenderError(TocsinError):
    """A template has a placeholder for which no value is available (e.g. ``{product}``)."""


class ApprovalRefused(TocsinError):
    """A request about a draft was refused; ``reason`` is a stable code, ``detail`` says why."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


class AuthRefused(ApprovalRefused):
    """The caller is not a known user (bad token, unmapped Slack user, unknown user id)."""


class SignatureRefused(ApprovalRefused):
    """A Slack request's signature is missing or wrong, or its timestamp is too old/new."""


class LinkRefused(ApprovalRefused):
    """A single-use signed link is malformed, forged, expired, already used or not for this."""


class CsrfRefused(ApprovalRefused):
    """A web form's CSRF token is missing or not bound to this session and draft."""


class DecisionRefused(ApprovalRefused):
    """The approval state machine refused an event; ``entry`` is the refusal's audit entry."""

    def __init__(self, reason: str, detail: str, entry: AuditEntry) -> None:
        super().__init__(reason, detail)
        self.entry = entry
