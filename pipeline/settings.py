"""One typed settings class for everything Tocsin reads from its environment.

The fields are flat because the environment variables are (``TOCSIN_SLACK_WEBHOOK_URL`` ...);
``settings.ingest``, ``.model``, ``.detection``, ``.delivery`` (with ``.delivery.receivers``) and
``.approvals`` give them grouped by concern (``pipeline/settings_groups.py``).

Faust's own settings (``BROKER_URL``, ``WEB_PORT``, ``APP_DATADIR`` ...) are *not* repeated here:
Faust reads them itself. Everything Tocsin adds is prefixed ``TOCSIN_`` and documented in the README's
configuration table. Secrets are ``SecretStr`` with no default, so they never appear in logs or
reprs, and obvious placeholders are refused at start-up rather than discovered in production.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from pipeline.records import AuthorKind
from pipeline.settings_kafka import KafkaSettings, make_kafka_settings
from pipeline.settings_values import (
    DEFAULT_LIMITS,
    KNOWN_RECEIVERS,
    RateLimit,
    check_address,
    check_dsn,
    check_secret,
    parse_client_tokens,
    parse_rate_limits,
    parse_token_list,
)

if TYPE_CHECKING:
    from pipeline.settings_groups import (
        ApprovalSettings,
        ConsoleSettings,
        DeliverySettings,
        DetectionSettings,
        IngestSettings,
        ModelSettings,
    )


def default_cache_dir() -> Path:
    """Where slow-to-build things live (model artefacts, jars): outside the clone, shared by clones."""
    import os

    root = os.environ.get("TOCSIN_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "tocsin"
    )
    return Path(root)


class Settings(BaseSettings):
    """Tocsin's settings; build them with :func:`get_settings` or pass values in tests."""

    model_config = SettingsConfigDict(
        env_prefix="TOCSIN_", extra="ignore", frozen=True, hide_input_in_errors=True
    )

    kafka: KafkaSettings = Field(
        default_factory=make_kafka_settings,
        description="Kafka connection (TLS, SASL) and partitions: the TOCSIN_KAFKA_* variables, "
        "read by their own class (pipeline/settings_kafka.py)",
    )
    brands_file: Path = Field(
        default=Path(__file__).parent / "config" / "brands.yaml",
        description="YAML file of tracked brands, products and aliases",
    )
    sources_file: Path | None = Field(
        default=None,
        description="YAML file of live sources for `tocsin sources run` (docs/sources.md)",
    )
    sources_in_worker: bool = Field(
        default=False,
        description="run the sources of TOCSIN_SOURCES_FILE inside the worker: the one worker "
        "holding partition 0 of sources.checkpoints runs them all (docs/sources.md)",
    )
    model_dir: Path | None = Field(
        default=None, description="built classifier artefacts (default: in the cache folder)"
    )
    batch_size: int = Field(default=32, ge=1, le=512, description="mentions per model batch")
    #: 8, not 4: the model threads wait while the last batch of a take goes out and the next take
    #: comes in, so the longer the take, the less of that. Through the broker
    #: (``tocsin model bench --broker``, runs with the host stealing < 0.2 ms per mention) the
    #: plain stream's median went from 0.886 of the raw model (9 runs, busy 1.81-1.88 cores of
    #: 2) to 0.904 (7 runs, busy 1.84-1.91); README, "Classifier throughput".
    batches_in_flight: int = Field(
        default=8,
        ge=1,
        le=64,
        description="model batches taken from the stream at once: the records of one are sent "
        "while the model runs the next (agents/classify_mentions.py)",
    )
    batch_within_s: float = Field(
        default=0.5, gt=0, le=30, description="longest wait to fill a model batch (seconds)"
    )
    #: 20,000 distinct texts is about 3 laps of the bench stream's distinct texts, far more than a
    #: crisis's reposts repeat within minutes; at ~1.3 KB a prediction (plus ~0.7 KB of encoded
    #: record tail, models/textcache.py, pipeline/ingest/output.py) about 40 MB in all.
    repost_cache_entries: int = Field(
        default=20_000,
        ge=1,
        le=1_000_000,
        description="predictions of distinct texts kept for reposts (the repost cache), and "
        "encoded record tails kept with them (agents/classify_mentions.py)",
    )
    repost_cache_mb: float = Field(
        default=64.0,
        gt=0,
        le=4096,
        description="estimated MiB the repost cache's predictions may take (over-estimates: "
        "shared strings are counted per entry); the oldest go first past it",
    )
    max_text_chars: int = Field(
        default=5000, ge=280, description="longer texts are dead-lettered as oversized"
    )
    max_payload_bytes: int = Field(
        default=256 * 1024, ge=1024, description="larger raw payloads are dead-lettered"
    )
    max_future_s: int = Field(
        default=3600,
        ge=0,
        description="mentions dated more than this ahead of the worker's clock are dead-lettered "
        "(invalid_value): a source with a broken clock must not push a brand's watermark ahead",
    )
    dedup_horizon_s: int = Field(
        default=24 * 3600,
        ge=0,
        description="a mention whose id ingest accepted this long ago or less (arrival time on "
        "mentions.raw) is filtered as a duplicate; 0 turns de-duplication by id off",
    )
    dedup_max_ids: int = Field(
        default=100_000,
        ge=1,
        description="mention ids remembered per mentions.raw partition; beyond it the oldest are "
        "forgotten before their horizon (tocsin_dedup_forgotten_total{reason='bound'})",
    )
    bucket_seconds: int = Field(default=300, ge=60, description="event-time bucket width")
    count_batch_size: int = Field(
        default=256,
        ge=1,
        le=10_000,
        description="classified mentions counted per state write: each touched brand's bucket "
        "state goes to the changelog once per batch instead of once per mention",
    )
    count_within_s: float = Field(
        default=0.2, gt=0, le=30, description="longest wait to fill a counting batch (seconds)"
    )
    allowed_lateness_s: int = Field(
        default=120, ge=0, description="a bucket closes this long after its end (event time)"
    )
    quiet_close_after_s: int = Field(
        default=600,
        ge=0,
        description="a brand not mentioned for this long (wall clock) has its buckets closed as "
        "the other brands on its partition move event time on, so its alert can resolve",
    )
    raw_idle_after_s: int = Field(
        default=300,
        ge=0,
        description="a mentions.raw partition nothing has arrived from for this long (wall clock) "
        "stops holding buckets open; until then a bucket closes only once every raw partition "
        "passed its end plus the allowed lateness",
    )
    detection_file: Path | None = Field(
        default=None,
        description="detection settings YAML: sensitivity, detector settings and overrides per "
        "brand / topic (docs/detection.md); unset: the defaults at detection_sensitivity",
    )
    detection_sensitivity: str | None = Field(
        default=None,
        description="named sensitivity (low, standard, high) for every series; overrides the "
        "detection file's top-level sensitivity",
    )
    topics_track: tuple[str, ...] = Field(
        default=("pricing", "scandal", "advocacy", "boycott", "adverse_event"),
        description='topics with a spike detector per brand ("other" is not watched)',
    )
    slack_webhook_url: SecretStr | None = Field(
        default=None, description="Slack incoming webhook URL (a secret: it carries a token)"
    )
    slack_bot_token: SecretStr | None = Field(
        default=None, description="Slack bot token (xoxb-...) for chat.postMessage (a secret)"
    )
    slack_channel: str | None = Field(
        default=None, description="Slack channel id the bot posts alerts to (e.g. C0123456789)"
    )
    slack_api_url: str = Field(
        default="https://slack.com/api", description="Slack Web API base URL"
    )
    pagerduty_routing_key: SecretStr | None = Field(
        default=None, description="PagerDuty Events API v2 integration (routing) key (a secret)"
    )
    pagerduty_events_url: str = Field(
        default="https://events.pagerduty.com/v2/enqueue",
        description="PagerDuty Events API v2 enqueue URL",
    )
    opsgenie_api_key: SecretStr | None = Field(
        default=None, description="Opsgenie API integration key, sent as GenieKey (a secret)"
    )
    opsgenie_api_url: str = Field(
        default="https://api.opsgenie.com",
        description="Opsgenie API base URL (https://api.eu.opsgenie.com for the EU instance)",
    )
    teams_workflow_url: SecretStr | None = Field(
        default=None, description="Microsoft Teams Workflows webhook URL (a secret: it has a sig)"
    )
    alertmanager_url: str | None = Field(
        default=None, description="Prometheus Alertmanager base URL, e.g. http://alertmanager:9093"
    )
    webhook_url: SecretStr | None = Field(
        default=None, description="generic webhook URL receiving signed JSON alerts (a secret)"
    )
    webhook_secret: SecretStr | None = Field(
        default=None, description="HMAC-SHA256 key signing the generic webhook's bodies"
    )
    smtp_host: str | None = Field(
        default=None, description="SMTP server sending e-mail alerts (with TOCSIN_EMAIL_TO)"
    )
    smtp_port: int | None = Field(
        default=None,
        ge=1,
        le=65535,
        description="SMTP port (unset: 465 with TLS, 587 with STARTTLS)",
    )
    smtp_username: str | None = Field(default=None, description="SMTP AUTH user name")
    smtp_password: SecretStr | None = Field(
        default=None, description="SMTP AUTH password (a secret; never sent without TLS)"
    )
    smtp_from: str | None = Field(default=None, description="envelope and From: address")
    smtp_starttls: bool = Field(
        default=True,
        description="upgrade with STARTTLS and refuse a server that does not offer it "
        "(ignored with TOCSIN_SMTP_TLS)",
    )
    smtp_tls: bool = Field(default=False, description="implicit TLS from the first byte (port 465)")
    smtp_timeout_s: float = Field(
        default=10.0, gt=0, le=120, description="SMTP timeout per connect and per command"
    )
    email_to: Annotated[tuple[str, ...], NoDecode] = Field(
        default=(), description="e-mail alert recipients, comma-separated"
    )
    public_url: str | None = Field(
        default=None, description="Tocsin's dashboard URL, linked from alerts (generatorURL)"
    )
    api_token: SecretStr | None = Field(
        default=None, description="bearer token for /api/* (no token: the API answers 503)"
    )
    metrics_token: SecretStr | None = Field(
        default=None,
        description="bearer token Prometheus sends to /metrics (authorization in the scrape "
        "config); unset: /metrics is open, so keep the web port off untrusted networks",
    )
    auth_slow_after: int = Field(
        default=5,
        ge=1,
        description="authentication failures (401) per client and minute answered at once; "
        "later ones wait 0.25 s, doubling up to 4 s",
    )
    refusals_audited_each: int = Field(
        default=10,
        ge=1,
        description="approval refusals per client and minute audited one by one; the rest are "
        "counted and audited as one summary when the minute ends",
    )
    broker_probe_timeout_s: float = Field(
        default=10.0,
        gt=0,
        le=120,
        description="/readyz turns false when the broker has not answered a metadata request "
        "for this long (a frozen or unreachable broker)",
    )
    stall_after_s: float = Field(
        default=300.0,
        ge=0,
        le=86_400,
        description="/healthz (liveness) turns false when a partition of mentions.raw or "
        "mentions.classified has records waiting and no committed progress for this long "
        "(a frozen consumer; the restart resumes from committed offsets); 0 turns the check off",
    )
    http_timeout_s: float = Field(default=5.0, gt=0, le=60, description="outbound HTTP timeout")
    delivery_attempts: int = Field(default=5, ge=1, le=20, description="delivery tries per step")
    delivery_backoff_s: float = Field(default=0.5, gt=0, description="first retry delay")
    delivery_backoff_max_s: float = Field(default=30.0, gt=0, description="longest retry delay")
    delivery_rate_limits: Annotated[dict[str, RateLimit], NoDecode] = Field(
        default_factory=dict,
        description="Tocsin's own per-receiver rate limits over the documented defaults, as "
        '"receiver=per_min[/burst],..." (e.g. "pagerduty=60,slack=30/2"; 0 = no limit); '
        "see pipeline/delivery/ratelimit.py",
    )
    console_alerts: bool = Field(default=True, description="print alerts on the worker's stdout")
    routing_file: Path | None = Field(
        default=None,
        description="YAML route tree (pipeline/config/routing.yaml shows the format); unset: "
        "every configured receiver gets every alert",
    )
    responses_file: Path = Field(
        default=Path(__file__).parent / "config" / "responses.yaml",
        description="YAML library of pre-approved holding statements (topic x language)",
    )
    approval_policy_file: Path = Field(
        default=Path(__file__).parent / "config" / "approval_policy.yaml",
        description="YAML approval policy: roles per topic/severity, SLAs, deputies, claim words",
    )
    users_file: Path = Field(
        default=Path(__file__).parent / "config" / "users.yaml",
        description="YAML users with roles and Slack ids (tokens come from the environment)",
    )
    user_tokens: SecretStr | None = Field(
        default=None,
        description='per-user web/API tokens as "user_id:token,user_id:token" (secrets)',
    )
    approval_link_secret: SecretStr | None = Field(
        default=None,
        description="HMAC-SHA256 key for single-use approval links and CSRF tokens (a secret)",
    )
    approval_link_ttl_s: int = Field(
        default=1800, ge=60, le=7 * 86400, description="lifetime of a single-use approval link"
    )
    pagerduty_webhook_secret: SecretStr | None = Field(
        default=None,
        description="PagerDuty v3 webhook signing secret (acknowledgements from PagerDuty)",
    )
    escalation_tick_s: float = Field(
        default=15.0, gt=0, le=600, description="how often unacknowledged alerts are checked"
    )
    slack_signing_secret: SecretStr | None = Field(
        default=None, description="Slack app signing secret verifying interaction requests"
    )
    publish_webhook_url: str | None = Field(
        default=None, description="endpoint receiving fully approved responses (signed JSON)"
    )
    publish_webhook_secret: SecretStr | None = Field(
        default=None, description="HMAC-SHA256 key signing the publish webhook's bodies"
    )
    approvals_sla_check_s: float = Field(
        default=15.0, gt=0, le=600, description="how often the SLA timer looks for overdue drafts"
    )
    approvals_wait_s: float = Field(
        default=10.0, gt=0, le=60, description="how long a page waits for its decision to apply"
    )
    response_info_url: str | None = Field(
        default=None, description="public page a holding statement links to ({link} placeholder)"
    )
    ingest_tokens: SecretStr | None = Field(
        default=None,
        description='per-client bearer tokens for POST /api/mentions as "client:token,client:token" '
        "(secrets; unset: the ingest endpoint answers 503)",
    )
    ingest_max_body_bytes: int = Field(
        default=4 * 1024 * 1024,
        ge=1024,
        le=64 * 1024 * 1024,
        description="largest POST /api/mentions body (bytes); larger is refused with 413",
    )
    ingest_max_lines: int = Field(
        default=1000, ge=1, le=100_000, description="most mentions in one NDJSON ingest batch"
    )
    ingest_rate_per_s: float = Field(
        default=200.0, gt=0, description="mentions per second each ingest client may send"
    )
    ingest_burst: int = Field(
        default=2000, ge=1, description="mentions an ingest client may send at once (bucket size)"
    )
    state_min_free_bytes: int = Field(
        default=16 * 1024 * 1024,
        ge=0,
        description="free space below which the state folder (APP_DATADIR) makes /readyz false",
    )
    pv_timezone: str = Field(
        default="UTC",
        description="time zone of the safety department's calendar: a case's day zero is the "
        "local date its mention arrived, its due date the end of a local day (IANA name)",
    )
    pv_markets_file: Path = Field(
        default=Path(__file__).parent / "config" / "pv_markets.yaml",
        description="YAML reporting rules per region (days for serious and non-serious cases) "
        "and the markets of each brand and product (pipeline/pv/regions.py)",
    )
    pv_cases_keep_days: int = Field(
        default=90,
        ge=1,
        le=3650,
        description="days a case stays in the worker's cases table after it was sent to safety "
        "or closed (the pv.cases topic keeps it without limit; docs/pv.md, Cases)",
    )
    pv_cases_max: int = Field(
        default=10_000,
        ge=1,
        description="cases a worker's cases table holds before its oldest handled ones are "
        "dropped; cases not yet handled are never dropped (tocsin_pv_cases_over_cap)",
    )
    mentions_retention_days: int = Field(
        default=30,
        ge=1,
        le=3650,
        description="days Kafka keeps topics holding mention text and authors (mentions.raw, "
        "mentions.classified, mentions.buckets, mentions.dlq, alerts, privacy.erasures); set by "
        "`tocsin topics create` on new and existing topics",
    )
    pseudonym_key: SecretStr | None = Field(
        default=None,
        description="HMAC-SHA256 key pseudonymising author ids at ingest (a secret; unset: a "
        "random key per worker, so pseudonyms change on restart)",
    )
    pseudonym_key_id: str = Field(
        default="k1",
        pattern=r"^[A-Za-z0-9_.-]{1,32}$",
        description="id of TOCSIN_PSEUDONYM_KEY, recorded with every pseudonym (change it with "
        "the key when rotating)",
    )
    handles_kept_for: Annotated[tuple[AuthorKind, ...], NoDecode] = Field(
        default=(),
        description="author kinds whose handles are kept, comma-separated (e.g. journalist,ngo); "
        "every other handle is dropped at ingest",
    )
    ingest_read_timeout_s: float = Field(
        default=30.0,
        gt=0,
        le=300,
        description="longest wait for a request's body, on the ingest doors and every other "
        "(a slower body is answered 408)",
    )
    vendor_brandwatch_token: SecretStr | None = Field(
        default=None,
        description="bearer token the Brandwatch relay sends to POST /api/ingest/brandwatch "
        "(a secret; unset: that route answers 404)",
    )
    vendor_talkwalker_token: SecretStr | None = Field(
        default=None,
        description="bearer token the Talkwalker relay sends to POST /api/ingest/talkwalker "
        "(a secret; unset: that route answers 404)",
    )
    vendor_meltwater_secret: SecretStr | None = Field(
        default=None,
        description="the Meltwater hook's shared secret (X-Hook-Secret) verifying X-Hub-Signature "
        "on POST /api/ingest/meltwater (a secret; unset: that route answers 404)",
    )
    vendor_replay_window_s: int = Field(
        default=86400,
        ge=60,
        le=7 * 86400,
        description="how long a signed vendor push is remembered: the same body signed again "
        "within it is answered as a duplicate and produces nothing",
    )
    console_feed: bool = Field(
        default=True,
        description="read the alert, bucket, mention and approval topics into the console store "
        "and serve the /console pages (docs/console.md)",
    )
    console_store: Path | None = Field(
        default=None,
        description="SQLite file of the console store (default: console.sqlite3 in the "
        "worker's state folder, APP_DATADIR)",
    )
    console_dsn: SecretStr | None = Field(
        default=None,
        description="PostgreSQL connection string of a console store shared by every worker "
        "(postgresql://user:password@host:5432/db; a secret, never logged). Unset: each worker "
        "keeps its own SQLite file",
    )
    console_retention_days: float = Field(
        default=30.0,
        gt=0,
        le=3650,
        description="mentions (and closed buckets) older than this are deleted from the console "
        "store; alerts are kept",
    )

    @field_validator(
        "slack_webhook_url",
        "api_token",
        "metrics_token",
        "slack_bot_token",
        "pagerduty_routing_key",
        "opsgenie_api_key",
        "teams_workflow_url",
        "webhook_url",
        "webhook_secret",
        "approval_link_secret",
        "slack_signing_secret",
        "publish_webhook_secret",
        "pagerduty_webhook_secret",
        "smtp_password",
        "pseudonym_key",
        "vendor_brandwatch_token",
        "vendor_talkwalker_token",
        "vendor_meltwater_secret",
    )
    @classmethod
    def _refuse_placeholders(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            check_secret(value.get_secret_value())
        return value

    @field_validator("console_dsn")
    @classmethod
    def _console_dsn_well_formed(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            check_dsn(value.get_secret_value())
        return value

    @field_validator("ingest_tokens")
    @classmethod
    def _ingest_tokens_well_formed(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            parse_client_tokens(value.get_secret_value())
        return value

    @field_validator("delivery_rate_limits", mode="before")
    @classmethod
    def _parse_rate_limits(cls, value: Any) -> Any:
        """``pagerduty=60,slack=30/2`` from the environment; a mapping from tests."""
        return parse_rate_limits(value) if isinstance(value, str) else value

    @field_validator("handles_kept_for", mode="before")
    @classmethod
    def _split_kinds(cls, value: Any) -> Any:
        """``journalist, ngo`` from the environment; a list or tuple from tests."""
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("pv_timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {value!r} (an IANA name such as Europe/Paris)"
            ) from None
        return value

    @field_validator("email_to", mode="before")
    @classmethod
    def _split_recipients(cls, value: Any) -> Any:
        """``a@x.example, b@x.example`` from the environment; a list or tuple from tests."""
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("email_to")
    @classmethod
    def _recipients_are_addresses(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for address in value:
            check_address(address)
        if len(set(value)) != len(value):
            raise ValueError("a recipient is listed twice")
        return value

    @field_validator("smtp_from")
    @classmethod
    def _sender_is_an_address(cls, value: str | None) -> str | None:
        return None if value is None else check_address(value)

    @model_validator(mode="after")
    def _email_complete(self) -> Settings:
        """E-mail needs host, sender and recipients together; a password only over TLS."""
        parts = {
            "TOCSIN_SMTP_HOST": self.smtp_host is not None,
            "TOCSIN_SMTP_FROM": self.smtp_from is not None,
            "TOCSIN_EMAIL_TO": bool(self.email_to),
        }
        extras = self.smtp_username is not None or self.smtp_password is not None
        if (any(parts.values()) or extras) and not all(parts.values()):
            missing = ", ".join(name for name, given in parts.items() if not given)
            raise ValueError(
                "TOCSIN_SMTP_HOST, TOCSIN_SMTP_FROM and TOCSIN_EMAIL_TO go together "
                f"(missing: {missing})"
            )
        if (self.smtp_username is None) != (self.smtp_password is None):
            raise ValueError("TOCSIN_SMTP_USERNAME and TOCSIN_SMTP_PASSWORD go together")
        if self.smtp_password is not None and not (self.smtp_starttls or self.smtp_tls):
            raise ValueError(
                "TOCSIN_SMTP_PASSWORD needs TOCSIN_SMTP_STARTTLS or TOCSIN_SMTP_TLS "
                "(a password is never sent in clear)"
            )
        return self

    @model_validator(mode="after")
    def _ingest_batch_fits_burst(self) -> Settings:
        """A batch larger than the bucket could never be accepted: refuse the combination."""
        if self.ingest_burst < self.ingest_max_lines:
            raise ValueError("TOCSIN_INGEST_BURST must be at least TOCSIN_INGEST_MAX_LINES")
        return self

    @model_validator(mode="after")
    def _receivers_complete(self) -> Settings:
        """A receiver half-configured is a mistake to report at start-up, not at the first alert."""
        pairs = (
            ("webhook_url", "webhook_secret"),
            ("slack_bot_token", "slack_channel"),
            ("publish_webhook_url", "publish_webhook_secret"),
        )
        for first, second in pairs:
            if (getattr(self, first) is None) != (getattr(self, second) is None):
                raise ValueError(f"TOCSIN_{first.upper()} and TOCSIN_{second.upper()} go together")
        return self

    # -- the same values grouped by concern (pipeline/settings_groups.py) -----------------------
    @property
    def ingest(self) -> IngestSettings:
        from pipeline.settings_groups import IngestSettings

        return IngestSettings.of(self)

    @property
    def model(self) -> ModelSettings:
        from pipeline.settings_groups import ModelSettings

        return ModelSettings.of(self)

    @property
    def detection(self) -> DetectionSettings:
        from pipeline.settings_groups import DetectionSettings

        return DetectionSettings.of(self)

    @property
    def delivery(self) -> DeliverySettings:
        from pipeline.settings_groups import DeliverySettings

        return DeliverySettings.of(self)

    @property
    def console(self) -> ConsoleSettings:
        from pipeline.settings_groups import ConsoleSettings

        return ConsoleSettings.of(self)

    @property
    def approvals(self) -> ApprovalSettings:
        from pipeline.settings_groups import ApprovalSettings

        return ApprovalSettings.of(self)


def make_settings(**overrides: Any) -> Settings:
    """Build settings from the environment with explicit overrides (tests pass values here)."""
    return Settings(**overrides)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment on first use."""
    return make_settings()


__all__ = [
    "DEFAULT_LIMITS",
    "KNOWN_RECEIVERS",
    "RateLimit",
    "Settings",
    "check_address",
    "check_secret",
    "default_cache_dir",
    "get_settings",
    "make_settings",
    "parse_client_tokens",
    "parse_rate_limits",
    "parse_token_list",
]
