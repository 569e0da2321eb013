"""Named receivers on a real broker: two Slack webhooks and two e-mail servers, routed by the file.

The routing file declares ``slack-fr`` and ``slack-quillon`` (incoming webhooks, their URLs given
by an environment variable and by a file) and ``mail-fr`` and ``mail-quillon`` (two SMTP servers).
French-language alerts go to the French pair, the brand quillon's alerts to the quillon pair. A
real worker dispatches one alert of each kind, produced straight onto ``alerts``; each fake
server must see exactly its own alert, and the receipts must name the receivers as declared.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from pipeline.ops.procs import Broker, Worker
from tests.fakes_http import SlackWebhookFake
from tests.integration.conftest import consume, produce
from tests.integration.test_delivery_worker import wait_until
from tests.integration.test_receiver_email import Mailbox, smtp_server

pytestmark = pytest.mark.integration

FR_TOKEN = "FrenchHookS3cretPath0001"
QUILLON_TOKEN = "QuillonHookS3cretPath002"


def alert_payload(key: str, brand: str, language: str) -> bytes:
    now = datetime.now(UTC)
    return json.dumps(
        {
            "dedup_key": key,
            "state": "firing",
            "severity": "warning",
            "brand": brand,
            "topic": "pricing",
            "started_at": (now - timedelta(minutes=5)).isoformat(),
            "updated_at": now.isoformat(),
            "observed": 42.0,
            "expected": 3.0,
            "score": 0.9999,
            "summary": f"42 pricing mentions of {brand} in 5 min, expected about 3",
            "why": {"bucket_start": (now - timedelta(minutes=5)).isoformat(), "language": language},
            "top_mentions": [{"id": "x:1", "text": "price tripled", "url": "https://x.example/1"}],
            "__faust": {"ns": "pipeline.records.Alert"},
        }
    ).encode()


def routing_file(tmp_path: Path, quillon_hook: str, fr_port: int, quillon_port: int) -> Path:
    (tmp_path / "quillon-hook.txt").write_text(quillon_hook + "\n", encoding="utf-8")
    path = tmp_path / "routing.yaml"
    path.write_text(
        f"""
route:
  receiver: console
  group_wait: 0s
  routes:
    - match: {{language: fr}}
      receivers: [slack-fr, mail-fr]
    - match: {{brand: quillon}}
      receivers: [slack-quillon, mail-quillon]
receivers:
  - name: slack-fr
    slack_configs:
      - api_url_env: TEST_SLACK_FR_URL
  - name: slack-quillon
    slack_configs:
      - api_url_file: quillon-hook.txt
  - name: mail-fr
    email_configs:
      - to: [presse@brenmoor.example]
        from: tocsin@alerts.example
        smarthost: 127.0.0.1:{fr_port}
        starttls: false
  - name: mail-quillon
    email_configs:
      - to: [comms@quillon.example, oncall@quillon.example]
        from: tocsin@alerts.example
        smarthost: 127.0.0.1:{quillon_port}
        starttls: false
""",
        encoding="utf-8",
    )
    return path


def test_two_slack_and_two_email_receivers_each_get_only_their_alerts(
    broker: Broker, start_worker: Callable[..., Worker], tmp_path: Path
) -> None:
    fr_mail, quillon_mail = Mailbox(), Mailbox()
    with (
        SlackWebhookFake(FR_TOKEN) as slack_fr,
        SlackWebhookFake(QUILLON_TOKEN) as slack_quillon,
        smtp_server(fr_mail) as fr_port,
        smtp_server(quillon_mail) as quillon_port,
    ):
        path = routing_file(tmp_path, slack_quillon.webhook_url, fr_port, quillon_port)
        start_worker(TOCSIN_ROUTING_FILE=str(path), TEST_SLACK_FR_URL=slack_fr.webhook_url)
        fr_key = "brenmoor:pricing:20261122T1600Z"
        quillon_key = "quillon:pricing:20261122T1600Z"
        produce(
            broker.bootstrap,
            "alerts",
            [alert_payload(fr_key, "brenmoor", "fr"), alert_payload(quillon_key, "quillon", "en")],
            keys=[fr_key.encode(), quillon_key.encode()],
        )
        wait_until(
            lambda: (
                len(slack_fr.messages) >= 1
                and len(slack_quillon.messages) >= 1
                and len(fr_mail.accepted) >= 1
                and len(quillon_mail.accepted) >= 1
            ),
            120,
            "every receiver to get its alert",
        )
        receipts = consume(broker.bootstrap, "alerts.deliveries", want=6, timeout_s=60, settle_s=3)

    # each Slack webhook saw exactly its own alert
    assert [fr_key in json.dumps(m) for m in slack_fr.messages] == [True]
    assert [quillon_key in json.dumps(m) for m in slack_quillon.messages] == [True]
    assert slack_fr.problems == [] and slack_quillon.problems == []
    # each SMTP server got one mail, for its own alert and its own recipients
    [fr_seen] = fr_mail.accepted
    [quillon_seen] = quillon_mail.accepted
    assert fr_seen.rcpt_tos == ["presse@brenmoor.example"]
    assert "brenmoor" in str(fr_seen.parsed()["Subject"])
    assert sorted(quillon_seen.rcpt_tos) == ["comms@quillon.example", "oncall@quillon.example"]
    assert "quillon" in str(quillon_seen.parsed()["Subject"])
    # the receipts name the receivers as the routing file declares them
    delivered = sorted(
        (r["receiver"], r["dedup_key"]) for r in receipts if r["outcome"] == "delivered"
    )
    assert delivered == sorted(
        [
            ("console", fr_key),
            ("console", quillon_key),
            ("mail-fr", fr_key),
            ("mail-quillon", quillon_key),
            ("slack-fr", fr_key),
            ("slack-quillon", quillon_key),
        ]
    )
