"""Rapid-response approvals end to end: real Kafka, a real worker, headless Chromium, HTTP fakes.

One story per module (one broker, one worker, to spare the CPU): an alert fires and a draft is
created; an executive signs in on the web page and approves it in Chromium; a legal reviewer
approves it from a signed Slack interaction; the publish endpoint receives exactly the approved
text once and the Slack message is rewritten in place. Then every security case is tried over
HTTP against the same worker, each refused *and* found in the audit topic. Last, the worker is
restarted with an empty state folder and the approval state and audit trail come back from Kafka.
Screenshots of the queue, draft and audit pages at 375x812 and 1280x900 go to tests/artefacts/.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, sync_playwright
from pydantic import SecretStr

from pipeline.approvals.audit import text_hash
from pipeline.approvals.drafts import draft_id as make_draft_id
from pipeline.approvals.session import bearer_session_id
from pipeline.approvals.tokens import LinkSigner
from pipeline.ops.procs import Broker, Worker, free_port
from pipeline.ops.topics import ensure_topics
from tests.e2e.approvals_harness import (
    BOT_TOKEN,
    CHANNEL,
    LINK_SECRET,
    PEOPLE,
    PUBLISH_SECRET,
    Stack,
    alert_payload,
    artefacts_dir,
    audit_entries,
    csrf_of,
    hidden,
    produce_json,
    slack_body,
    slack_headers,
    wait_for,
    worker_env,
)
from tests.fakes_http import SlackApiFake
from tests.fakes_publish import PublishWebhookFake

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]

TEMPLATE = "scandal.allegations.en"
VIEWPORTS = {"desktop": (1280, 900), "phone": (375, 812)}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    model_dir = _model_dir()
    tmp = tmp_path_factory.mktemp("approvals")
    broker = Broker(port=free_port(), data_dir=tmp / "kafka")
    broker.start()
    try:
        ensure_topics(broker.bootstrap)  # table changelogs included (see pipeline/topology.py)
        with (
            SlackApiFake(BOT_TOKEN, channels=(CHANNEL,)) as slack,
            PublishWebhookFake(PUBLISH_SECRET) as publisher,
        ):
            port = free_port()
            env = worker_env(model_dir, tmp, slack, publisher, port)
            worker = Worker(
                bootstrap=broker.bootstrap, data_dir=tmp / "worker0", web_port=port, env=env
            )
            worker.start(loglevel="info")
            running = Stack(broker.bootstrap, worker, slack, publisher, tmp, env)
            try:
                worker.wait_ready(timeout_s=180)
                yield running
            finally:
                running.worker.stop()
    finally:
        broker.stop()


def _model_dir() -> Path:
    """The classifier artefacts the worker needs to report ready (this test does not classify).

    ``TOCSIN_TEST_MODEL_DIR`` points at already-built artefacts, for a developer whose working
    tree changes the model (which would otherwise rebuild it first); unset, they are built or
    found in the cache like every other worker test.
    """
    given = os.environ.get("TOCSIN_TEST_MODEL_DIR")
    if given:
        return Path(given)
    from models.build import build_artefacts

    return build_artefacts(progress=lambda _msg: None)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


def fire(stack: Stack, minute: int) -> str:
    """Put a firing scandal alert on the alerts topic; returns the draft id it must produce."""
    alert = alert_payload("brenmoor", "scandal", "critical", minute)
    produce_json(stack.bootstrap, "alerts", alert["dedup_key"], alert)
    draft = make_draft_id(alert["dedup_key"], TEMPLATE)
    with stack.client("h.dubois") as c:
        wait_for(
            lambda: c.get(f"/approvals/{draft}").status_code == 200,
            timeout_s=90,
            what=f"draft {draft} on the web",
        )
    return draft


def slack_request_ts(stack: Stack, draft: str) -> str:
    """The ``ts`` of the approval request the worker posted to Slack for ``draft``."""

    def find() -> str | None:
        for ts, message in list(stack.slack.messages.items()):
            for block in message.get("blocks") or []:
                for element in block.get("elements") or []:
                    if str(element.get("value", "")).startswith(f"{draft}|"):
                        return ts
        return None

    return str(wait_for(find, timeout_s=30, what="the Slack approval request"))


def sign_in(page: Page, base: str, user: str) -> None:
    page.goto(f"{base}/approvals")
    assert "/approvals/login" in page.url, "an anonymous visit must land on the login form"
    page.get_by_label("Your personal access token").fill(PEOPLE[user][0])
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base}/approvals")


def shoot(page: Page, name: str) -> Path:
    path = artefacts_dir() / f"approvals-{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def no_horizontal_scroll(page: Page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    viewport = page.evaluate("window.innerWidth")
    assert width <= viewport, f"page scrolls sideways: {width}px content in {viewport}px"


def test_alert_to_publication_via_web_and_slack(stack: Stack, browser: Browser) -> None:
    draft = fire(stack, minute=0)
    stack.drafts["main"] = draft
    ts = slack_request_ts(stack, draft)

    # The executive signs in with their token; desktop screenshots first, then on the phone the
    # same pages, and the approval itself.
    for label, (width, height) in VIEWPORTS.items():
        context = browser.new_context(viewport={"width": width, "height": height})
        page = context.new_page()
        sign_in(page, stack.url, "e.lindqvist")
        cookie = next(c for c in context.cookies() if c["name"] == "tocsin_session")
        assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
        link = page.get_by_role("link", name="brenmoor · scandal")
        assert link.count() == 1, "the draft awaits the exec in their queue"
        no_horizontal_scroll(page)
        shoot(page, f"queue-{label}")
        link.click()
        page.wait_for_url(f"{stack.url}/approvals/{draft}")
        assert page.get_by_role("heading", name="Why this alert fired").is_visible()
        assert "Whistleblower says Brenmoor hid Glytera" in page.content()
        assert "<script>x</script>" not in page.content(), "mention text must be escaped"
        no_horizontal_scroll(page)
        shoot(page, f"draft-{label}")
        if label == "phone":
            page.get_by_label("Approve this exact text").check()
            page.get_by_role("button", name="Submit decision").click()
            page.wait_for_load_state()
            banner = page.get_by_role("status")
            assert "Recorded: approved" in banner.inner_text()
            assert "Legal reviewer" in page.content()  # still needed
        context.close()

    # The legal reviewer approves from Slack: a signed block action on the request message.
    approved_text = _statement(stack, draft)
    body = slack_body(PEOPLE["a.fontaine"][1] or "", "approve", draft, text_hash(approved_text), ts)
    with stack.client() as c:
        answer = c.post("/slack/actions", content=body, headers=slack_headers(body))
    assert answer.status_code == 200, answer.text

    # Exactly the approved text, once, signed, at the publish endpoint.
    wait_for(lambda: stack.publisher.published, timeout_s=60, what="the publish webhook")
    time.sleep(2.0)  # would a duplicate arrive?
    assert len(stack.publisher.requests) == 1
    [(key, published)] = stack.publisher.published.items()
    assert published["text"] == approved_text
    assert published["text_sha256"] == text_hash(approved_text)
    assert key == f"{draft}:{text_hash(approved_text)}"
    assert stack.publisher.problems == []

    # Slack: the same message rewritten (no buttons left), the text posted in the thread.
    message = wait_for(
        lambda: stack.slack.messages[ts] if stack.slack.messages[ts]["updates"] else None,
        timeout_s=30,
        what="the Slack message update",
    )
    assert not any(b.get("type") == "actions" for b in message["blocks"] or [])
    posts = [s.json() for s in stack.slack.requests if s.path.endswith("chat.postMessage")]
    thread = [p for p in posts if approved_text in str(p.get("text", ""))]
    assert len(thread) == 1 and thread[0].get("thread_ts"), thread
    assert stack.slack.problems == []

    wait_for(lambda: "published" in stack.state(draft), timeout_s=30, what="published status")
    entries = [e for e in audit_entries(stack.bootstrap) if e["draft_id"] == draft]
    actions = [(e["action"], e["actor"], e["channel"], e["outcome"]) for e in entries]
    assert ("approved", "e.lindqvist", "web", "ok") in actions
    assert ("approved", "a.fontaine", "slack", "ok") in actions
    assert ("fully_approved", "a.fontaine", "slack", "ok") in actions
    assert ("published", "system", "system", "ok") in actions
    assert all(e["text"] == approved_text for e in entries if e["action"] == "published")

    for label, (width, height) in VIEWPORTS.items():
        context = browser.new_context(viewport={"width": width, "height": height})
        page = context.new_page()
        sign_in(page, stack.url, "h.dubois")
        page.goto(f"{stack.url}/approvals/{draft}/audit")
        assert page.get_by_role("heading", name="Audit trail").is_visible()
        no_horizontal_scroll(page)
        shoot(page, f"audit-{label}")
        context.close()


def _statement(stack: Stack, draft: str) -> str:
    """The draft's text as the published page shows it (unescaped)."""
    import html
    import re

    page = stack.state(draft)
    match = re.search(r'<pre class="statement"[^>]*>(.*?)</pre>', page, re.S)
    assert match, "no statement on the draft page"
    return html.unescape(match.group(1))


