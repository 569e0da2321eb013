"""What the console pages show: view models from a real store, rendered by the real templates."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from pipeline.approvals.users import User
from pipeline.console import views
from pipeline.console.store import ConsoleStore, InboxFilter, MentionQuery
from pipeline.console.web import _pages, can_act, web_link
from tests.unit.console.records import T0, alert, bucket, feed, mention, signal

KEY = "valmoreau:pricing:20261121T1400Z"
RESPONDER = User("c.moreau", "Camille Moreau", frozenset({"responder"}))
TOP = [{"text": "<script>alert(1)</script> price", "url": "javascript:alert(1)"}, "not an object"]
TIPPING = {"url": "https://x.example/9", "platform": "x"}
VIEWER = User("h.dubois", "Hugo Dubois", frozenset({"viewer"}))


@pytest.fixture()
def store(tmp_path: Path) -> ConsoleStore:
    s = ConsoleStore.open(tmp_path / "c.sqlite3")
    starts = [T0 - timedelta(minutes=5 * i) for i in range(12 * 47, -1, -1)]
    s.write(feed("signals", [signal(at, 42.0 if at == T0 else 3.0) for at in starts]))
    s.write(feed("mentions.buckets", [bucket(T0, 42), bucket(T0 - timedelta(minutes=5), 3)]))
    s.write(
        feed(
            "alerts",
            [
                alert(KEY, top_mentions=TOP, tipping_mention=TIPPING),
                alert(
                    KEY,
                    top_mentions=TOP,
                    state="acknowledged",
                    updated=T0 + timedelta(minutes=9),
                    why={"acknowledged_by": {"by": "c.moreau", "via": "console"}},
                ),
            ],
        )
    )
    s.write(
        feed(
            "alerts.deliveries",
            [
                {
                    "dedup_key": KEY,
                    "state": "firing",
                    "receiver": "slack",
                    "attempt": n,
                    "outcome": outcome,
                    "status_code": code,
                    "at": (T0 + timedelta(minutes=3, seconds=n)).isoformat(),
                    "error": None,
                }
                for n, outcome, code in ((1, "retry", 429), (2, "delivered", 200))
            ],
        )
    )
    s.write(feed("mentions.classified", [mention("x:1", "Zentavo price <b>up</b>", followers=900)]))
    return s


def _render(name: str, **context: Any) -> str:
    context.setdefault("banner", None)
    context.setdefault("nav", "")
    context.setdefault("link", "/console")
    return _pages().get_template(name).render(**context)


def test_detail_has_the_series_band_moments_and_evidence(store: ConsoleStore) -> None:
    d = views.detail(store, KEY, now=(T0 + timedelta(days=5)).timestamp(), cleared=True)
    assert d is not None
    chart = d["chart"]
    assert len(chart["x"]) == 12 * 48 - 23  # 48 h window ending 2 h after the start
    assert chart["observed"][chart["x"].index(T0.timestamp())] == 42.0
    assert [m["kind"] for m in chart["marks"]] == ["paged", "acknowledged"]
    assert "42 mentions of valmoreau about pricing" in d["words"]
    assert "normal range 1 to 7" in d["words"]
    assert "1 bucket(s) above the band" in d["chart_summary"]
    assert "Acknowledged by c.moreau at 2026-11-21 14:09 UTC" in d["chart_summary"]
    assert d["stance"][0] == {"stance": "critical", "count": 42, "share": "100%"}
    assert d["authors"][0]["followers"] == 5000
    assert [(r["receiver"], r["outcome"], r["attempt"]) for r in d["receipts"]] == [
        ("slack", "delivered", 2)
    ]
    assert [m["id"] for m in d["mentions"]] == ["x:1"]
    assert views.detail(store, "no-such-alert", now=0, cleared=True) is None


def test_detail_page_escapes_text_and_drops_script_links(store: ConsoleStore) -> None:
    d = views.detail(store, KEY, now=T0.timestamp(), cleared=True)
    page = _render(
        "alert.html",
        d=d,
        key=KEY,
        user=RESPONDER,
        can_act=True,
        can_draft=True,
        offers=[
            {
                "template_id": "other.holding.en",
                "language": "en",
                "text": "We hear <you>.",
                "draft_id": "d1-r2",
                "exists": False,
                "resubmits": "d1",  # d1 was rejected: the statement is offered again
            },
            {
                "template_id": "pricing.access.en",
                "language": "en",
                "text": "Already drafted.",
                "draft_id": "d2",
                "exists": True,
            },
        ],
        csrf="tok",
        charts=True,
    )
    assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)" in page
    assert page.count('name="csrf" value="tok"') == 3  # resolve, silence, start a draft
    assert 'action="/console/alerts/valmoreau%3Apricing%3A20261121T1400Z/draft"' in page
    assert '<option value="other.holding.en">' in page and "pricing.access.en" not in page
    assert "other.holding.en (EN), again after a rejection</option>" in page
    assert "We hear &lt;you&gt;." in page
    assert "javascript:" not in page
    assert "Zentavo price &lt;b&gt;up&lt;/b&gt;" in page
    assert 'href="https://x.example/9"' in page
    data = re.search(r'id="series-data">(.*?)</script>', page, re.S)
    assert data is not None and json.loads(data.group(1))["observed"][-1] == 42.0
    assert 'id="acknowledge"' not in page
    assert 'action="/console/alerts/valmoreau%3Apricing%3A20261121T1400Z/ack"' in page
    assert '<th scope="col">Expected</th>' in page  # the chart's text alternative

    viewer = _render(
        "alert.html",
        d=d,
        key=KEY,
        user=VIEWER,
        can_act=can_act(VIEWER),
        can_draft=False,
        offers=[],
        csrf="t",
        charts=False,
    )
    assert 'name="csrf"' not in viewer and "need the responder" in viewer
    assert "Starting a draft response needs the responder role" in viewer
    assert "chart library is not installed" in viewer


def test_inbox_and_search_pages_render(store: ConsoleStore) -> None:
    data = views.inbox(store, InboxFilter(state="acknowledged"))
    page = _render(
        "inbox.html",
        data=data,
        choices=views.filter_choices(store),
        query="state=acknowledged",
        poll_ms=1000,
        user=RESPONDER,
    )
    assert 'href="/console/alerts/valmoreau%3Apricing%3A20261121T1400Z"' in page
    assert 'data-poll="/console/inbox.json?state=acknowledged"' in page
    assert '<option value="acknowledged" selected>' in page
    assert views.inbox(store, InboxFilter(state="firing"))["rows"] == []

    results = views.search(store, MentionQuery(text="zentavo"), cleared=True)
    page = _render(
        "search.html",
        form={k: "" for k in ("text", "brand", "topic", "platform", "lang", "since", "until")},
        results=results,
        error="",
        choices=views.filter_choices(store),
        user=VIEWER,
    )
    assert "1 mention." in page and 'href="https://x.example/x:1"' in page


def test_web_link_keeps_only_http() -> None:
    assert web_link("https://x.example/1") == "https://x.example/1"
    assert web_link("JAVASCRIPT:alert(1)") == ""
    assert web_link("data:text/html,x") == ""
    assert web_link(None) == ""


def test_brands_overview_is_the_last_day_hottest_first(store: ConsoleStore) -> None:
    quiet = [T0 - timedelta(minutes=5 * i) for i in range(12)]
    store.write(
        feed("signals", [signal(at, 1.0, topic="boycott", brand="brenmoor") for at in quiet])
    )
    data = views.overview(store)
    assert [(s["brand"], s["topic"]) for s in data["series"]] == [
        ("valmoreau", "pricing"),
        ("brenmoor", "boycott"),
    ]
    hot, calm = data["series"]
    assert len(hot["x"]) == 24 * 12 and hot["x"][-1] == T0.timestamp()  # the day up to T0
    assert hot["hot"] and not calm["hot"]
    assert "peak 42 at 2026-11-21 14:00 UTC" in hot["text"] and "above its band" in hot["text"]
    page = _render("brands.html", data=data, charts=True, user=VIEWER)
    assert 'href="/console?brand=brenmoor&amp;topic=boycott"' in page
    assert 'aria-labelledby="spark-text-1"' in page and "score 0.500" in page
    empty = ConsoleStore.open(store.path.with_name("empty.sqlite3"))
    assert views.overview(empty)["series"] == []


def test_the_alert_a_draft_is_made_from_is_the_stored_step(store: ConsoleStore) -> None:
    from pipeline.console.drafting import alert_record
    from pipeline.records import Alert

    sent = alert("valmoreau:scandal:1", topic="scandal", state="acknowledged")
    store.write(feed("alerts", [sent]))
    row = store.alert("valmoreau:scandal:1")
    assert row is not None
    rebuilt = alert_record(row)
    original = Alert.from_data({k: v for k, v in sent.items() if k != "__faust"})
    assert rebuilt.asdict() == original.asdict()


def test_adverse_event_text_only_for_readers_cleared_for_health_data(tmp_path: Path) -> None:
    """The delivery rule on the console: a comms reader sees an adverse-event mention as its id,
    platform and link; a safety or medical reviewer reads it. Other mentions are shown to all."""
    s = ConsoleStore.open(tmp_path / "c.sqlite3")
    ae_key = "valmoreau:adverse_event:20261121T1400Z"
    harm = "my mum was hospitalised after Zentavo, seizures"
    s.write(feed("signals", [signal(T0, 12.0, topic="adverse_event")]))
    s.write(
        feed(
            "alerts",
            [
                alert(
                    ae_key,
                    topic="adverse_event",
                    top_mentions=[{"text": harm, "url": "https://x.example/a1", "platform": "x"}],
                    tipping_mention={"text": harm, "url": "https://x.example/a1"},
                )
            ],
        )
    )
    s.write(
        feed(
            "mentions.classified",
            [
                mention("a1", harm, topics=("adverse_event",), followers=50),
                mention("p1", "Zentavo price up again", topics=("pricing",)),
                mention(
                    "m1", "Zentavo price up, gave me seizures", topics=("pricing", "adverse_event")
                ),
            ],
        )
    )
    now = (T0 + timedelta(hours=2)).timestamp()
    hidden = views.detail(s, ae_key, now=now, cleared=False)
    shown = views.detail(s, ae_key, now=now, cleared=True)
    assert hidden is not None and shown is not None
    for d, visible in ((hidden, False), (shown, True)):
        texts = [m["text"] for m in (*d["top_mentions"], *d["mentions"], d["alert"]["tipping"])]
        assert len(texts) == 4 and all(("seizures" in t) is visible for t in texts), texts
    assert hidden["top_mentions"][0]["url"] == "https://x.example/a1"  # the link stays

    found = {m["id"]: m for m in views.search(s, MentionQuery(text="zentavo"), cleared=False)}
    assert found == {"p1": found["p1"]} and found["p1"]["text"] == "Zentavo price up again"
    # a worded search is no oracle on what a patient wrote: no adverse-event hit, withheld or not
    assert views.search(s, MentionQuery(text="seizures"), cleared=False) == []
    listed = {m["id"]: m for m in views.search(s, MentionQuery(topic="adverse_event"))}
    assert set(listed) == {"a1", "m1"}
    assert "seizures" not in listed["m1"]["text"] and "seizures" not in listed["a1"]["text"]
    cleared = {
        m["id"]: m["text"] for m in views.search(s, MentionQuery(text="zentavo"), cleared=True)
    }
    assert "seizures" in cleared["m1"]
    page = _render(
        "alert.html",
        d=hidden,
        key=ae_key,
        user=VIEWER,
        can_act=False,
        can_draft=False,
        offers=[],
        csrf="tok",
        charts=True,
    )
    assert harm not in page and "health data" in page
