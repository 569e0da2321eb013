"""The comms console end to end: real Kafka, a real worker, headless Chromium, Slack and PagerDuty fakes.

One broker and one worker for the module (the CPU is scarce). The story: 48 hours of one
series' buckets and its detector readings are on the topics with an alert; a responder signs in
and opens the inbox; a second alert is produced and appears in the open inbox without a reload;
the detail page draws the series against its band; the responder acknowledges on the page and the
acknowledgement reaches Slack (message updated) and PagerDuty (incident acknowledged); a silence
is set. axe-core checks every page. A responder starts a draft response from an alert's page.
Then every page and action is tried anonymously, with a forged session, with the wrong role and
with forged CSRF tokens over HTTP: all refused.
Screenshots at 375 px and 1280 px go to the module's tmp folder (printed with ``-s``).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from kafka import KafkaProducer
from playwright.sync_api import Browser, Page, sync_playwright
from pydantic import SecretStr

from pipeline.approvals.session import bearer_session_id
from pipeline.approvals.tokens import LinkSigner
from pipeline.console import assets
from pipeline.ops.procs import Broker, Worker, free_port
from pipeline.ops.topics import ensure_topics
from tests.e2e.approvals_harness import (
    BOT_TOKEN,
    CHANNEL,
    LINK_SECRET,
    PEOPLE,
    PUBLISH_SECRET,
    Stack,
    produce_json,
    wait_for,
    worker_env,
)
from tests.fakes_http import PagerDutyFake, SlackApiFake
from tests.fakes_publish import PublishWebhookFake
from tests.unit.console.records import alert, bucket, mention, signal

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

PD_KEY = "e2econsole0123456789abcdef012345"
API = "e2e-console-api-token-5c1d"
VIEWPORTS = {"phone": (375, 812), "desktop": (1280, 900)}
START = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=40)
START = START - timedelta(minutes=START.minute % 5)
SURGE_START = START + timedelta(minutes=10)
FIRST = alert("valmoreau:boycott:first", topic="boycott", severity="warning", started=START)
SURGE = alert(f"valmoreau:pricing:{SURGE_START:%Y%m%dT%H%MZ}", started=SURGE_START)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Stack, PagerDutyFake]]:
    model_dir = _model_dir()
    tmp = tmp_path_factory.mktemp("console")
    broker = Broker(port=free_port(), data_dir=tmp / "kafka")
    broker.start()
    try:
        ensure_topics(broker.bootstrap)
        with (
            SlackApiFake(BOT_TOKEN, channels=(CHANNEL,)) as slack,
            PublishWebhookFake(PUBLISH_SECRET) as publisher,
            PagerDutyFake(PD_KEY) as pagerduty,
        ):
            port = free_port()
            env = {
                **worker_env(model_dir, tmp, slack, publisher, port),
                "TOCSIN_PAGERDUTY_ROUTING_KEY": PD_KEY,
                "TOCSIN_PAGERDUTY_EVENTS_URL": f"{pagerduty.base_url}/v2/enqueue",
                "TOCSIN_API_TOKEN": API,
                # Every refusal audited one by one and none slowed: the security test makes
                # dozens in a minute and looks each reason up in the audit topic.
                "TOCSIN_REFUSALS_AUDITED_EACH": "1000",
                "TOCSIN_AUTH_SLOW_AFTER": "1000",
            }
            worker = Worker(
                bootstrap=broker.bootstrap, data_dir=tmp / "worker0", web_port=port, env=env
            )
            worker.start(loglevel="info")
            running = Stack(broker.bootstrap, worker, slack, publisher, tmp, env)
            try:
                worker.wait_ready(timeout_s=180)
                _seed(broker.bootstrap)
                yield running, pagerduty
            finally:
                running.worker.stop()
    finally:
        broker.stop()


def _model_dir() -> Path:
    given = os.environ.get("TOCSIN_TEST_MODEL_DIR")
    if given:
        return Path(given)
    from models.build import build_artefacts

    return build_artefacts(progress=lambda _msg: None)


def _seed(bootstrap: str) -> None:
    """48 h of the pricing series (quiet, then the surge) and the first alert."""
    first = SURGE_START - timedelta(hours=46)
    for i in range(0, 48 * 12, 1):
        at = first + timedelta(minutes=5 * i)
        if at > SURGE_START + timedelta(minutes=20):
            break
        observed = 42.0 if at == SURGE_START else float(2 + (i % 4))
        produce_json(bootstrap, "signals", "valmoreau|pricing", signal(at, observed))
        if at >= SURGE_START - timedelta(hours=1):
            produce_json(
                bootstrap, "mentions.buckets", "valmoreau|pricing", bucket(at, int(observed))
            )
    produce_json(
        bootstrap,
        "mentions.classified",
        "valmoreau",
        mention("x:9001", "Zentavo price up 40%?! This is outrageous", at=SURGE_START),
    )
    produce_json(bootstrap, "alerts", FIRST["dedup_key"], FIRST)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


def sign_in(page: Page, base: str, user: str) -> None:
    page.goto(f"{base}/console")
    assert "/approvals/login" in page.url, "an anonymous visit must land on the login form"
    page.get_by_label("Your personal access token").fill(PEOPLE[user][0])
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base}/console")


def no_horizontal_scroll(page: Page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    viewport = page.evaluate("window.innerWidth")
    assert width <= viewport, f"page scrolls sideways: {width}px content in {viewport}px"


def axe_problems(page: Page) -> list[str]:
    """Serious and critical axe-core violations on the page (axe from the npm cache)."""
    root = assets.node_modules()
    assert root is not None and (root / "axe-core" / "axe.min.js").is_file(), (
        "axe-core missing: run deploy/console/fetch-assets.sh"
    )
    page.evaluate((root / "axe-core" / "axe.min.js").read_text())
    result: dict[str, Any] = page.evaluate("axe.run(document)")
    return [
        f"{v['id']} ({v['impact']}): {[n['target'] for n in v['nodes']][:3]}"
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def shots(tmp: Path, page: Page, name: str, label: str) -> Path:
    path = tmp / f"console-{name}-{label}.png"
    page.screenshot(path=str(path), full_page=True)
    print(f"screenshot: {path}")
    return path


def test_new_alert_appears_live_then_acknowledged_from_the_detail(
    stack: tuple[Stack, PagerDutyFake], browser: Browser
) -> None:
    running, pagerduty = stack
    base = running.url
    context = browser.new_context(viewport={"width": 375, "height": 812})
    page = context.new_page()
    problems: list[str] = []  # script errors and CSP refusals: none is acceptable
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on(
        "console",
        lambda m: (
            problems.append(f"{m.text} {m.location.get('url')}")
            # the approvals' login page has no icon, so Chromium asks for /favicon.ico (404)
            if m.type == "error" and not str(m.location.get("url")).endswith("/favicon.ico")
            else None
        ),
    )
    page.on(
        "response", lambda r: problems.append(f"{r.status} {r.url}") if r.status >= 400 else None
    )
    sign_in(page, base, "c.moreau")
    page.get_by_role("link", name="valmoreau · boycott").wait_for(timeout=30_000)
    assert page.get_by_role("link", name="valmoreau · pricing").count() == 0

    # The surge's alert is produced while the inbox is open: it appears without a reload.
    page.evaluate("window.__notReloaded = true")
    produced = time.monotonic()
    produce_json(running.bootstrap, "alerts", SURGE["dedup_key"], SURGE)
    page.get_by_role("link", name="valmoreau · pricing").wait_for(timeout=15_000)
    seen_after = time.monotonic() - produced
    print(f"new alert in the open inbox {seen_after:.2f} s after it was produced")
    assert page.evaluate("window.__notReloaded") is True, "the page was reloaded"
    assert seen_after < 5.0, "the inbox polls every second"
    assert "1 new alert" in page.locator("#live").inner_text()
    names = page.locator("#inbox a.title").all_inner_texts()
    assert names == ["valmoreau · pricing", "valmoreau · boycott"], "newest first"

    for label, (width, height) in VIEWPORTS.items():
        page.set_viewport_size({"width": width, "height": height})
        no_horizontal_scroll(page)
        shots(running.tmp, page, "inbox", label)
    assert axe_problems(page) == []

    # The detail: the series drawn against its band, with its text alternative.
    page.get_by_role("link", name="valmoreau · pricing").click()
    page.wait_for_load_state("load")
    assert problems == []
    page.wait_for_selector("#chart[data-drawn='true']", timeout=15_000)
    caption = page.locator("#chart-caption").inner_text()
    assert "Highest: 42 at" in caption and "1 bucket(s) above the band" in caption
    assert page.locator("#chart canvas").count() == 1
    for label, (width, height) in VIEWPORTS.items():
        page.set_viewport_size({"width": width, "height": height})
        page.wait_for_timeout(200)
        no_horizontal_scroll(page)
        shots(running.tmp, page, "alert", label)
    assert axe_problems(page) == []

    # Acknowledge on the page: the step comes back through the stream, Slack and PagerDuty hear it.
    wait_for(lambda: pagerduty.incidents, timeout_s=60, what="the PagerDuty incident")
    page.get_by_role("button", name="Acknowledge").click()
    page.wait_for_url("**done=acknowledge")
    assert "Acknowledgement sent" in page.locator(".banner").inner_text()

    def acknowledged() -> bool:
        page.reload()
        return page.locator("#state").inner_text() == "Acknowledged"

    wait_for(acknowledged, timeout_s=60, every_s=1.0, what="the acknowledged step on the page")
    assert "acknowledged by c.moreau" in page.locator("#steps").inner_text()
    incident = next(i for i in pagerduty.incidents if i["dedup_key"] == SURGE["dedup_key"])
    wait_for(lambda: incident["status"] == "acknowledged", timeout_s=30, what="PagerDuty ack")
    wait_for(
        lambda: any(m["updates"] >= 1 for m in running.slack.messages.values()),
        timeout_s=30,
        what="the Slack message updated",
    )

    # A silence for the brand x topic, chosen on the page.
    page.get_by_label("Silence valmoreau · pricing for").select_option("4")
    page.get_by_role("button", name="Silence").click()
    page.wait_for_url("**done=silence")
    with httpx.Client(base_url=base, timeout=30, headers={"Authorization": f"Bearer {API}"}) as c:

        def silenced() -> list[dict[str, Any]]:
            return [
                s for s in c.get("/api/silences").json()["silences"] if s["createdBy"] == "c.moreau"
            ]

        found = wait_for(silenced, timeout_s=30, what="the silence in the silences table")
    assert {(m["name"], m["value"]) for m in found[0]["matchers"]} == {
        ("brand", "valmoreau"),
        ("topic", "pricing"),
    }
    ends = datetime.fromisoformat(found[0]["endsAt"].replace("Z", "+00:00"))
    assert timedelta(hours=3, minutes=58) < ends - datetime.now(UTC) <= timedelta(hours=4)
    shots(running.tmp, page, "alert-silenced", "desktop")

    # The silence mutes the next pricing page; a boycott page after it on the same partition
    # still goes out, which shows the muted one was dispatched (and muted), not just late.
    muted = alert("valmoreau:pricing:muted", started=SURGE_START + timedelta(minutes=30))
    control = alert("valmoreau:boycott:control", topic="boycott", started=SURGE_START)
    producer = KafkaProducer(bootstrap_servers=running.bootstrap, acks="all")
    try:
        for value in (muted, control):
            raw = json.dumps(value).encode()
            producer.send("alerts", key=value["dedup_key"].encode(), value=raw, partition=0)
        producer.flush(timeout=30)
    finally:
        producer.close(timeout=10)
    wait_for(
        lambda: any(i["dedup_key"] == control["dedup_key"] for i in pagerduty.incidents),
        timeout_s=60,
        what="the control page at PagerDuty",
    )
    time.sleep(3)  # deliveries run side by side: give an unmuted page time to land too
    assert not any(i["dedup_key"] == muted["dedup_key"] for i in pagerduty.incidents)

    # The brands overview: a sparkline per brand x topic with its score and text alternative.
    page.goto(f"{base}/console/brands")
    page.wait_for_selector(".spark[data-drawn='true']", timeout=15_000)
    assert "valmoreau · pricing" in page.locator("#sparks li").first.inner_text()
    assert "above its band today" in page.locator("#sparks li").first.inner_text()
    for label, (width, height) in VIEWPORTS.items():
        page.set_viewport_size({"width": width, "height": height})
        page.wait_for_timeout(200)
        no_horizontal_scroll(page)
        shots(running.tmp, page, "brands", label)
    assert axe_problems(page) == []

    # Search finds the seeded mention; the screenshot shows the results.
    page.goto(f"{base}/console/search?text=zentavo")
    assert "Zentavo price up 40%" in page.locator("#results").inner_text()
    no_horizontal_scroll(page)
    assert axe_problems(page) == []
    page.set_viewport_size({"width": 375, "height": 812})
    no_horizontal_scroll(page)
    shots(running.tmp, page, "search", "phone")
    assert problems == []
    context.close()


def test_start_a_draft_response_from_the_detail_page(
    stack: tuple[Stack, PagerDutyFake], browser: Browser
) -> None:
    """A responder picks a statement on the alert's page: the state machine creates the draft
    with the responder as its author (audited), the approval page opens on it, and the alert's
    page links to it; starting it again opens the same draft."""
    running, _ = stack
    base = running.url
    # A scandal: the library offers its own statement (drafted automatically as the alert
    # fires) and the general holding statement, which the responder starts by hand.
    scandal = alert("valmoreau:scandal:draft", topic="scandal", severity="warning", started=START)
    key = scandal["dedup_key"]
    produce_json(running.bootstrap, "alerts", key, scandal)
    context = browser.new_context(viewport={"width": 375, "height": 812})
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda e: problems.append(str(e)))
    sign_in(page, base, "c.moreau")
    detail = f"{base}/console/alerts/{quote(key, safe='')}"

    def offered() -> bool:
        page.goto(detail)
        return page.get_by_role("button", name="Start a draft response").count() == 1

    wait_for(offered, timeout_s=60, every_s=1.0, what="the draft form on the alert's page")
    choice = page.get_by_label("Statement from the library")
    wait_for(
        lambda: "other.holding.en" in choice.inner_text(),
        timeout_s=30,
        what="the holding statement among the offers",
    )
    no_horizontal_scroll(page)
    assert axe_problems(page) == []
    shots(running.tmp, page, "alert-draft-form", "phone")
    choice.select_option("other.holding.en")
    page.get_by_role("button", name="Start a draft response").click()
    page.wait_for_url(f"{base}/approvals/d*")
    draft_id = page.url.rsplit("/", 1)[-1]
    meta = page.locator("p.meta").first.inner_text()
    assert draft_id in meta and "awaiting approval" in meta
    assert "Template other.holding.en" in page.content()

    created = wait_for(
        lambda: [
            e
            for e in _audit(running.bootstrap)
            if e.get("draft_id") == draft_id and e.get("action") == "draft_created"
        ],
        timeout_s=30,
        what="the draft_created audit entry",
    )
    assert [(e["actor"], e["outcome"], e["channel"]) for e in created] == [
        ("c.moreau", "ok", "web")
    ]

    def linked() -> bool:
        page.goto(detail)
        return page.locator(f"a[href='/approvals/{draft_id}']").count() == 1

    wait_for(linked, timeout_s=30, every_s=1.0, what="the draft linked from the alert's page")

    def both() -> bool:  # the automatic draft too; then nothing is left to start
        page.goto(detail)
        return page.locator("ul.drafts a").count() == 2

    wait_for(both, timeout_s=30, every_s=1.0, what="both drafts linked")
    assert page.get_by_role("button", name="Start a draft response").count() == 0
    assert "Every statement the library offers for this alert has a draft" in page.content()
    # Asked for again (a second tab, a double click): the same draft opens, nothing new is made.
    with _client(base, "c.moreau") as responder:
        r = responder.post(
            f"/console/alerts/{quote(key, safe='')}/draft",
            data={"template": "other.holding.en", "csrf": _csrf("c.moreau", key)},
        )
        assert r.status_code == 303 and r.headers["location"] == f"/approvals/{draft_id}"
        r = responder.post(
            f"/console/alerts/{quote(key, safe='')}/draft",
            data={"template": "no.such.template", "csrf": _csrf("c.moreau", key)},
        )
        assert r.status_code == 400
    assert problems == []
    context.close()


# -- security ------------------------------------------------------------------------------------
def _csrf(user: str, key: str) -> str:
    signer = LinkSigner(SecretStr(LINK_SECRET))
    return signer.csrf_token(
        session_id=bearer_session_id(PEOPLE[user][0]), draft_id=f"console:{key}"
    )


def _client(base: str, user: str | None = None, **headers: str) -> httpx.Client:
    if user is not None:
        headers["Authorization"] = f"Bearer {PEOPLE[user][0]}"
    return httpx.Client(base_url=base, headers=headers, timeout=30, follow_redirects=False)


PAGES = (
    "/console",
    "/console/brands",
    "/console/inbox.json",
    "/console/search?text=zentavo",
    f"/console/alerts/{quote(FIRST['dedup_key'], safe='')}",
)
KEY = FIRST["dedup_key"]
ACTIONS = (
    (f"/console/alerts/{quote(KEY, safe='')}/ack", {"action": "acknowledge"}),
    (f"/console/alerts/{quote(KEY, safe='')}/ack", {"action": "resolve"}),
    (f"/console/alerts/{quote(KEY, safe='')}/silence", {"hours": "1"}),
    (f"/console/alerts/{quote(KEY, safe='')}/draft", {"template": "boycott.listen.en"}),
)


def test_every_page_and_action_refuses_the_anonymous_forged_and_unauthorised(
    stack: tuple[Stack, PagerDutyFake],
) -> None:
    running, _ = stack
    base = running.url
    with _client(base, "h.dubois") as viewer:
        wait_for(
            lambda: viewer.get(PAGES[3]).status_code == 200, timeout_s=30, what="the first alert"
        )
        for path in PAGES:
            assert viewer.get(path).status_code == 200, path  # a viewer may look

    with _client(base) as anonymous:
        for path in PAGES:
            r = anonymous.get(path)
            assert r.status_code == 303 and "/approvals/login" in r.headers["location"], path
        for path, form in ACTIONS:
            assert anonymous.post(path, data={**form, "csrf": "x"}).status_code == 401, path

    forged = f"c.moreau.{'A' * 24}.{int(time.time()) + 3600}.{'0' * 64}"
    with _client(base, Cookie=f"tocsin_session={forged}") as cookie:
        for path in PAGES:
            assert cookie.get(path).status_code == 401, path
        for path, form in ACTIONS:
            assert cookie.post(path, data={**form, "csrf": "x"}).status_code == 401, path

    with _client(base, "h.dubois") as viewer:  # the right CSRF token, the wrong role
        for path, form in ACTIONS:
            r = viewer.post(path, data={**form, "csrf": _csrf("h.dubois", KEY)})
            assert r.status_code == 403 and "wrong_role" in r.text, path

    with _client(base, "e.lindqvist") as executive:  # may acknowledge, may not write a draft
        r = executive.post(ACTIONS[3][0], data={**ACTIONS[3][1], "csrf": _csrf("e.lindqvist", KEY)})
        assert r.status_code == 403 and "wrong_role" in r.text

    with _client(base, "c.moreau") as responder:
        for path, form in ACTIONS:
            for token in (
                "",
                "forged",
                _csrf("c.moreau", SURGE["dedup_key"]),
                _csrf("x.dual", KEY),
            ):
                r = responder.post(path, data={**form, "csrf": token})
                assert r.status_code == 403 and "csrf_" in r.text, (path, token)
        # Nothing above changed the alert; the right token does.
        r = responder.post(ACTIONS[0][0], data={**ACTIONS[0][1], "csrf": _csrf("c.moreau", KEY)})
        assert r.status_code == 303

        # Search input is data: an injection attempt finds nothing and breaks nothing.
        for attack in ("x'; DROP TABLE mentions; --", '" OR 1=1 --', "NEAR(a b)", "\x00"):
            r = responder.get("/console/search", params={"text": attack, "brand": attack})
            assert r.status_code == 200 and 'id="results"' in r.text
        r = responder.get("/console/search", params={"text": "zentavo"})
        assert "Zentavo price up 40%" in r.text
        r = responder.get("/console/search", params={"since": "yesterday"})
        assert r.status_code == 400 and "from: expected a date" in r.text

    audit = json.dumps(_audit(running.bootstrap))
    for reason in ("no_session", "bad_session", "wrong_role", "csrf_missing", "csrf_mismatch"):
        assert reason in audit, f"{reason} refusals are audited"


def _audit(bootstrap: str) -> list[dict[str, Any]]:
    from tests.e2e.approvals_harness import audit_entries

    return audit_entries(bootstrap)
