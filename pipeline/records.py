"""Stream schemas (``faust.Record``) for every topic Tocsin writes.

These are wire formats, kept apart from the ML model in ``models/`` so that "model" means one thing
per folder. Records are serialised as JSON with ISO-8601 dates (``isodates=True``) so any consumer,
Faust or not, can read the topics. Raw input is *not* decoded straight into these records: the
ingest decoder (``pipeline/ingest/decoding.py``) validates untrusted JSON against the input contract
(``RawMention``: the same fields with their limits) and builds a ``Mention`` from it in one step, so
a record on ``mentions`` is always well-formed.
"""

from __future__ import annotations

import types
from collections.abc import Callable
from datetime import datetime
from functools import partial
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints

import faust

#: The closed vocabularies of the mention input contract; the decoder validates against these types.
Platform = Literal[
    "x",
    "facebook",
    "instagram",
    "linkedin",
    "tiktok",
    "youtube",
    "reddit",
    "bluesky",
    "mastodon",
    "forum",
    "news",
    "other",
]
AuthorKind = Literal["hcp", "journalist", "patient", "ngo", "influencer", "unknown"]
MentionKind = Literal["post", "reply", "repost", "quote"]
PLATFORMS: tuple[str, ...] = get_args(Platform)
AUTHOR_KINDS: tuple[str, ...] = get_args(AuthorKind)
MENTION_KINDS: tuple[str, ...] = get_args(MentionKind)
STANCES = ("supportive", "neutral", "critical")
SEVERITIES = ("info", "warning", "critical")
ALERT_STATES = ("firing", "acknowledged", "escalated", "resolved")
#: The topic whose mentions are health data (pharmacovigilance, ``pipeline/pv``); a top mention
#: classified with it carries ``HEALTH_FLAG: true`` so delivery withholds its text
#: (``pipeline/delivery/health_data.py``).
HEALTH_TOPIC = "adverse_event"
HEALTH_FLAG = "adverse_event"


class Author(faust.Record, serializer="json"):
    """Who wrote a mention: a keyed-hash pseudonym, never a real name unless policy allows a handle."""

    id: str
    followers: int = 0
    verified: bool = False
    kind: str = "unknown"
    handle: str | None = None
    #: The pseudonym key that made ``id`` (``pipeline/ingest/pseudonyms.py``), so keys can rotate.
    key_id: str | None = None


class Engagement(faust.Record, serializer="json"):
    """Interaction counts at the time the mention was captured."""

    likes: int = 0
    shares: int = 0
    replies: int = 0


class Mention(faust.Record, serializer="json", isodates=True):
    """A validated, normalised social mention of at least one tracked brand.

    ``brand`` is the primary brand and the Kafka key downstream, so every mention of one brand is
    counted on one partition; ``brands`` lists all matched brands.
    """

    id: str
    platform: str
    text: str
    created_at: datetime
    brand: str
    author: Author
    brands: list[str]
    url: str | None = None
    lang: str | None = None
    kind: str = "post"
    engagement: Engagement | None = None
    repost_of: str | None = None
    #: Where ingest read this mention on ``mentions.raw`` (set by ``classify_mentions``, never by
    #: a source). Counting remembers the highest position it counted per raw partition, in the same
    #: table record as the counts, so a copy re-sent after a crash or rebalance is not counted twice.
    raw_partition: int | None = None
    raw_offset: int | None = None
    #: When the mention reached Tocsin: the broker's timestamp of its raw record (set by
    #: ``classify_mentions``). Day zero of a pharmacovigilance case (``pipeline/pv/cases.py``).
    received_at: datetime | None = None

    @property
    def reach(self) -> int:
        """Audience of the author, the weight a mention carries in reach-weighted volume."""
        return max(0, self.author.followers)


class ClassifiedMention(faust.Record, serializer="json", isodates=True):
    """A mention with the model's verdict: multi-label topics, stance and language."""

    mention: Mention
    topics: list[str]
    scores: dict[str, float]
    stance: str
    lang: str
    model_version: str
    #: What the PV triage heads read in the sentence embedding (models/pvhead.py ``CaseCues``
    #: as an object: reaction, patient, serious, category); absent without the heads.
    case_cues: dict[str, Any] | None = None


