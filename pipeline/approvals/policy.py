"""The approval policy as data: who must approve which draft, by when, and who steps in.

``config/approval_policy.yaml`` holds:

* ``rules``: per topic (and optionally severity), the roles that must approve. Every matching rule
  applies (the union of roles), so adding a rule can only add reviewers, never remove one.
* ``default``: roles when no rule matches (a public statement is never unreviewed).
* ``medical_claim``: roles added when the draft's text makes a medical claim, detected with an
  explicit, reviewable keyword list per language (``claim_keywords``). A keyword list is crude on
  purpose: it is predictable, auditable, and errs towards more review; a model would not be.
* ``edited_template``: roles added when the responder edited a template that required review
  (the pre-approval no longer covers the words).
* ``distinct_approvers`` (each required role by a different person) and ``four_eyes`` (the
  draft's author never approves it), globally or per rule.
* ``sla``: per severity, the time each role has to decide (``default`` plus per-role overrides).
* ``deputies``: per role and per user, who is asked when the deadline passes. A deputy may act
  for the role on that draft once escalated, even without holding the role day to day.

The pure function :meth:`Policy.requirement` turns (topic, severity, text, language, edited)
into a serialisable :class:`Requirement` that the approval state stores with the draft.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from pipeline.approvals.users import APPROVER_ROLES, UserDirectory
from pipeline.brands import fold
from pipeline.durations import parse_duration
from pipeline.errors import ConfigError
from pipeline.records import SEVERITIES
from pipeline.yamlfile import YamlDoc, read_yaml, validate


class RuleSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    topics: list[str] = Field(min_length=1)
    severities: list[str] | None = None
    require: list[str] = Field(min_length=1)
    distinct_approvers: bool | None = None
    four_eyes: bool | None = None


class AddSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    require: list[str] = Field(min_length=1)


class DeputiesSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    by_role: dict[str, list[str]] = Field(default_factory=dict)
    by_user: dict[str, str] = Field(default_factory=dict)


class PolicyFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: int = Field(ge=1)
    distinct_approvers: bool = True
    four_eyes: bool = True
    default: AddSpec
    rules: list[RuleSpec] = Field(default_factory=list)
    medical_claim: AddSpec
    edited_template: AddSpec
    sla: dict[str, dict[str, str]]
    deputies: DeputiesSpec = Field(default_factory=DeputiesSpec)
    claim_keywords: dict[str, list[str]] = Field(min_length=1)


@dataclass(frozen=True)
class Requirement:
    """What one draft needs: roles (canonical order), the SLA per role, and why.

    JSON-able through ``to_dict``/``from_dict`` so the approval state can carry it; the state
    recomputes it when the text changes (an edit can add a medical claim).
    """

    roles: tuple[str, ...]
    distinct_approvers: bool
    four_eyes: bool
    sla_s: Mapping[str, float]
    reasons: tuple[str, ...] = ()
    claims: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "roles": list(self.roles),
            "distinct_approvers": self.distinct_approvers,
            "four_eyes": self.four_eyes,
            "sla_s": dict(self.sla_s),
            "reasons": list(self.reasons),
            "claims": list(self.claims),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Requirement:
        return cls(
            roles=tuple(data["roles"]),
            distinct_approvers=bool(data["distinct_approvers"]),
            four_eyes=bool(data["four_eyes"]),
            sla_s={str(k): float(v) for k, v in data["sla_s"].items()},
            reasons=tuple(data.get("reasons", ())),
            claims=tuple(data.get("claims", ())),
        )


@dataclass(frozen=True)
class Rule:
    topics: frozenset[str]
    severities: frozenset[str] | None
    roles: tuple[str, ...]
    distinct_approvers: bool | None
    four_eyes: bool | None

    def matches(self, topic: str, severity: str) -> bool:
        return topic in self.topics and (self.severities is None or severity in self.severities)


def _keyword_pattern(words: Iterable[str]) -> re.Pattern[str]:
    """One regex for a keyword list: folded, whole words, ``*`` = any word ending."""
    parts = []
    for word in sorted({fold(w).strip() for w in words}, key=len, reverse=True):
        pieces = [
            re.escape(piece.rstrip("*")) + (r"\w*" if piece.endswith("*") else "")
            for piece in word.split()
        ]
        parts.append(r"\s+".join(pieces))
    return re.compile(r"(?<!\w)(?:" + "|".join(parts) + r")(?!\w)")


@dataclass(frozen=True)
class Policy:
    """The validated policy; build with :func:`load_policy`."""

    rules: tuple[Rule, ...]
    default_roles: tuple[str, ...]
    claim_roles: tuple[str, ...]
    edited_roles: tuple[str, ...]
    distinct_approvers: bool
    four_eyes: bool
    sla_s: Mapping[str, Mapping[str, float]]
    deputies_by_role: Mapping[str, tuple[str, ...]]
    deputies_by_user: Mapping[str, str]
    claim_keywords: Mapping[str, tuple[str, ...]]
    _claim_patterns: Mapping[str, re.Pattern[str]] = field(repr=False, default_factory=dict)

    def find_claims(self, text: str, language: str | None = None) -> tuple[str, ...]:
        """Medical-claim keywords found in ``text`` (every language's list when unsure).

        Both lists are checked whatever ``language`` says, because a French draft quoting an
        English claim is still a claim; ``language`` only orders the result.
        """
        folded = fold(text)
        found: list[str] = []
        langs = sorted(self._claim_patterns, key=lambda lang: lang != language)
        for lang in langs:
            for match in self._claim_patterns[lang].finditer(folded):
                word = re.sub(r"\s+", " ", match.group(0))
                if word not in found:
                    found.append(word)
        return tuple(found)

    def requirement(
        self,
        *,
        topic: str,
        severity: str,
        text: str,
        language: str | None = None,
        edited_reviewed_template: bool = False,
    ) -> Requirement:
        """The roles, SLA and reasons for a draft with this topic, severity and text."""
        roles: set[str] = set()
        reasons: list[str] = []
        distinct, four_eyes = self.distinct_approvers, self.four_eyes
        for rule in self.rules:
            if rule.matches(topic, severity):
                roles.update(rule.roles)
                reasons.append(f"topic {topic} ({severity}): {', '.join(rule.roles)}")
                distinct = distinct or bool(rule.distinct_approvers)
                four_eyes = four_eyes or bool(rule.four_eyes)
        if not roles:
            roles.update(self.default_roles)
            reasons.append(f"default: {', '.join(self.default_roles)}")
        claims = self.find_claims(text, language)
        if claims:
            roles.update(self.claim_roles)
            reasons.append(
                f"medical claim ({', '.join(claims[:5])}): {', '.join(self.claim_roles)}"
            )
        if edited_reviewed_template:
            roles.update(self.edited_roles)
            reasons.append(f"edited reviewed template: {', '.join(self.edited_roles)}")
        ordered = tuple(r for r in APPROVER_ROLES if r in roles)
        table = self.sla_s.get(severity) or self.sla_s["critical"]
        sla = {role: table.get(role, table["default"]) for role in ordered}
        return Requirement(ordered, distinct, four_eyes, sla, tuple(reasons), claims)

    def deputies(self, role: str, users: UserDirectory | None = None) -> tuple[str, ...]:
        """Who to ask when ``role`` has not decided in time: role deputies, then the deputies of
        the people who hold the role (deduplicated, in that order)."""
        out = list(self.deputies_by_role.get(role, ()))
        if users is not None:
            for user in users.with_role(role):
                deputy = self.deputies_by_user.get(user.id)
                if deputy:
                    out.append(deputy)
        return tuple(dict.fromkeys(out))


def _roles(doc: YamlDoc, loc: tuple[str | int, ...], roles: list[str]) -> list[str]:
    problems = []
    for i, role in enumerate(roles):
        if role not in APPROVER_ROLES:
            problems.append(
                doc.problem(
                    (*loc, i), f"{role!r} is not an approver role ({', '.join(APPROVER_ROLES)})"
                )
            )
    return problems


def _rules(
    doc: YamlDoc, spec: PolicyFile, known: frozenset[str] | None
) -> tuple[list[Rule], list[str]]:
    """The policy's rules, and the problems with their roles, topics and severities."""
    problems: list[str] = []
    rules: list[Rule] = []
    for i, r in enumerate(spec.rules):
        problems += _roles(doc, ("rules", i, "require"), r.require)
        for j, topic in enumerate(r.topics):
            if known is not None and topic not in known:
                problems.append(doc.problem(("rules", i, "topics", j), f"unknown topic {topic!r}"))
        for j, sev in enumerate(r.severities or []):
            if sev not in SEVERITIES:
                problems.append(
                    doc.problem(
                        ("rules", i, "severities", j),
                        f"{sev!r} is not one of {', '.join(SEVERITIES)}",
                    )
                )
        rules.append(
            Rule(
                frozenset(r.topics),
                frozenset(r.severities) if r.severities else None,
                tuple(r.require),
                r.distinct_approvers,
                r.four_eyes,
            )
        )
    return rules, problems


def _sla(doc: YamlDoc, spec: PolicyFile) -> tuple[dict[str, dict[str, float]], list[str]]:
    """Deadlines in seconds per severity and role, and the problems with them."""
    problems: list[str] = []
    sla: dict[str, dict[str, float]] = {}
    for sev in SEVERITIES:
        if sev not in spec.sla:
            problems.append(doc.problem(("sla",), f"missing severity {sev!r}"))
    for sev, table in spec.sla.items():
        if sev not in SEVERITIES:
            problems.append(
                doc.problem(("sla", sev), f"{sev!r} is not one of {', '.join(SEVERITIES)}")
            )
            continue
        if "default" not in table:
            problems.append(doc.problem(("sla", sev), "needs a 'default' deadline"))
        sla[sev] = {}
        for role, text in table.items():
            if role != "default" and role not in APPROVER_ROLES:
                problems.append(
                    doc.problem(("sla", sev, role), f"{role!r} is not an approver role")
                )
                continue
            try:
                seconds = parse_duration(str(text))
            except ValueError as exc:
                problems.append(doc.problem(("sla", sev, role), str(exc)))
                continue
            if seconds <= 0:
                problems.append(doc.problem(("sla", sev, role), "must be longer than zero"))
            sla[sev][role] = seconds
    return sla, problems


def _deputies(doc: YamlDoc, spec: PolicyFile, users: UserDirectory | None) -> list[str]:
    """Problems with the deputies: unknown roles or users, someone their own deputy."""
    problems: list[str] = []
    for role, names in spec.deputies.by_role.items():
        if role not in APPROVER_ROLES:
            problems.append(
                doc.problem(("deputies", "by_role", role), f"{role!r} is not an approver role")
            )
        for j, name in enumerate(names):
            if users is not None and name not in {u.id for u in users.users}:
                problems.append(
                    doc.problem(("deputies", "by_role", role, j), f"unknown user {name!r}")
                )
    for name, deputy in spec.deputies.by_user.items():
        for who in (name, deputy):
            if users is not None and who not in {u.id for u in users.users}:
                problems.append(doc.problem(("deputies", "by_user", name), f"unknown user {who!r}"))
        if name == deputy:
            problems.append(
                doc.problem(("deputies", "by_user", name), "cannot be their own deputy")
            )
    return problems


def _claim_patterns(doc: YamlDoc, spec: PolicyFile) -> tuple[dict[str, re.Pattern[str]], list[str]]:
    """One compiled medical-claim pattern per language, and the problems with the keywords."""
    problems: list[str] = []
    patterns: dict[str, re.Pattern[str]] = {}
    for lang, words in spec.claim_keywords.items():
        clean = [w for w in words if w.strip().rstrip("*").strip()]
        if len(clean) != len(words) or not words:
            problems.append(doc.problem(("claim_keywords", lang), "empty keyword"))
            continue
        patterns[lang] = _keyword_pattern(clean)
    return patterns, problems


def build_policy(
    doc: YamlDoc, *, topics: Iterable[str] | None = None, users: UserDirectory | None = None
) -> Policy:
    """Validate a parsed policy file; ``topics`` and ``users`` are cross-checked when given.

    Every problem in the file is collected before raising, so one ConfigError lists them all.
    """
    spec = validate(doc, PolicyFile)
    known = frozenset(topics) if topics is not None else None
    problems: list[str] = []
    problems += _roles(doc, ("default", "require"), spec.default.require)
    problems += _roles(doc, ("medical_claim", "require"), spec.medical_claim.require)
    problems += _roles(doc, ("edited_template", "require"), spec.edited_template.require)
    rules, found = _rules(doc, spec, known)
    problems += found
    sla, found = _sla(doc, spec)
    problems += found
    problems += _deputies(doc, spec, users)
    patterns, found = _claim_patterns(doc, spec)
    problems += found
    if problems:
        raise ConfigError("\n".join(problems))
    return Policy(
        rules=tuple(rules),
        default_roles=tuple(spec.default.require),
        claim_roles=tuple(spec.medical_claim.require),
        edited_roles=tuple(spec.edited_template.require),
        distinct_approvers=spec.distinct_approvers,
        four_eyes=spec.four_eyes,
        sla_s=sla,
        deputies_by_role={k: tuple(v) for k, v in spec.deputies.by_role.items()},
        deputies_by_user=dict(spec.deputies.by_user),
        claim_keywords={k: tuple(v) for k, v in spec.claim_keywords.items()},
        _claim_patterns=patterns,
    )


def load_policy(
    path: Path, *, topics: Iterable[str] | None = None, users: UserDirectory | None = None
) -> Policy:
    """Read and validate the policy file."""
    return build_policy(read_yaml(path), topics=topics, users=users)
