"""Tocsin's settings grouped by concern: ingest, model, detection, delivery (each receiver), approvals.

:class:`pipeline.settings.Settings` reads the flat ``TOCSIN_*`` environment variables (their names
do not change) and validates them; ``settings.ingest``, ``settings.model``,
``settings.detection``, ``settings.delivery`` and ``settings.approvals`` give the same values as
these frozen nested models, so a feature takes only its own group. Secrets stay ``SecretStr``.

Each group names where its fields come from: the flat field ``prefix + name`` unless ``renames``
says otherwise (``IngestSettings.burst`` is ``ingest_burst``, i.e. ``TOCSIN_INGEST_BURST``).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Self

from pydantic import BaseModel, ConfigDict, SecretStr

from pipeline.settings_values import RateLimit

if TYPE_CHECKING:
    from pipeline.settings import Settings


class Group(BaseModel):
    """A frozen group of settings, built from the flat :class:`~pipeline.settings.Settings`."""

    model_config = ConfigDict(frozen=True)
    prefix: ClassVar[str] = ""
    renames: ClassVar[dict[str, str]] = {}

    @classmethod
    def of(cls, settings: Settings) -> Self:
        """The group's values read from ``settings``; a nested group is built the same way."""
        values: dict[str, Any] = {}
        for name, field in cls.model_fields.items():
            kind = field.annotation
            if isinstance(kind, type) and issubclass(kind, Group):
                values[name] = kind.of(settings)
            else:
                values[name] = getattr(settings, cls.renames.get(name, cls.prefix + name))
        return cls(**values)


class IngestSettings(Group):
    """Front doors: brands watched, decoding limits, de-duplication by id, HTTP clients and limits."""

    prefix = "ingest_"
    renames: ClassVar[dict[str, str]] = {
        n: n
        for n in (
            "brands_file",
            "max_text_chars",
            "max_payload_bytes",
            "max_future_s",
            "dedup_horizon_s",
            "dedup_max_ids",
        )
    }
    brands_file: Path
    max_text_chars: int
    max_payload_bytes: int
    max_future_s: int
    dedup_horizon_s: int
    dedup_max_ids: int
    tokens: SecretStr | None
    max_body_bytes: int
    max_lines: int
    rate_per_s: float
    burst: int
    read_timeout_s: float


class ModelSettings(Group):
    """The classifier: artefacts and batching."""

    model_dir: Path | None
    batch_size: int
    batches_in_flight: int
    batch_within_s: float


class DetectionSettings(Group):
    """Counting and spike detection: buckets, lateness, quiet brands, topics watched."""

    bucket_seconds: int
    count_batch_size: int
    count_within_s: float
    allowed_lateness_s: int
    quiet_close_after_s: int
    topics_track: tuple[str, ...]


class SlackSettings(Group):
    prefix = "slack_"
    webhook_url: SecretStr | None
    bot_token: SecretStr | None
    channel: str | None
    api_url: str
    signing_secret: SecretStr | None


class PagerDutySettings(Group):
    prefix = "pagerduty_"
    routing_key: SecretStr | None
    events_url: str
    webhook_secret: SecretStr | None


class OpsgenieSettings(Group):
    prefix = "opsgenie_"
    api_key: SecretStr | None
    api_url: str


class TeamsSettings(Group):
    prefix = "teams_"
    workflow_url: SecretStr | None


class AlertmanagerSettings(Group):
    prefix = "alertmanager_"
    url: str | None


class WebhookSettings(Group):
    prefix = "webhook_"
    url: SecretStr | None
    secret: SecretStr | None


class EmailSettings(Group):
    prefix = "smtp_"
    renames: ClassVar[dict[str, str]] = {"to": "email_to", "from_": "smtp_from"}
    host: str | None
    port: int | None
    username: str | None
    password: SecretStr | None
    from_: str | None
    starttls: bool
    tls: bool
    timeout_s: float
    to: tuple[str, ...]


class ReceiverSettings(Group):
    """The default receiver of each type (``TOCSIN_*`` shorthand); named ones are in the routing file."""

    renames: ClassVar[dict[str, str]] = {"console": "console_alerts"}
    slack: SlackSettings
    pagerduty: PagerDutySettings
    opsgenie: OpsgenieSettings
    teams: TeamsSettings
    alertmanager: AlertmanagerSettings
    webhook: WebhookSettings
    email: EmailSettings
    console: bool


class DeliverySettings(Group):
    """Outbound delivery: client, retries, rate limits, routing file, the receivers."""

    prefix = "delivery_"
    renames: ClassVar[dict[str, str]] = {
        n: n for n in ("http_timeout_s", "routing_file", "public_url")
    }
    http_timeout_s: float
    attempts: int
    backoff_s: float
    backoff_max_s: float
    rate_limits: dict[str, RateLimit]
    routing_file: Path | None
    public_url: str | None
    receivers: ReceiverSettings


class ApprovalSettings(Group):
    """Rapid-response approvals: data files, users, links, SLA, publishing."""

    prefix = "approval_"
    renames: ClassVar[dict[str, str]] = {
        "sla_check_s": "approvals_sla_check_s",
        "wait_s": "approvals_wait_s",
        **{
            n: n
            for n in (
                "responses_file",
                "users_file",
                "user_tokens",
                "publish_webhook_url",
                "publish_webhook_secret",
                "response_info_url",
            )
        },
    }
    responses_file: Path
    policy_file: Path
    users_file: Path
    user_tokens: SecretStr | None
    link_secret: SecretStr | None
    link_ttl_s: int
    publish_webhook_url: str | None
    publish_webhook_secret: SecretStr | None
    sla_check_s: float
    wait_s: float
    response_info_url: str | None


class ConsoleSettings(Group):
    """The comms console: whether the feed runs, where its store is, how long mentions stay."""

    prefix = "console_"
    feed: bool
    store: Path | None
    dsn: SecretStr | None
    retention_days: float