class Bucket(faust.Record, serializer="json", isodates=True):
    """Volume of one brand x topic in one closed event-time bucket (zero-count buckets included)."""

    brand: str
    topic: str
    start: datetime
    end: datetime
    count: int
    reach: int = 0
    authors: int = 0
    stance: dict[str, int] | None = None
    top_mentions: list[dict[str, Any]] | None = None
    top_authors: list[dict[str, Any]] | None = None
    """The bucket's largest-audience authors (id, handle if allowed, kind, followers, mentions)."""
    languages: dict[str, int] | None = None
    """Mentions per language (the classifier's ``lang``)."""
    author_kinds: dict[str, int] | None = None
    """Mentions per author kind (person, journalist, organisation, ...)."""
    peak: int | None = None
    """Most mentions in any two adjacent minutes of the bucket (tells a blip from a surge)."""

    @property
    def series_key(self) -> str:
        return f"{self.brand}|{self.topic}"


class Signal(faust.Record, serializer="json", isodates=True):
    """The detector's reading of one bucket: observed against expected, and how unusual it is."""

    brand: str
    topic: str
    start: datetime
    end: datetime
    observed: float
    expected: float
    lower: float
    upper: float
    score: float
    severity: str
    firing: bool


class Alert(faust.Record, serializer="json", isodates=True):
    """One step in an alert's life, keyed by a dedup key that is stable across retries/restarts."""

    dedup_key: str
    state: str
    severity: str
    brand: str
    topic: str
    started_at: datetime
    updated_at: datetime
    observed: float
    expected: float
    score: float
    summary: str
    why: dict[str, Any] | None = None
    top_mentions: list[dict[str, Any]] | None = None
    fired_at: datetime | None = None
    """Event time at which the page went out: the tipping mention's for an early page, the
    bucket's end for a page at its close (``started_at`` is the episode's bucket)."""
    early: bool = False
    """The page went out while the bucket was still filling."""
    tipping_mention: dict[str, Any] | None = None
    """The mention whose arrival made the page go out (id, url, platform, at)."""


class CaseEvent(faust.Record, serializer="json", isodates=True):
    """One change to one pharmacovigilance case (``pv.cases``, keyed by ``case_id``).

    ``open`` carries the whole case as opened (``pipeline.pv.cases.open_case``); ``move`` a new
    ``status``; ``note`` a follow-up note. ``by`` is who (``tocsin`` for the triage itself).
    """

    case_id: str
    kind: str  # "open" | "move" | "note"
    at: datetime
    by: str
    case: dict[str, Any] | None = None
    to: str | None = None
    text: str | None = None


class ErasureCommand(faust.Record, serializer="json", isodates=True):
    """Remove one author's data from one table entry (``privacy.erasures``, keyed by the entry's
    key so it lands on the partition that owns the entry; ``tocsin privacy erase``).

    ``ids`` are the author's pseudonyms, ``mention_ids`` their mentions' ids; never the raw id.
    """

    erasure_id: str
    table: str
    key: str
    ids: list[str]
    at: datetime
    handles: list[str] | None = None
    mention_ids: list[str] | None = None


class DeadLetter(faust.Record, serializer="json", isodates=True):
    """Input that could not be used, with the reason; the payload is kept so nothing is lost."""

    reason: str
    detail: str
    source_topic: str
    partition: int
    offset: int
    received_at: datetime
    payload: str
    payload_encoding: str = "utf-8"


class AckCommand(faust.Record, serializer="json", isodates=True):
    """A person acknowledged (or resolved) an alert: from a Slack button, PagerDuty or the API."""

    dedup_key: str
    action: str  # "acknowledge" | "resolve"
    by: str
    via: str  # "slack" | "pagerduty" | "api" | "console"
    at: datetime
    #: The sender's own id for the event (PagerDuty's ``event.id``): the same event applied twice,
    #: whether PagerDuty re-delivered it or someone replayed a captured signed body, counts once.
    event_id: str | None = None


class SilenceCommand(faust.Record, serializer="json", isodates=True):
    """Create a silence (``silence`` holds its validated dict) or expire one by id."""

    id: str
    action: str  # "create" | "expire"
    at: datetime
    silence: dict[str, Any] | None = None


