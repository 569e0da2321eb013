"""Tocsin's settings grouped by concern: ingest, model, detection, delivery (each receiver), approvals.

:class:`pipeline.settings.Settings` reads the flat ``TOCSIN_*`` environment variables (their names
do not change) and validates them; ``settings.ingest``, ``settings.model``,
``settings.detection``, ``settings.delivery`` and ``settings.approvals`` give the same values as
these frozen nested models, so a feature takes only its own group. Secrets stay ``SecretStr``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, SecretStr

from pipeline.settings import RateLimit

if TYPE_CHECKING:
    from pipeline.settings import Settings


class Group(BaseModel):
    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)


class IngestSettings(Group):
    """Front doors: brands watched, decoding limits, HTTP ingest clients and limits."""

    brands_file: Path
    max_text_chars: int
    max_payload_bytes: int
    max_future_s: int
    tokens: SecretStr | None  # TOCSIN_INGEST_TOKENS
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
    webhook_url: SecretStr | None  # TOCSIN_SLACK_WEBHOOK_URL
    bot_token: SecretStr | None  # TOCSIN_SLACK_BOT_TOKEN
    channel: str | None
    api_url: str
    signing_secret: SecretStr | None


class PagerDutySettings(Group):
    routing_key: SecretStr | None
    events_url: str
    webhook_secret: SecretStr | None


class OpsgenieSettings(Group):
    api_key: SecretStr | None
    api_url: str


class TeamsSettings(Group):
    workflow_url: SecretStr | None


class AlertmanagerSettings(Group):
    url: str | None


class WebhookSettings(Group):
    url: SecretStr | None
    secret: SecretStr | None


class EmailSettings(Group):
    smtp_host: str | None
    smtp_port: int | None
    smtp_username: str | None
    smtp_password: SecretStr | None
    smtp_from: str | None
    smtp_starttls: bool
    smtp_tls: bool
    smtp_timeout_s: float
    to: tuple[str, ...]  # TOCSIN_EMAIL_TO


class ReceiverSettings(Group):
    """The default receiver of each type (``TOCSIN_*`` shorthand); named ones are in the routing file."""

    slack: SlackSettings
    pagerduty: PagerDutySettings
    opsgenie: OpsgenieSettings
    teams: TeamsSettings
    alertmanager: AlertmanagerSettings
    webhook: WebhookSettings
    email: EmailSettings
    console: bool  # TOCSIN_CONSOLE_ALERTS


class DeliverySettings(Group):
    """Outbound delivery: client, retries, rate limits, routing file, the receivers."""

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

    responses_file: Path
    policy_file: Path  # TOCSIN_APPROVAL_POLICY_FILE
    users_file: Path
    user_tokens: SecretStr | None
    link_secret: SecretStr | None  # TOCSIN_APPROVAL_LINK_SECRET
    link_ttl_s: int
    publish_webhook_url: str | None
    publish_webhook_secret: SecretStr | None
    sla_check_s: float
    wait_s: float
    response_info_url: str | None


# -- built from the flat settings (the environment variables keep their names) ----------------
def ingest(s: Settings) -> IngestSettings:
    return IngestSettings(
        brands_file=s.brands_file,
        max_text_chars=s.max_text_chars,
        max_payload_bytes=s.max_payload_bytes,
        max_future_s=s.max_future_s,
        tokens=s.ingest_tokens,
        max_body_bytes=s.ingest_max_body_bytes,
        max_lines=s.ingest_max_lines,
        rate_per_s=s.ingest_rate_per_s,
        burst=s.ingest_burst,
        read_timeout_s=s.ingest_read_timeout_s,
    )


def model(s: Settings) -> ModelSettings:
    return ModelSettings(
        model_dir=s.model_dir,
        batch_size=s.batch_size,
        batches_in_flight=s.batches_in_flight,
        batch_within_s=s.batch_within_s,
    )


def detection(s: Settings) -> DetectionSettings:
    return DetectionSettings(
        bucket_seconds=s.bucket_seconds,
        count_batch_size=s.count_batch_size,
        count_within_s=s.count_within_s,
        allowed_lateness_s=s.allowed_lateness_s,
        quiet_close_after_s=s.quiet_close_after_s,
        topics_track=s.topics_track,
    )


def delivery(s: Settings) -> DeliverySettings:
    return DeliverySettings(
        http_timeout_s=s.http_timeout_s,
        attempts=s.delivery_attempts,
        backoff_s=s.delivery_backoff_s,
        backoff_max_s=s.delivery_backoff_max_s,
        rate_limits=s.delivery_rate_limits,
        routing_file=s.routing_file,
        public_url=s.public_url,
        receivers=receivers(s),
    )


def receivers(s: Settings) -> ReceiverSettings:
    return ReceiverSettings(
        slack=SlackSettings(
            webhook_url=s.slack_webhook_url,
            bot_token=s.slack_bot_token,
            channel=s.slack_channel,
            api_url=s.slack_api_url,
            signing_secret=s.slack_signing_secret,
        ),
        pagerduty=PagerDutySettings(
            routing_key=s.pagerduty_routing_key,
            events_url=s.pagerduty_events_url,
            webhook_secret=s.pagerduty_webhook_secret,
        ),
        opsgenie=OpsgenieSettings(api_key=s.opsgenie_api_key, api_url=s.opsgenie_api_url),
        teams=TeamsSettings(workflow_url=s.teams_workflow_url),
        alertmanager=AlertmanagerSettings(url=s.alertmanager_url),
        webhook=WebhookSettings(url=s.webhook_url, secret=s.webhook_secret),
        email=EmailSettings(
            smtp_host=s.smtp_host,
            smtp_port=s.smtp_port,
            smtp_username=s.smtp_username,
            smtp_password=s.smtp_password,
            smtp_from=s.smtp_from,
            smtp_starttls=s.smtp_starttls,
            smtp_tls=s.smtp_tls,
            smtp_timeout_s=s.smtp_timeout_s,
            to=s.email_to,
        ),
        console=s.console_alerts,
    )


def approvals(s: Settings) -> ApprovalSettings:
    return ApprovalSettings(
        responses_file=s.responses_file,
        policy_file=s.approval_policy_file,
        users_file=s.users_file,
        user_tokens=s.user_tokens,
        link_secret=s.approval_link_secret,
        link_ttl_s=s.approval_link_ttl_s,
        publish_webhook_url=s.publish_webhook_url,
        publish_webhook_secret=s.publish_webhook_secret,
        sla_check_s=s.approvals_sla_check_s,
        wait_s=s.approvals_wait_s,
        response_info_url=s.response_info_url,
    )
