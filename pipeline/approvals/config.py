"""Load everything the approval flow needs from settings, in one call, validated together.

Kept apart from the pure modules so they never read files or the environment on import; the
worker (and the CLI) call :func:`load_approvals` once at start-up, so a broken YAML file or a
missing secret stops the worker with a clear message instead of failing at the first alert.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from pipeline.approvals.library import Library, load_library
from pipeline.approvals.policy import Policy, load_policy
from pipeline.approvals.tokens import LinkSigner
from pipeline.approvals.users import UserDirectory, load_users
from pipeline.brands import BrandSpec, load_brands
from pipeline.settings import Settings


@dataclass(frozen=True)
class ApprovalConfig:
    """The validated library, policy, users and brands, plus the link signer if configured."""

    library: Library
    policy: Policy
    users: UserDirectory
    brands: tuple[BrandSpec, ...]
    signer: LinkSigner | None


def load_approvals(
    settings: Settings, *, today: date, env: Mapping[str, str] | None = None
) -> ApprovalConfig:
    """Read and cross-check the responses, policy and users files named in ``settings``.

    Topics are checked against the classifier's taxonomy, deputies against the users file.
    ``env`` feeds per-user ``token_env`` variables (default: the process environment).
    """
    from models.taxonomy import load_taxonomy

    topics = load_taxonomy().ids
    users = load_users(settings.users_file, tokens=settings.user_tokens, env=env)
    policy = load_policy(settings.approval_policy_file, topics=topics, users=users)
    library = load_library(settings.responses_file, today=today, topics=topics)
    brands = load_brands(settings.brands_file).brands
    signer = (
        LinkSigner(settings.approval_link_secret)
        if settings.approval_link_secret is not None
        else None
    )
    return ApprovalConfig(library, policy, users, tuple(brands), signer)