class GroupCommand(faust.Record, serializer="json", isodates=True):
    """A change to one alert group (``alerts.groups``, keyed by group id; notify_groups).

    ``add`` puts a firing step in the group (``alert`` is its dict, ``receivers`` and ``grouping``
    the route's), ``remove`` stops listing an alert that was acknowledged or resolved, ``flush``
    (from the timer) asks the owner of the group to send what is due. ``at`` is when the command
    was made: an ``add`` times the group from it, so a re-read command times it the same way.
    """

    group: str
    action: str  # "add" | "remove" | "flush"
    at: datetime
    key: list[Any] | None = None  # [route path, [[label, value], ...]]
    alert: dict[str, Any] | None = None
    receivers: list[str] | None = None
    grouping: dict[str, Any] | None = None


class DeliveryReceipt(faust.Record, serializer="json", isodates=True):
    """The outcome of one attempt to deliver an alert step to one receiver."""

    dedup_key: str
    state: str
    receiver: str
    attempt: int
    outcome: str
    status_code: int | None
    at: datetime
    error: str | None = None


class DeliveryDeadLetter(faust.Record, serializer="json", isodates=True):
    """An alert step one receiver never accepted: its last attempt failed (``alerts.deliveries.dlq``).

    Written once per (step, receiver) when retrying gives up -- a permanent refusal or the attempts
    run out -- so a page that reached nobody is a record someone can read, alert on and re-send
    (``tocsin deliveries replay-dlq``), not only a ``failed`` receipt among thousands. ``alert`` is
    the step as sent; ``idempotency_key`` the key every attempt carried (a re-send with it is
    de-duplicated by receivers that already took it); ``group`` the alert group for a grouped
    notification. ``error`` has every secret setting masked.
    """

    dedup_key: str
    step: str
    receiver: str
    idempotency_key: str
    attempts: int
    status_code: int | None
    error: str | None
    alert: dict[str, Any]
    failed_at: datetime
    group: str | None = None


# Rapid-response approval topics (``responses.*``), every record keyed by ``draft_id`` so a draft,
# its decisions, its approval state and its publication share a partition. The domain core
# (``pipeline/approvals/``) works on plain dicts and dataclasses; these records carry the same
# fields.


class DraftRecord(faust.Record, serializer="json", isodates=True):
    """A proposed public response for one firing alert, with the context a reviewer needs.

    ``draft`` is the domain core's draft as a dict (template, language, text, hash, required
    roles, deadlines); ``alert`` is the alert step that caused it (the why and the top mentions).
    """

    draft_id: str
    alert_key: str
    created_at: datetime
    draft: dict[str, Any]
    alert: dict[str, Any]


class DecisionRecord(faust.Record, serializer="json", isodates=True):
    """One request to the approval state machine, from a person (web, Slack) or the system.

    ``event`` and ``actor`` are the domain core's own dict forms (``state.event_to_dict``,
    ``Actor.to_dict``), so the topic replays into exactly the same state. ``at`` is stamped at
    the edge and is the ``now`` the state machine decides with: replaying the topic after a
    restart gives the same state and the same audit ids. ``event_id`` is unique per request so
    the page or the Slack handler waiting for the outcome finds the answer to its own request.
    ``context`` carries the alert (the why, the top mentions) when a draft is created; ``reply``
    names the Slack message to rewrite with the outcome.
    """

    event_id: str
    draft_id: str
    at: datetime
    actor: dict[str, Any]
    event: dict[str, Any]
    context: dict[str, Any] | None = None
    reply: dict[str, Any] | None = None


class AuditRecord(faust.Record, serializer="json", isodates=True):
    """One line of the append-only audit log: who did what, when, from where, and the outcome.

    ``entry`` is the domain core's audit entry as a dict (``pipeline.approvals.audit``); the few
    fields copied beside it are the ones a Kafka consumer filters on without parsing the entry.
    """

    draft_id: str
    at: datetime
    outcome: str
    entry: dict[str, Any]
    event_id: str | None = None


class ApprovedRecord(faust.Record, serializer="json", isodates=True):
    """A fully approved response handed to the publish step: the exact text and its hash."""

    draft_id: str
    alert_key: str
    text: str
    text_hash: str
    approved_at: datetime
    approvers: list[str]
    lang: str | None = None
    slack_thread: dict[str, Any] | None = None


