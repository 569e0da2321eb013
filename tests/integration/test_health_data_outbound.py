"""No adverse-event text leaves through a receiver that is not cleared for health data.

A real worker (real classifier, real broker) with every receiver configured, each pointed at its
real-HTTP fake (Slack webhook and Web API, PagerDuty, Opsgenie, Teams, Alertmanager, the signed
webhook) or a real SMTP server, plus one named webhook, ``pv-safety``, marked
``health_data_cleared: true`` in the routing file. Three calm hours then an adverse-event surge are
replayed onto ``mentions.raw``; once every receiver has the firing step, every request body each
fake received (every e-mail, decoded) is searched for the surge's mention texts: none at the
uncleared receivers, and they are all at ``pv-safety``, which also got the links.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from urllib.parse import unquote_plus

import pytest

from pipeline.delivery.health_data import WITHHELD
from pipeline.ops.procs import Broker, Worker
from tests.fakes_http import (
    AlertmanagerFake,
    FakeAPI,
    OpsgenieFake,
    PagerDutyFake,
    SlackApiFake,
    SlackWebhookFake,
    TeamsFake,
    WebhookFake,
)
from tests.integration.conftest import consume, produce
from tests.integration.test_delivery_worker import wait_until
from tests.integration.test_receiver_email import Mailbox, smtp_server

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

PD_KEY = "PDhealthDataRoutingKey0123456789"
SLACK_HOOK = "HealthDataSlackHookPath01"
SLACK_BOT = "xoxb-1111-2222-HealthDataBotToken"
GENIE_KEY = "0psg3n1e-health-data-key-0123456789"
TEAMS_SIG = "HealthDataTeamsSig0123456789abcd"
HOOK_SECRET = "health-data-comms-webhook-secret"
PV_SECRET = "health-data-pv-safety-webhook-secret"

#: What patients wrote: the classifier's clear adverse-event cases (English, no accents, so a
#: JSON-escaped body cannot hide a match).
SIDE_EFFECTS = [
    "Two days after my first Glytera injection I broke out in hives and couldn't stop vomiting",
    "Started Glytera on Monday and now I have crushing headaches and my vision keeps blurring",
    "My mother was hospitalised with a swollen throat after her second dose of Glytera",
    "Glytera gave me heart palpitations and dizziness every morning since I began the treatment",
]
CALM = [
    "Brenmoor presents new Cardelio data at the cardiology congress this week",
    "Brenmoor is hiring data engineers in Princeton",
    "Picked up my Respivel refill from the Brenmoor pharmacy program today",
]
UNCLEARED = ("slack", "slack_api", "pagerduty", "opsgenie", "teams", "alertmanager", "webhook")


def mention(i: int, at: datetime, text: str) -> bytes:
    return json.dumps(
        {
            "id": f"ae:{i}",
            "platform": "x",
            "url": f"https://x.example/status/{i}",
            "created_at": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "text": text,
            "author": {"id": f"u{i % 97}", "followers": 100 + i, "kind": "patient"},
            "kind": "post",
        }
    ).encode()


def stream() -> list[bytes]:
    """Three calm hours (a side effect every 4th minute), three minutes of surge, a calm tail."""
    t0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
    out = []
    for minute in range(180):
        text = SIDE_EFFECTS[minute % 4] if minute % 4 == 0 else CALM[minute % 3]
        out.append(mention(minute, t0 + timedelta(minutes=minute, seconds=5), text))
    surge = t0 + timedelta(minutes=180)
    for k in range(120):
        out.append(mention(1000 + k, surge + timedelta(seconds=k * 1.5), SIDE_EFFECTS[k % 4]))
    for minute in range(183, 190):
        out.append(mention(2000 + minute, t0 + timedelta(minutes=minute, seconds=5), CALM[0]))
    return out


def searchable(body: bytes) -> str:
    """A request body as text, JSON unescaped and form fields decoded, so no encoding hides text."""
    raw = body.decode("utf-8", errors="replace")
    forms = [raw, unquote_plus(raw)]
    with contextlib.suppress(ValueError):  # not JSON (a form post): the two forms above do
        forms.append(json.dumps(json.loads(body), ensure_ascii=False))
    return "\n".join(forms)


def mail_text(mailbox: Mailbox) -> list[str]:
    """Every accepted e-mail as its decoded headers and parts (quoted-printable, base64 undone)."""
    out = []
    for seen in mailbox.accepted:
        message = seen.parsed()
        parts = [str(v) for v in message.values()]
        for part in message.walk():
            if part.get_content_maintype() == "text":
                parts.append(str(part.get_content()))
        out.append("\n".join(parts))
    return out


def leaks(bodies: list[str]) -> list[str]:
    """The side-effect texts (their first 40 characters: every receiver cuts from the end) found."""
    return sorted({t[:40] for t in SIDE_EFFECTS for b in bodies if t[:40] in b})


def filed(fake: WebhookFake) -> set[str]:
    """Dedup keys of the case notifications a webhook accepted."""
    return {str(a["dedup_key"]) for a in fake.accepted.values() if "case:" in a["dedup_key"]}


def routing(tmp_path: Path) -> Path:
    path = tmp_path / "routing.yaml"
    receivers = ", ".join([*UNCLEARED, "email", "pv-safety"])
    path.write_text(
        f"""
