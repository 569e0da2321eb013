r"""Tocsin's exceptions, in one tree so callers catch what they can act on.

The base classes are defined here; the feature packages add theirs under them (module in brackets).
Every error Tocsin raises on purpose is a :class:`TocsinError`.

TocsinError
├── ConfigError              a data file or setting is wrong; names the file and field
│   └── DetectorConfigError  [detection.config] a detector setting or file (also a ValueError)
├── InvalidMention           untrusted input cannot become a Mention; carries a fixed reason code
├── BadJson                  [safejson] a body is not JSON of a sane shape (also a ValueError)
├── Bad                      [sources.base] a live source's event cannot be mapped to a mention
├── StateDirUnusable         the worker's state folder (APP_DATADIR) is missing, not writable or full
├── KafkaLoginFailed         the broker refused the TLS handshake or the SASL login (cause named)
├── DeliveryError            an alert step or an approved response could not be delivered
│   ├── RetryableDelivery    worth another try (5xx, timeout, connection error)
│   │   └── RateLimited      the receiver said 429; carries ``retry_after`` seconds
│   └── PermanentDelivery    retrying cannot help (4xx other than 408/429, bad config)
├── IngestRefused            [ingest.http] an ingest request refused whole; HTTP status + code
├── SourceError              [sources.base] a live source failed
│   ├── SourceDisconnected, SourceRefused    [sources.base] a reconnect may help / cannot help
│   └── SinkFailed           [sources.runner] writing a mention or checkpoint failed; the run stops
├── AckRejected              [oncall.acks] an acknowledgement request failed verification
├── SilenceError             [oncall.silences] a silence request is invalid
├── UnsafeRegex              [oncall.regex_guard] a matcher pattern could backtrack for too long
├── CaseError                [pv.cases] a case event cannot apply (also a ValueError)
├── StoreError, BadRecord    [console.rows] the store cannot open / a fed record lacks a field
├── TopicAdminError          [ops.topics] creating or checking the Kafka topics failed
│   ├── BrokerUnavailable, TopicCreationFailed, PartitionCountMismatch
│   └── GrowRefused          [ops.grow] growing the partitions would lose or split state
├── ErasureFailed            [ops.erase] an author erasure could not finish
├── MissingTool              [ops.postgres] a PostgreSQL program for the test server is missing
├── TextMismatch             [approvals.publish] the text to publish is not the approved text
├── RenderError              [approvals.errors] a response template cannot be filled
├── ApprovalRefused          [approvals.errors] a request about a draft is refused; ``reason`` code
│   └── AuthRefused, SignatureRefused, LinkRefused, CsrfRefused, DecisionRefused
└── command errors           also ``click.ClickException`` (exit code and message for the CLI):
    BacktestError [detection.backtest], PlotError [detection.plot], LabelsError
    [detection.scoring], ConfigProblem [ops.notify], UsageProblem, ServerProblem [ops.silences]

``AckRejected``, ``SilenceError`` and ``UnsafeRegex`` are also ``ValueError``\s, which their callers
catch. The classifier's errors (``models/``) join the tree too, keeping their built-in bases:
``BackboneError`` (RuntimeError), ``ArtefactsMissingError`` (FileNotFoundError), ``InputFormatError``,
``CorpusError`` and ``TaxonomyError`` (ValueError). The file commands' shared reader raises
``FileUnreadable`` [tabular] (ValueError; its ``HeaderError`` when there is no header line) when
an input file is not a table it reads.
"""

from __future__ import annotations


class TocsinError(Exception):
    """Base class of every error Tocsin raises on purpose."""


class ConfigError(TocsinError):
    """A configuration file or setting is invalid; the message names the file, line and field."""


#: The reason codes of :class:`InvalidMention` (a metrics label and the dead letter's ``reason``).
INVALID_MENTION_REASONS = (
    "oversized",
    "invalid_utf8",
    "invalid_json",
    "not_an_object",
    "missing_field",
    "wrong_type",
    "invalid_value",
    "text_too_long",
    "empty_text",
)


class InvalidMention(TocsinError):
    """An input payload cannot become a Mention; ``reason`` is a low-cardinality code for metrics."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


class StateDirUnusable(TocsinError):
    """The worker's state folder cannot be used; the message names the folder and the cause."""


class KafkaLoginFailed(TocsinError):
    """A Kafka broker refused the connection's TLS handshake or its SASL credentials.

    Retrying cannot help: the settings (``TOCSIN_KAFKA_*``) or the broker's users and certificates
    must change. The message names the broker, the protocol and user, and the broker's reason.
    """


class DeliveryError(TocsinError):
    """Delivering an alert step to a receiver failed."""

    def __init__(self, message: str, *, status_code: int | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code


class RetryableDelivery(DeliveryError):
    """The receiver failed in a way another attempt may fix (5xx, timeout, connection reset)."""


class RateLimited(RetryableDelivery):
    """The receiver answered 429; wait ``retry_after`` seconds before the next attempt."""

    def __init__(self, message: str, *, retry_after: float | None, status_code: int = 429) -> None:
        super().__init__(message, status_code=status_code)
        self.retry_after = retry_after


class PermanentDelivery(DeliveryError):
    """The receiver refused the request for good (bad URL, revoked token, invalid payload)."""
