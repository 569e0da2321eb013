"""``tocsin notify test``: one synthetic alert through the real delivery path to one receiver.

An operator wiring PagerDuty or Slack wants to know *now* that a page arrives, not at the first
crisis. This command builds the receiver exactly as the worker does (``build_receivers`` over the
worker's outbound client, same ``TOCSIN_*`` settings, same timeout), and sends each step with
:func:`pipeline.delivery.deliver`, the retry policy ``dispatch_alerts`` reads from the settings and
the idempotency key ``dispatch_alerts`` computes -- so backoff, ``Retry-After`` and the receiver's
error classification are the ones a real alert meets. What it does not exercise is Kafka: no alert
goes through ``alerts``, no receipt lands on ``alerts.deliveries``.

The alert is marked as a test everywhere a person looks (brand ``tocsin-test``, summary "Tocsin
test notification") and has a dedup key of its own per run (``tocsin-test:<random>``), so it can
never land on, or resolve, a real incident. The resolved step follows by default, so a pager test
leaves no open incident; it is sent even when the firing step failed, because a trigger the
service acted on before the error (a timeout after processing) would otherwise stay open.

Printed lines never carry a secret: receivers already keep URLs out of their errors, and every
secret setting is masked once more before printing (an API's error body could echo one).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import click
from pydantic import ValidationError

from pipeline.delivery.receivers.named import load_named_receivers
from pipeline.delivery.redaction import redact, secrets_of
from pipeline.errors import ConfigError, TocsinError
from pipeline.oncall.routing import RoutingTree, load_routing
from pipeline.records import SEVERITIES, Alert
from pipeline.settings import Settings, make_settings

TEST_BRAND = "tocsin-test"
TEST_TOPIC = "test"
TEST_SUMMARY = "Tocsin test notification"
EXIT_DELIVERED, EXIT_FAILED, EXIT_CONFIG = 0, 1, 2


class ConfigProblem(TocsinError, click.ClickException):
    """The settings, the routing file or the receiver name are wrong: nothing was sent."""

    exit_code = EXIT_CONFIG


@dataclass(frozen=True)
class StepResult:
    """What happened to one step: the last attempt's status and error, all attempts' time."""

    receiver: str
    step: str
    delivered: bool
    status: int | None
    attempts: int
    latency_ms: float
    error: str | None


def synthetic_alert(state: str, dedup_key: str, severity: str, started_at: datetime) -> Alert:
    """A synthetic alert step that says it is a test wherever a receiver shows it."""
    return Alert(
        dedup_key=dedup_key,
        state=state,
        severity=severity,
        brand=TEST_BRAND,
        topic=TEST_TOPIC,
        started_at=started_at,
        updated_at=datetime.now(UTC),
        observed=0.0,
        expected=0.0,
        score=0.0,
        summary=TEST_SUMMARY,
        why={"test": True, "sent_by": "tocsin notify test"},
        top_mentions=None,
    )


def new_dedup_key() -> str:
    """Unique per run (never a brand/topic/window key), the same for every step and retry."""
    return f"{TEST_BRAND}:{uuid.uuid4().hex}"


def routed_receivers(tree: RoutingTree) -> set[str]:
    """Receivers the tree can page: its routes' and its escalation levels'."""
    names = tree.receiver_names()
    for policy in tree.escalation_policies.values():
        for level in policy.levels:
            names.update(level.receivers)
    return names


def check_receiver(name: str, configured: list[str], routing: Path | None) -> None:
    """Refuse a receiver that is not configured, or that ``routing`` can never send to.

    The routing file is loaded as the worker loads it (receiver names checked against the
    configured ones), so a file the worker would refuse is refused here too. The console is always
    routed (``dispatch_alerts`` never filters it out).
    """
    if name not in configured:
        raise ConfigProblem(
            f"unknown receiver {name!r}; configured: {', '.join(configured)} "
            "(receivers are configured with TOCSIN_* settings, see docs/delivery-and-oncall.md)"
        )
    if routing is None or name == "console":
        return
    try:
        tree = load_routing(routing, known_receivers=configured)
    except ConfigError as exc:
        raise ConfigProblem(str(exc)) from None
    routed = routed_receivers(tree)
    if name not in routed:
        raise ConfigProblem(
            f"receiver {name!r} is configured but no route or escalation level of {routing} "
            f"sends to it; routed: {', '.join(sorted(routed)) or '(none)'}"
        )


async def send_test(
    settings: Settings,
    name: str,
    *,
    dedup_key: str,
    steps: tuple[str, ...],
    severity: str,
    routing: Path | None = None,
    on_ready: Callable[[], None] = lambda: None,
    on_step: Callable[[StepResult], None] = lambda result: None,
) -> list[StepResult]:
    """Send ``steps`` of one test alert to receiver ``name`` as ``dispatch_alerts`` would.

    Raises :class:`ConfigProblem` before sending anything when ``name`` does not check out;
    ``on_ready`` runs once the receiver checked out, ``on_step`` after each step.
    """
    from pipeline import services
    from pipeline.delivery.receivers import build_receivers, make_http_client
    from pipeline.delivery.retry import deliver
    from pipeline.oncall.dispatch import idempotency_key, retry_policy

    with services.overridden(settings=settings):
        policy = retry_policy()
    client = make_http_client(settings)
    try:
        receivers = build_receivers(settings, client)
        check_receiver(name, [r.name for r in receivers], routing)
        receiver = next(r for r in receivers if r.name == name)
        await receiver.setup()
        on_ready()
        try:
            started = datetime.now(UTC)
            results: list[StepResult] = []
            for step in steps:
                alert = synthetic_alert(step, dedup_key, severity, started)
                seen: list[tuple[int, int | None, str | None]] = []

                async def on_attempt(
                    attempt: int,
                    outcome: str,
                    status: int | None,
                    error: str | None,
                    seen: list[tuple[int, int | None, str | None]] = seen,
                ) -> None:
                    seen.append((attempt, status, error))

                began = time.perf_counter()
                ok = await deliver(
                    receiver,
                    alert,
                    idempotency_key=idempotency_key(alert, receiver),
                    policy=policy,
                    on_attempt=on_attempt,
                )
                elapsed_ms = (time.perf_counter() - began) * 1000
                attempts, status, error = seen[-1] if seen else (0, None, None)
                result = StepResult(
                    name, step, ok, status, attempts, elapsed_ms, None if ok else error
                )
                on_step(result)
                results.append(result)
            return results
        finally:
            await receiver.close()
    finally:
        await client.aclose()


def format_result(result: StepResult, secrets: Iterable[str]) -> str:
    """One line per step: receiver, step, outcome, status, attempts, latency (and the error)."""
    line = (
        f"{result.receiver:<12} {result.step:<9} "
        f"{'delivered' if result.delivered else 'failed':<9} "
        f"status={result.status if result.status is not None else '-':<4} "
        f"attempts={result.attempts} latency_ms={result.latency_ms:.0f}"
    )
    if result.error:
        line += f" error={redact(result.error, secrets)}"
    return line


@click.group("notify")
def notify() -> None:
    """Check alert delivery to the configured receivers."""


@notify.command("test")
@click.option(
    "--receiver",
    "name",
    required=True,
    metavar="NAME",
    help="receiver to test: console, slack, slack_api, pagerduty, opsgenie, teams, "
    "alertmanager, webhook or email (configured with TOCSIN_* settings), or a named receiver "
    "of TOCSIN_ROUTING_FILE",
)
@click.option(
    "--config",
    "routing",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="routing YAML (e.g. the worker's TOCSIN_ROUTING_FILE) to check NAME against: the file "
    "must load as the worker loads it and a route or escalation level must send to NAME; "
    "receivers themselves come from the TOCSIN_* environment and TOCSIN_ROUTING_FILE",
)
@click.option(
    "--resolve/--no-resolve",
    default=True,
    show_default=True,
    help="send the resolved step after the firing one, so no incident stays open",
)
@click.option(
    "--severity",
    type=click.Choice(SEVERITIES),
    default="critical",
    show_default=True,
    help="severity of the test alert (critical pages like a real incident)",
)
def notify_test(name: str, routing: Path | None, resolve: bool, severity: str) -> None:
    """Send a synthetic test alert to one receiver through the real delivery path.

    Same receivers, HTTP client, timeout (TOCSIN_HTTP_TIMEOUT_S), retries and backoff
    (TOCSIN_DELIVERY_ATTEMPTS, TOCSIN_DELIVERY_BACKOFF_S, TOCSIN_DELIVERY_BACKOFF_MAX_S) and
    idempotency keys as the worker; Kafka is not involved. The alert is brand "tocsin-test" with a
    dedup key of its own, so it never touches a real incident. Prints one line per step (status,
    attempts, latency). Exit 0 when every step was delivered, 1 when one failed, 2 for a
    configuration error (nothing sent).
    """
    try:
        settings = make_settings()
    except ValidationError as exc:  # input values are hidden (hide_input_in_errors)
        raise ConfigProblem(f"invalid TOCSIN_* settings:\n{exc}") from None
    steps = ("firing", "resolved") if resolve else ("firing",)
    dedup_key = new_dedup_key()
    try:
        named = load_named_receivers(settings.routing_file) if settings.routing_file else []
    except ConfigError as exc:
        raise ConfigProblem(str(exc)) from None
    secrets = secrets_of(settings, [secret for n in named for secret in n.secrets])
    results = asyncio.run(
        send_test(
            settings,
            name,
            dedup_key=dedup_key,
            steps=steps,
            severity=severity,
            routing=routing,
            on_ready=lambda: click.echo(f"test alert {dedup_key} ({severity}) to {name}:"),
            on_step=lambda result: click.echo(format_result(result, secrets)),
        )
    )
    raise SystemExit(EXIT_DELIVERED if all(r.delivered for r in results) else EXIT_FAILED)