route:
  receivers: [{receivers}]
  group_wait: 0s
receivers:
  - name: pv-safety
    health_data_cleared: true
    webhook_configs:
      - url_env: TEST_PV_URL
        secret_env: TEST_PV_SECRET
""",
        encoding="utf-8",
    )
    return path


def test_adverse_event_text_reaches_only_the_cleared_receiver(
    broker: Broker, start_worker: Callable[..., Worker], tmp_path: Path
) -> None:
    mailbox = Mailbox()
    with (
        SlackWebhookFake(SLACK_HOOK) as slack,
        SlackApiFake(SLACK_BOT) as slack_api,
        PagerDutyFake(PD_KEY) as pagerduty,
        OpsgenieFake(GENIE_KEY) as opsgenie,
        TeamsFake(TEAMS_SIG) as teams,
        AlertmanagerFake() as alertmanager,
        WebhookFake(HOOK_SECRET.encode()) as hook,
        WebhookFake(PV_SECRET.encode()) as pv,
        smtp_server(mailbox) as smtp_port,
    ):
        fakes: dict[str, FakeAPI] = {
            "slack": slack,
            "slack_api": slack_api,
            "pagerduty": pagerduty,
            "opsgenie": opsgenie,
            "teams": teams,
            "alertmanager": alertmanager,
            "webhook": hook,
        }
        start_worker(
            TOCSIN_BUCKET_SECONDS="60",
            TOCSIN_ALLOWED_LATENESS_S="30",
            TOCSIN_ROUTING_FILE=str(routing(tmp_path)),
            TOCSIN_SLACK_WEBHOOK_URL=slack.webhook_url,
            TOCSIN_SLACK_BOT_TOKEN=SLACK_BOT,
            TOCSIN_SLACK_CHANNEL="C0TOCSIN01",
            TOCSIN_SLACK_API_URL=f"{slack_api.base_url}/api",
            TOCSIN_PAGERDUTY_ROUTING_KEY=PD_KEY,
            TOCSIN_PAGERDUTY_EVENTS_URL=f"{pagerduty.base_url}/v2/enqueue",
            TOCSIN_OPSGENIE_API_KEY=GENIE_KEY,
            TOCSIN_OPSGENIE_API_URL=opsgenie.base_url,
            TOCSIN_TEAMS_WORKFLOW_URL=teams.workflow_url,
            TOCSIN_ALERTMANAGER_URL=alertmanager.base_url,
            TOCSIN_WEBHOOK_URL=f"{hook.base_url}{WebhookFake.PATH}",
            TOCSIN_WEBHOOK_SECRET=HOOK_SECRET,
            TOCSIN_SMTP_HOST="127.0.0.1",
            TOCSIN_SMTP_PORT=str(smtp_port),
            TOCSIN_SMTP_STARTTLS="false",
            TOCSIN_SMTP_FROM="tocsin@alerts.example",
            TOCSIN_EMAIL_TO="comms@brenmoor.example",
            TEST_PV_URL=f"{pv.base_url}{WebhookFake.PATH}",
            TEST_PV_SECRET=PV_SECRET,
        )
        # one raw partition: event order is processing order, as in test_pipeline
        payloads = stream()
        produce(broker.bootstrap, "mentions.raw", payloads, keys=[b"brenmoor"] * len(payloads))

        everyone = {*UNCLEARED, "email", "pv-safety"}

        def delivered() -> set[str]:
            got = consume(broker.bootstrap, "alerts.deliveries", want=1, timeout_s=5)
            return {
                r["receiver"]
                for r in got
                if r["outcome"] == "delivered"
                and r["state"] == "firing"
                and ":adverse_event:" in r["dedup_key"]
            }

        wait_until(lambda: everyone <= delivered(), 240, "the adverse-event page everywhere")
        alerts = consume(broker.bootstrap, "alerts", want=1, timeout_s=30)
        # the same mentions opened pharmacovigilance cases (pipeline/pv), one per mention
        side_effects = sum(1 for p in payloads if any(t.encode() in p for t in SIDE_EFFECTS))
        events = consume(broker.bootstrap, "pv.cases", want=side_effects, timeout_s=120)
        new_cases = {
            f"case:{e['case']['case_id']}"
            for e in events
            if e["kind"] == "open" and e["case"]["status"] == "new"
        }
        wait_until(lambda: new_cases <= filed(pv), 120, "every new case at pv-safety")

    firing = [a for a in alerts if a["state"] == "firing" and a["topic"] == "adverse_event"]
    assert firing, "the surge paged on adverse_event"
    # the alert on the topic (Tocsin's own store) still has the evidence a safety team needs
    assert any(m["text"] in SIDE_EFFECTS for m in firing[0]["top_mentions"])

    bodies: dict[str, list[str]] = {
        name: [searchable(seen.body) for seen in fake.requests] for name, fake in fakes.items()
    }
    bodies["email"] = mail_text(mailbox)
    for name, sent in bodies.items():
        assert sent, f"{name} received nothing"
        assert leaks(sent) == [], f"{name} received adverse-event text"
        if name in fakes:
            assert fakes[name].problems == [], name
    # the ones that quote evidence say it was withheld and link to it
    for name in ("slack", "teams", "webhook", "email"):
        assert any(WITHHELD in b for b in bodies[name]), name
        assert any("https://x.example/status/1" in b for b in bodies[name]), name
    # cases: every side-effect mention classified adverse_event opened one, with its clock
    opened = [e["case"] for e in events if e["kind"] == "open"]
    assert len({c["case_id"] for c in opened}) == len(opened) >= 0.9 * side_effects
    serious = [c for c in opened if c["mention"]["text"] == SIDE_EFFECTS[2]]
    assert serious and all(c["status"] == "new" and c["serious"] for c in serious)
    for case in opened:
        arrived = datetime.fromisoformat(case["received_at"])
        assert abs((arrived - datetime.now(UTC)).total_seconds()) < 600  # arrival, not event time
        if case["due"] is not None:
            days = (date.fromisoformat(case["due"]) - date.fromisoformat(case["day_zero"])).days
            assert days == (15 if case["serious"] else 90)
    # new valid cases went to the safety receiver alone, one request per case, text included
    assert new_cases and new_cases <= filed(pv)
    for name, sent in bodies.items():
        assert not any("case:case-" in b for b in sent), f"{name} received a case"
    # the cleared receiver got the texts
    cleared = [searchable(seen.body) for seen in pv.requests]
    assert leaks(cleared) != [] and not any(WITHHELD in b for b in cleared)
    assert pv.problems == []