def _refusals(stack: Stack) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for entry in audit_entries(stack.bootstrap):
        if entry["outcome"] == "refused":
            out.setdefault(entry["reason"], []).append(entry)
    return out


def _decide(stack: Stack, user: str, draft: str, **form: str) -> Any:
    with stack.client(user) as c:
        page = c.get(f"/approvals/{draft}").text
        data = {"csrf": csrf_of(page), "version": hidden(page, "version"), **form}
        if "text_hash" not in data and 'name="text_hash"' in page:
            data["text_hash"] = hidden(page, "text_hash")
        return c.post(f"/approvals/{draft}/decide", data=data)


def test_security_cases_are_refused_and_audited(stack: Stack) -> None:
    main = stack.drafts["main"]
    draft = fire(stack, minute=30)
    stack.drafts["second"] = draft
    ts = slack_request_ts(stack, draft)
    current = text_hash(_statement(stack, draft))

    with stack.client() as c:
        body = slack_body(PEOPLE["a.fontaine"][1] or "", "approve", draft, current, ts)
        forged = slack_headers(body, secret="not-the-signing-secret")
        assert c.post("/slack/actions", content=body, headers=forged).status_code == 401
        stale = slack_headers(body, at=int(time.time()) - 6 * 60)
        assert c.post("/slack/actions", content=body, headers=stale).status_code == 401

    # wrong role: a viewer approves. The page shows a viewer no form, so the request is crafted
    # by hand with a CSRF token valid for their own session: authorisation must still refuse it.
    signer = LinkSigner(SecretStr(LINK_SECRET))
    viewer_csrf = signer.csrf_token(
        session_id=bearer_session_id(PEOPLE["h.dubois"][0]), draft_id=draft
    )
    with stack.client("h.dubois") as c:
        version = "1"  # a fresh draft is at version 1
        answer = c.post(
            f"/approvals/{draft}/decide",
            data={
                "csrf": viewer_csrf,
                "action": "approve",
                "version": version,
                "text_hash": current,
            },
        )
    assert answer.status_code == 403 and "wrong_role" in answer.text, answer.text
    # ... and a viewer clicking Approve in Slack (anyone in the channel can click)
    body = slack_body("U0TOCS0009", "approve", draft, current, ts)
    with stack.client() as c:
        assert (
            c.post("/slack/actions", content=body, headers=slack_headers(body)).status_code == 200
        )

    # CSRF: missing, then a token for another draft
    with stack.client("e.lindqvist") as c:
        page = c.get(f"/approvals/{draft}").text
        base = {"action": "approve", "version": hidden(page, "version"), "text_hash": current}
        assert c.post(f"/approvals/{draft}/decide", data=base).status_code == 403
        other = signer.csrf_token(  # valid for this session, but for another draft
            session_id=bearer_session_id(PEOPLE["e.lindqvist"][0]), draft_id=main
        )
        assert c.post(f"/approvals/{draft}/decide", data={**base, "csrf": other}).status_code == 403

    # self-approval where two people are required: the dual-role user edits, then approves
    edited = _statement(stack, draft) + " We will publish our findings."
    answer = _decide(stack, "x.dual", draft, action="edit", text=edited)
    assert answer.status_code == 200, answer.text
    answer = _decide(stack, "x.dual", draft, action="approve")
    assert answer.status_code == 403 and "own_draft" in answer.text

    # single-use link: used once (approves as legal), then replayed, then an expired one
    token = signer.issue(
        user_id="m.brennan", draft_id=draft, action="approve", now=datetime.now(UTC), ttl_s=600
    )
    with stack.client() as c:
        opened = c.get(f"/approvals/link/{token}")
        assert opened.status_code == 200, opened.text
        form = {
            "csrf": csrf_of(opened.text),
            "version": hidden(opened.text, "version"),
            "text_hash": hidden(opened.text, "text_hash"),
            "link": token,
            "action": "approve",
        }
        used = c.post(f"/approvals/{draft}/decide", data=form)
        assert used.status_code == 200 and "Recorded: approved" in used.text, used.text
        assert c.get(f"/approvals/link/{token}").status_code == 403
        again = c.post(f"/approvals/{draft}/decide", data=form)
        assert again.status_code == 403 and "link_replayed" in again.text
    old = signer.issue(
        user_id="m.brennan",
        draft_id=draft,
        action="approve",
        now=datetime.now(UTC) - timedelta(hours=2),
        ttl_s=60,
    )
    with stack.client() as c:
        assert c.get(f"/approvals/link/{old}").status_code == 403

    # editing after approval: the published draft's text is frozen
    # (the page offers no edit form any more; the request is crafted with a valid CSRF token)
    moreau_csrf = signer.csrf_token(
        session_id=bearer_session_id(PEOPLE["c.moreau"][0]), draft_id=main
    )
    with stack.client("c.moreau") as c:
        answer = c.post(
            f"/approvals/{main}/decide",
            data={"csrf": moreau_csrf, "action": "edit", "version": "1", "text": "Other words."},
        )
    assert answer.status_code == 409 and "edit_after_approval" in answer.text

    wanted = {
        "bad_signature",
        "stale_timestamp",
        "wrong_role",
        "csrf_missing",
        "csrf_mismatch",
        "own_draft",
        "link_replayed",
        "link_expired",
        "edit_after_approval",
    }

    def all_refused() -> dict[str, list[dict[str, Any]]] | None:
        found = _refusals(stack)
        return found if wanted <= set(found) else None

    refusals = wait_for(
        all_refused,
        timeout_s=30,
        what=f"audit entries for {sorted(wanted)}",
    )
    assert {e["actor"] for e in refusals["wrong_role"]} == {"h.dubois", "p.achebe"}
    assert refusals["own_draft"][0]["actor"] == "x.dual"
    assert refusals["bad_signature"][0]["channel"] == "slack"
    assert refusals["bad_signature"][0]["actor"] == f"slack:{PEOPLE['a.fontaine'][1]}"
    assert {e["draft_id"] for e in refusals["edit_after_approval"]} == {main}
    assert len(stack.publisher.requests) == 1, "no refused request may publish anything"
    metrics = stack.worker.metrics_text()
    assert 'tocsin_approval_refusals_total{reason="wrong_role"} 2.0' in metrics


def test_state_and_audit_survive_a_restart(stack: Stack) -> None:
    main, second = stack.drafts["main"], stack.drafts["second"]
    before = audit_entries(stack.bootstrap)
    stack.restart()
    with stack.client("h.dubois") as c:
        page = wait_for(
            lambda: (r := c.get(f"/approvals/{main}")).status_code == 200 and r.text,
            timeout_s=120,
            what="the approval table back from its changelog",
        )
    assert "status <strong>published</strong>" in page
    second_page = stack.state(second)
    assert "m.brennan (Legal reviewer" in second_page
    with stack.client("h.dubois") as c:
        audit_page = c.get(f"/approvals/{main}/audit").text
    for entry in (e for e in before if e["draft_id"] == main):
        assert entry["actor"] in audit_page
    after = audit_entries(stack.bootstrap)
    assert {e["id"] for e in before} <= {e["id"] for e in after}, "the audit log lost entries"
    # The restarted worker decides on the recovered state: the exec approves the second draft.
    answer = _decide(stack, "e.lindqvist", second, action="approve")
    assert answer.status_code == 200 and "Recorded: approved" in answer.text, answer.text
    assert len(stack.publisher.requests) == 1, "nothing is published twice after a restart"