class PublishReceipt(faust.Record, serializer="json", isodates=True):
    """The outcome of one attempt to publish an approved response to one target."""

    draft_id: str
    target: str
    attempt: int
    outcome: str
    status_code: int | None
    at: datetime
    text_hash: str
    error: str | None = None


# -- the shape of a record read from a topic ------------------------------------------------------
# Faust builds a record from whatever JSON arrives: ``{"dedup_key": ["x"]}`` becomes an AckCommand
# whose key is a list, and the agent then crashes on it (unhashable), is restarted after a pause,
# and the record is gone. The topics Tocsin consumes check every record's field types against its
# annotations when it is decoded (``pipeline.topics.CheckedTopic``) and dead-letter the rest.


#: Checks one value against one annotation: None, or (path below the value, what is wrong).
Check = Callable[[Any], "tuple[str, str] | None"]
_CHECKS: dict[type[faust.Record], list[tuple[str, Check]]] = {}


def _accept(value: Any) -> tuple[str, str] | None:
    return None


def _scalar(kind: type) -> Check:
    if kind is bool:
        allowed: tuple[type, ...] = (bool,)
    elif kind is float:
        allowed = (int, float)
    else:
        allowed = (kind,)
    refuse_bool = kind is not bool  # True is an int to isinstance, not to a reader of the record

    def check(value: Any) -> tuple[str, str] | None:
        if isinstance(value, allowed) and not (refuse_bool and isinstance(value, bool)):
            return None
        return "", f"expected {kind.__name__}, got {type(value).__name__}"

    return check


def _compile(kind: Any) -> Check:
    """The check of one annotation, built once per record type."""
    origin, args = get_origin(kind), get_args(kind)
    if origin in (Union, types.UnionType):
        inner = _compile(next((a for a in args if a is not type(None)), Any))
        optional = type(None) in args
        return lambda value: None if value is None and optional else inner(value)
    if kind is Any:
        return _accept
    if origin is dict:
        item = _compile(args[1]) if args else _accept

        def mapping(value: Any) -> tuple[str, str] | None:
            if not isinstance(value, dict):
                return "", f"expected an object, got {type(value).__name__}"
            for k, v in value.items():
                if not isinstance(k, str):
                    return "", "expected string keys"
                found = item(v)
                if found is not None:
                    return f".{k}{found[0]}"[:80], found[1]
            return None

        return mapping
    if origin is list:
        element = _compile(args[0]) if args else _accept

        def sequence(value: Any) -> tuple[str, str] | None:
            if not isinstance(value, list):
                return "", f"expected a list, got {type(value).__name__}"
            for i, v in enumerate(value):
                found = element(v)
                if found is not None:
                    return f"[{i}]{found[0]}", found[1]
            return None

        return sequence
    if isinstance(kind, type) and issubclass(kind, faust.Record):
        return partial(_record_problem, record_type=kind)
    return _scalar(kind)


def _checks(record_type: type[faust.Record]) -> list[tuple[str, Check]]:
    found = _CHECKS.get(record_type)
    if found is None:
        hints = get_type_hints(record_type)
        found = [(name, _compile(hints[name])) for name in record_type._options.fields]
        _CHECKS[record_type] = found
    return found


def _record_problem(value: Any, record_type: type[faust.Record]) -> tuple[str, str] | None:
    if not isinstance(value, record_type):
        return "", f"expected a {record_type.__name__} object, got {type(value).__name__}"
    for field, check in _checks(record_type):
        try:
            field_value = getattr(value, field, None)
        except Exception as exc:  # Faust builds a nested record on access: it may raise anything
            return f".{field}", f"{type(exc).__name__}: {exc}"[:200]
        found = check(field_value)
        if found is not None:
            return f".{field}{found[0]}", found[1]
    return None


def shape_problem(value: Any, record_type: type[faust.Record]) -> str | None:
    """Why ``value`` is not a ``record_type`` whose fields have their declared types, or None.

    Checks every field against its annotation (str, int, float, bool, datetime, lists and string-
    keyed objects of those, nested records, optional fields); ``Any`` accepts anything. The answer
    names the field: ``AckCommand.dedup_key: expected str, got list``.
    """
    found = _record_problem(value, record_type)
    return None if found is None else f"{record_type.__name__}{found[0]}: {found[1]}"
