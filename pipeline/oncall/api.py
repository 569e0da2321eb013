"""On-call HTTP endpoints on the worker's web port: alerts, silences and acknowledgements.

* ``GET /api/alerts`` -- bearer token; the newest 500 alerts with their delivery receipts, their
  adverse-event evidence withheld as for a receiver not cleared for health data
  (:func:`pipeline.delivery.health_data.redacted_json`): the token is no clearance.

* ``GET/POST /api/silences``, ``DELETE /api/silences/{id}`` -- bearer token like ``/api/alerts``;
  the body is Alertmanager's API v2 silence. Commands go through ``alerts.silences`` (tables can
  only be written from a stream), so a new silence is applied within moments, answered 202.
* ``POST /api/alerts/ack`` -- bearer token; ``{"dedup_key": ..., "action": "acknowledge"}``.
* ``POST /slack/actions`` -- Slack interactivity, signature ``v0`` checked with
  ``TOCSIN_SLACK_SIGNING_SECRET`` (503 without one); the Acknowledge / Resolve buttons.
* ``POST /pagerduty/webhook`` -- PagerDuty v3 webhooks, ``X-PagerDuty-Signature`` checked with
  ``TOCSIN_PAGERDUTY_WEBHOOK_SECRET`` (503 without one).

Refusals say why in a few words and never echo a secret or the request body.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from faust.web import Request, Response, View

from pipeline import safejson, services
from pipeline.app import app
from pipeline.approvals.web import is_approval_action, slack_approval_action
from pipeline.delivery.health_data import redacted_json
from pipeline.oncall.acks import (
    AckRejected,
    parse_pagerduty_event,
    parse_slack_action,
    verify_pagerduty,
    verify_slack,
)
from pipeline.oncall.commands import create_silence, send_ack
from pipeline.oncall.escalation import Ack
from pipeline.oncall.silences import SilenceError, readable_silences
from pipeline.records import SilenceCommand
from pipeline.tables import alert_book, silences
from pipeline.topics import silence_commands
from pipeline.worker.web import authorised

MAX_BODY = 64 * 1024
ACTIONS = ("acknowledge", "resolve")


def _refusal(view: View, request: Request) -> Response | None:
    verdict = authorised(request)
    if verdict is None:
        return view.error(503, "API disabled: set TOCSIN_API_TOKEN")
    if not verdict:
        return view.error(
            401, "missing or invalid bearer token", headers={"WWW-Authenticate": "Bearer"}
        )
    return None


async def _body(request: Request) -> bytes | None:
    """The raw body, or None when it is larger than any legitimate request here."""
    declared = request.headers.get("Content-Length") or "0"
    if not declared.isascii() or not declared.isdigit() or len(declared) > 12:
        return None
    if int(declared) > MAX_BODY:
        return None
    body: bytes = await request.read()
    return body if len(body) <= MAX_BODY else None


async def _json_body(view: View, request: Request) -> tuple[Any, Response | None]:
    """(the body as JSON, None), or (None, the 4xx to send): too large, not JSON, too deep."""
    body = await _body(request)
    if body is None:
        return None, view.error(413, "body too large")
    try:
        return safejson.loads(body), None
    except ValueError as exc:
        return None, view.error(400, f"body is not JSON: {exc}")


@app.page("/api/alerts")
class AlertsView(View):
    async def get(self, request: Request) -> Response:
        refused = _refusal(self, request)
        if refused is not None:
            return refused
        items: list[dict[str, Any]] = [
            {**redacted_json(entry.get("alert", {})), "delivered": entry.get("delivered", {})}
            for entry in alert_book.values()
            if entry.get("alert")
        ]
        items.sort(key=lambda a: str(a.get("updated_at", "")), reverse=True)
        return self.json({"alerts": items[:500]})


@app.page("/api/silences")
class SilencesView(View):
    async def get(self, request: Request) -> Response:
        refused = _refusal(self, request)
        if refused is not None:
            return refused
        now = datetime.now(UTC)
        # A stored silence that does not read back is left out, not a 500 for every listing.
        items = [s.to_dict(now) for s in readable_silences(silences.values(), lambda _p: None)]
        items.sort(key=lambda s: str(s["endsAt"]), reverse=True)
        return self.json({"silences": items})

    async def post(self, request: Request) -> Response:
        refused = _refusal(self, request)
        if refused is not None:
            return refused
        body, bad = await _json_body(self, request)
        if bad is not None:
            return bad
        try:
            silence = await create_silence(body, now=datetime.now(UTC))
        except SilenceError as exc:
            return self.error(400, str(exc))
        return self.json({"silenceID": silence.id}, status=202)


@app.page("/api/silences/{silence_id}")
class SilenceView(View):
    async def delete(self, request: Request, silence_id: str) -> Response:
        refused = _refusal(self, request)
        if refused is not None:
            return refused
        if not silences[silence_id]:
            return self.error(404, "no such silence")
        await silence_commands.send(
            key=silence_id,
            value=SilenceCommand(id=silence_id, action="expire", at=datetime.now(UTC)),
        )
        return self.json({"silenceID": silence_id, "expiring": True}, status=202)


@app.page("/api/alerts/ack")
class AckView(View):
    async def post(self, request: Request) -> Response:
        refused = _refusal(self, request)
        if refused is not None:
            return refused
        body, bad = await _json_body(self, request)
        if bad is not None:
            return bad
        if not isinstance(body, dict):
            return self.error(400, "body: expected a JSON object")
        key, action = body.get("dedup_key"), body.get("action", "acknowledge")
        by = body.get("by", "api")
        if not isinstance(key, str) or not 0 < len(key) <= 255:
            return self.error(400, "dedup_key: required, 1-255 characters")
        if action not in ACTIONS or not isinstance(by, str) or not 0 < len(by) <= 100:
            return self.error(400, f"action: one of {', '.join(ACTIONS)}; by: 1-100 characters")
        await send_ack(Ack(key, datetime.now(UTC), by, "api", action))
        return self.json({"dedup_key": key, "action": action}, status=202)


@app.page("/slack/actions")
class SlackActionsView(View):
    async def post(self, request: Request) -> Response:
        secret = services.settings().slack_signing_secret
        if secret is None:
            return self.error(503, "Slack interactivity disabled: set TOCSIN_SLACK_SIGNING_SECRET")
        body = await _body(request)
        if body is None:
            return self.error(413, "body too large")
        if is_approval_action(body):  # one Slack app, one URL: approval clicks are audited there
            return await slack_approval_action(self, request, body)
        headers = {k.lower(): v for k, v in request.headers.items()}
        try:
            verify_slack(secret, headers, body, now=time.time())
            ack = parse_slack_action(body, now=datetime.now(UTC))
        except AckRejected as exc:
            return self.error(401 if str(exc).startswith("Slack:") else 400, str(exc))
        if ack is not None:
            await send_ack(ack)
        return self.bytes(b"", status=200)


@app.page("/pagerduty/webhook")
class PagerDutyWebhookView(View):
    async def post(self, request: Request) -> Response:
        secret = services.settings().pagerduty_webhook_secret
        if secret is None:
            return self.error(
                503, "PagerDuty webhooks disabled: set TOCSIN_PAGERDUTY_WEBHOOK_SECRET"
            )
        body = await _body(request)
        if body is None:
            return self.error(413, "body too large")
        headers = {k.lower(): v for k, v in request.headers.items()}
        try:
            verify_pagerduty(secret, headers, body)
        except AckRejected as exc:
            return self.error(401, str(exc))
        try:
            ack = parse_pagerduty_event(body, now=datetime.now(UTC))
        except AckRejected as exc:
            return self.error(400, str(exc))
        if ack is not None:
            await send_ack(ack)
        return self.json({"accepted": ack is not None}, status=202)
