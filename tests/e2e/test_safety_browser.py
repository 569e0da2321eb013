"""The safety queue end to end: real Kafka, a real worker, headless Chromium, axe-core.

One broker and one worker for the module. Three adverse-event mentions reach the worker as
classified mentions: triage (``triage_cases``) opens their cases on ``pv.cases`` and
``track_cases`` keeps the table the page reads. The safety officer signs in, sees the valid
cases first with their clocks (the one that arrived 20 days ago overdue, in red and labelled),
opens the serious one (the view is audited), moves it to "in review" with the keyboard and adds a
note: both are events on ``pv.cases`` and entries in the audit log. axe-core checks the pages; at
375 px nothing scrolls sideways. Then over HTTP: anonymous, forged session, comms roles and forged
CSRF tokens are all refused and audited. Screenshots go to the module's tmp folder (``-s``).
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

import httpx
import pytest
import yaml
from playwright.sync_api import Browser, Page, sync_playwright
from pydantic import SecretStr

from pipeline.approvals.session import bearer_session_id
from pipeline.approvals.tokens import LinkSigner
from pipeline.console import assets
from pipeline.ops.procs import REPO, Broker, Worker, free_port
from pipeline.ops.topics import ensure_topics
from pipeline.pv.cases import case_id
from tests.e2e.approvals_harness import LINK_SECRET, produce_json, read_topic, wait_for
from tests.unit.console.records import mention

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

#: user id -> token: the safety officer of users.yaml and two comms people.
TOKENS = {
    "l.marchetti": "tok-safety-marchetti-01",  # safety
    "c.moreau": "tok-responder-moreau-05",  # responder
    "h.dubois": "tok-viewer-dubois-00004",  # viewer
}
NOW = datetime.now(UTC).replace(microsecond=0)
SERIOUS = "My mother was hospitalised with a swollen throat after her second dose of Glytera"
OLD = "I was hospitalised for a bleed two days after starting Cardelio"
VAGUE = "Glytera can cause nausea in some people"
SERIOUS_ID, OLD_ID, VAGUE_ID = "x:safety-1", "x:safety-2", "x:safety-3"


@pytest.fixture(scope="module")
def worker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, Path]]:
    model_dir = _model_dir()
    tmp = tmp_path_factory.mktemp("safety")
    doc = yaml.safe_load((REPO / "pipeline" / "config" / "users.yaml").read_text())
    for user in doc["users"]:
        user.pop("token_env", None)
    users = tmp / "users.yaml"
    users.write_text(yaml.safe_dump(doc, sort_keys=False))
    broker = Broker(port=free_port(), data_dir=tmp / "kafka")
    broker.start()
    try:
        ensure_topics(broker.bootstrap)
        port = free_port()
        env = {
            "TOCSIN_MODEL_DIR": str(model_dir),
            "TOCSIN_USERS_FILE": str(users),
            "TOCSIN_USER_TOKENS": ",".join(f"{u}:{t}" for u, t in TOKENS.items()),
            "TOCSIN_APPROVAL_LINK_SECRET": LINK_SECRET,
            "TOCSIN_PUBLIC_URL": f"http://127.0.0.1:{port}",
            "TOCSIN_CONSOLE_ALERTS": "false",
            "TOCSIN_PV_TIMEZONE": "Europe/Paris",
            # every refusal audited one by one and none slowed: the test looks each one up
            "TOCSIN_REFUSALS_AUDITED_EACH": "1000",
            "TOCSIN_AUTH_SLOW_AFTER": "1000",
        }
        running = Worker(
            bootstrap=broker.bootstrap, data_dir=tmp / "worker", web_port=port, env=env
        )
        running.start(loglevel="info")
        try:
            running.wait_ready(timeout_s=180)
            _seed(broker.bootstrap)
            yield broker.bootstrap, running.url, tmp
        finally:
            running.stop()
    finally:
        broker.stop()


def _model_dir() -> Path:
    given = os.environ.get("TOCSIN_TEST_MODEL_DIR")
    if given:
        return Path(given)
    from models.build import build_artefacts

    return build_artefacts(progress=lambda _msg: None)


def _seed(bootstrap: str) -> None:
    """Three adverse-event mentions as the classifier writes them; one reached us 20 days ago."""
    for mid, text, received in (
        (SERIOUS_ID, SERIOUS, NOW - timedelta(minutes=5)),
        (OLD_ID, OLD, NOW - timedelta(days=20)),
        (VAGUE_ID, VAGUE, NOW - timedelta(minutes=1)),
    ):
        value = mention(mid, text, brand="brenmoor", topics=("adverse_event",), at=received)
        value["mention"]["received_at"] = received.isoformat()
        produce_json(bootstrap, "mentions.classified", "brenmoor", value)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


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


def check_layout(page: Page, tmp: Path, name: str) -> None:
    for label, (width, height) in {"phone": (375, 812), "desktop": (1280, 900)}.items():
        page.set_viewport_size({"width": width, "height": height})
        page.wait_for_timeout(100)
        no_horizontal_scroll(page)
        path = tmp / f"safety-{name}-{label}.png"
        page.screenshot(path=str(path), full_page=True)
        print(f"screenshot: {path}")
    assert axe_problems(page) == []
    page.set_viewport_size({"width": 375, "height": 812})


def audit(bootstrap: str) -> list[dict[str, Any]]:
    return [r["entry"] for r in read_topic(bootstrap, "responses.audit")]


def test_a_valid_case_is_queued_viewed_moved_and_annotated_with_an_audit_trail(
    worker: tuple[str, str, Path], browser: Browser
) -> None:
    bootstrap, base, tmp = worker
    serious, old, vague = case_id(SERIOUS_ID), case_id(OLD_ID), case_id(VAGUE_ID)
    context = browser.new_context(viewport={"width": 375, "height": 812})
    page = context.new_page()
    problems: list[str] = []  # script errors, CSP refusals, failed requests: none expected
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

    page.goto(f"{base}/safety")
    assert "/approvals/login" in page.url, "an anonymous visit lands on the login form"
    page.get_by_label("Your personal access token").fill(TOKENS["l.marchetti"])
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base}/safety")

    def queued() -> bool:
        page.reload()
        return page.locator("#queue li").count() == 3

    wait_for(queued, timeout_s=90, every_s=1.0, what="the three cases in the queue")
    links = page.locator("#queue a.title")
    hrefs = [links.nth(i).get_attribute("href") for i in range(3)]
    # valid first, the overdue one (20 days old, 15-day clock) on top; the possible case last
    assert hrefs == [f"/safety/cases/{c}" for c in (old, serious, vague)]
    first = page.locator("#queue li").first
    assert "Overdue by 4 d" in first.inner_text()  # due 15 days after day zero, at its end
    colour = first.locator(".clock").evaluate("e => getComputedStyle(e).color")
    assert colour == "rgb(161, 26, 31)", "overdue is red (and says so in words)"
    assert "15 d" in page.locator("#queue li").nth(1).inner_text()  # to the end of day 15
    assert "No clock until the four criteria" in page.locator("#queue li").nth(2).inner_text()
    assert SERIOUS not in page.content(), "the queue shows no mention text"
    check_layout(page, tmp, "queue")

    # filters: non-serious only (the possible case), serious only, a status with no case yet
    page.get_by_label("Seriousness").select_option("non_serious")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url("**seriousness=non_serious**")
    assert page.locator("#queue a.title").get_attribute("href") == f"/safety/cases/{vague}"
    assert page.locator("#queue li").count() == 1
    page.goto(f"{base}/safety?status=all&seriousness=serious")
    assert page.locator("#queue li").count() == 2
    page.goto(f"{base}/safety?status=sent_to_safety")
    assert page.locator("#queue li").count() == 0 and page.locator("#queue-empty").count() == 1
    page.goto(f"{base}/safety")

    # the detail: the mention, the four criteria, the clock; the view is audited
    page.locator(f"#queue a[href='/safety/cases/{serious}']").click()
    page.wait_for_url(f"**/safety/cases/{serious}")
    assert page.locator("#mention").inner_text() == SERIOUS
    assert page.locator("#criteria").inner_text().count("Yes") == 4
    assert "Swelling" in page.locator("#reactions").inner_text()
    assert page.locator("#status").inner_text() == "New"
    assert "US rule" in page.locator("#due").inner_text()
    check_layout(page, tmp, "case")
    views = wait_for(
        lambda: [
            e
            for e in audit(bootstrap)
            if e["action"] == "pv_case_view" and e["draft_id"] == serious
        ],
        timeout_s=30,
        what="the audited view",
    )
    assert views[0]["actor"] == "l.marchetti" and views[0]["outcome"] == "ok"
    assert datetime.fromisoformat(views[0]["at"]) > NOW - timedelta(minutes=1)

    # move to "in review" with the keyboard only
    page.focus("#to-in_review")
    page.keyboard.press("Space")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Change status"
    page.keyboard.press("Enter")
    page.wait_for_url("**done=move")
    assert page.locator("#status").inner_text() == "In review"
    assert "In review by l.marchetti" in page.locator("#history").inner_text()

    # a follow-up note
    note = "Called the reporter: admitted two nights, recovered."
    page.get_by_label("Follow-up note").fill(note)
    page.get_by_role("button", name="Add note").click()
    page.wait_for_url("**done=note")
    assert note in page.locator("#notes").inner_text()
    assert "l.marchetti view" in page.locator("#access").inner_text()
    assert problems == []
    context.close()

    events = [e for e in read_topic(bootstrap, "pv.cases") if e["case_id"] == serious]
    assert [(e["kind"], e["by"]) for e in events] == [
        ("open", "tocsin"),
        ("move", "l.marchetti"),
        ("note", "l.marchetti"),
    ]
    assert events[1]["to"] == "in_review" and events[2]["text"] == note
    entries = [e for e in audit(bootstrap) if e["draft_id"] == serious]
    actions = [e["action"] for e in entries]
    assert {"pv_case_view", "pv_case_move", "pv_case_note"} <= set(actions)
    noted = next(e for e in entries if e["action"] == "pv_case_note")
    assert noted["text"] == "" and len(noted["text_hash"]) == 64  # the note by its hash only
    assert not any(SERIOUS in json.dumps(e) or note in json.dumps(e) for e in entries)
    assert any(
        e["action"] == "pv_queue_view" and e["actor"] == "l.marchetti" for e in audit(bootstrap)
    )


# -- security ------------------------------------------------------------------------------------
def _client(base: str, user: str | None = None, **headers: str) -> httpx.Client:
    if user is not None:
        headers["Authorization"] = f"Bearer {TOKENS[user]}"
    return httpx.Client(base_url=base, headers=headers, timeout=30, follow_redirects=False)


def _csrf(user: str, case: str) -> str:
    signer = LinkSigner(SecretStr(LINK_SECRET))
    return signer.csrf_token(session_id=bearer_session_id(TOKENS[user]), draft_id=f"safety:{case}")


def test_anonymous_forged_and_comms_requests_are_refused_and_audited(
    worker: tuple[str, str, Path],
) -> None:
    bootstrap, base, _ = worker
    target = case_id(VAGUE_ID)
    pages = ("/safety", f"/safety/cases/{quote(target)}")
    actions = (
        (f"/safety/cases/{quote(target)}/move", {"to": "in_review", "from": "possible"}),
        (f"/safety/cases/{quote(target)}/note", {"text": "forged note"}),
    )
    with _client(base, "l.marchetti") as officer:
        wait_for(lambda: officer.get(pages[1]).status_code == 200, timeout_s=90, what="the case")

    with _client(base) as anonymous:
        for path in pages:
            r = anonymous.get(path)
            assert r.status_code == 303 and "/approvals/login" in r.headers["location"], path
        for path, form in actions:
            assert anonymous.post(path, data={**form, "csrf": "x"}).status_code == 401, path

    forged = f"l.marchetti.{'A' * 24}.{int(time.time()) + 3600}.{'0' * 64}"
    with _client(base, Cookie=f"tocsin_session={forged}") as cookie:
        for path in pages:
            assert cookie.get(path).status_code == 401, path
        for path, form in actions:
            assert cookie.post(path, data={**form, "csrf": "x"}).status_code == 401, path

    for comms in ("c.moreau", "h.dubois"):  # signed in, a right CSRF token, the wrong role
        with _client(base, comms) as person:
            for path in pages:
                r = person.get(path)
                assert r.status_code == 403 and "wrong_role" in r.text, (comms, path)
                assert VAGUE not in r.text
            for path, form in actions:
                r = person.post(path, data={**form, "csrf": _csrf(comms, target)})
                assert r.status_code == 403 and "wrong_role" in r.text, (comms, path)

    with _client(base, "l.marchetti") as officer:
        for path, form in actions:
            for token in ("", "forged", _csrf("l.marchetti", case_id(SERIOUS_ID))):
                r = officer.post(path, data={**form, "csrf": token})
                assert r.status_code == 403 and "csrf_" in r.text, (path, token)
        r = officer.post(
            actions[0][0],
            data={"to": "sent_to_safety", "from": "possible", "csrf": _csrf("l.marchetti", target)},
        )
        assert r.status_code == 400, "a possible case cannot go straight to safety"
        r = officer.post(
            actions[0][0],
            data={"to": "in_review", "from": "new", "csrf": _csrf("l.marchetti", target)},
        )
        assert r.status_code == 409, "a stale form is refused"
        assert "forged note" not in officer.get(pages[1]).text  # nothing above changed it
        # the officer confirms the possible case (the criteria now known): its clocks start
        r = officer.post(
            actions[0][0],
            data={"to": "new", "from": "possible", "csrf": _csrf("l.marchetti", target)},
        )
        assert r.status_code == 303 and r.headers["location"].endswith("done=move")
        page = officer.get(pages[1]).text
        assert "Non-serious" in page and re.search(r">90 d \d+ h left<", page), "EU: 90 days"
    moves = [e for e in read_topic(bootstrap, "pv.cases") if e["case_id"] == target][1:]
    assert [(m["kind"], m["to"]) for m in moves] == [("move", "new")]
    clock = moves[0]["case"]
    assert clock["valid"] is True and clock["missing"] == [] and clock["due_region"] == "eu"
    assert clock["day_zero"] == datetime.now(ZoneInfo("Europe/Paris")).date().isoformat()

    entries = audit(bootstrap)
    refused = {(e["actor"], e["reason"]) for e in entries if e["outcome"] == "refused"}
    for expected in (
        ("anonymous", "no_session"),
        ("claimed:l.marchetti", "bad_session"),
        ("c.moreau", "wrong_role"),
        ("h.dubois", "wrong_role"),
        ("l.marchetti", "csrf_missing"),
        ("l.marchetti", "csrf_mismatch"),
    ):
        assert expected in refused, expected
