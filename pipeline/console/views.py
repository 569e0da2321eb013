"""What the console pages show, as plain dicts built from the store (no HTTP here).

The alert detail puts together the 48-hour series with its expected band, the moments that
matter (paged, acknowledged, resolved), observed against expected in words, the episode's stance
mix and top authors, top mentions, delivery receipts per receiver and drafts. Every chart comes
with its text alternative: a sentence and a table of the same numbers.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from pipeline.console.rows import InboxFilter, MentionQuery, Store, iso
from pipeline.delivery.health_data import WITHHELD, is_health_data, withheld
from pipeline.records import ALERT_STATES, HEALTH_TOPIC, PLATFORMS, SEVERITIES

WINDOW_S = 48 * 3600
DAY_S = 24 * 3600
AFTER_S = 2 * 3600
STATE_LABELS = {
    "firing": "Firing",
    "acknowledged": "Acknowledged",
    "escalated": "Escalated",
    "resolved": "Resolved",
}
SILENCE_HOURS = (1, 4, 12, 24, 72)


def when(value: float | None) -> str:
    """A time as people read it on the pages."""
    if value is None:
        return ""
    return datetime.fromtimestamp(value, UTC).strftime("%Y-%m-%d %H:%M UTC")


def _num(value: float) -> str:
    return f"{value:.1f}".removesuffix(".0")


def inbox_row(a: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "key": a["dedup_key"],
        "brand": a["brand"],
        "topic": a["topic"],
        "topic_label": str(a["topic"]).replace("_", " "),
        "severity": a["severity"],
        "state": a["state"],
        "state_label": STATE_LABELS.get(a["state"], a["state"]),
        "started": when(a["started_at"]),
        "started_iso": iso(a["started_at"]),
        "updated": when(a["updated_at"]),
        "summary": a["summary"],
    }


def inbox(store: Store, filters: InboxFilter, *, limit: int = 100) -> dict[str, Any]:
    return {
        "rows": [inbox_row(a) for a in store.inbox(filters, limit=limit)],
        "version": store.alerts_version(),
        "filters": {
            "brand": filters.brand or "",
            "topic": filters.topic or "",
            "severity": filters.severity or "",
            "state": filters.state or "",
        },
    }


def filter_choices(store: Store) -> dict[str, list[str]]:
    facets = store.facets()
    return {
        "brand": facets["brand"],
        "topic": facets["topic"],
        "severity": list(SEVERITIES),
        "state": list(ALERT_STATES),
        "platform": list(PLATFORMS),
    }


def _withheld(m: dict[str, Any], whole: bool, cleared: bool) -> dict[str, Any]:
    """``m`` as a reader may see it: an adverse-event mention's text and handle only for a reader
    cleared for health data (the delivery rule, :func:`pipeline.delivery.health_data.withheld`);
    ids, platform, reach and the link stay."""
    return m if cleared else dict(withheld(m, whole))


def _shown_mention(m: Any, *, whole: bool = False, cleared: bool = True) -> dict[str, str]:
    """A mention as an alert carries it (any shape), with the fields the page shows."""
    m = m if isinstance(m, dict) else {}
    shown = {k: str(m.get(k) or "") for k in ("text", "url", "platform", "lang", "at", "id")}
    return shown if cleared or not is_health_data(m, whole) else {**shown, "text": WITHHELD}


def _marks(alert: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The moments drawn on the chart: the page, acknowledgement(s), the resolution."""
    marks = []
    if alert.get("fired_at") is not None:
        how = "early, while the bucket was filling" if alert["early"] else "at the bucket's close"
        marks.append({"at": alert["fired_at"], "kind": "paged", "label": f"Paged ({how})"})
    for step in alert["steps"]:
        if step["state"] in ("acknowledged", "resolved"):
            by = f" by {step['by']}" if step.get("by") else ""
            marks.append(
                {
                    "at": step["at"],
                    "kind": step["state"],
                    "label": f"{STATE_LABELS[step['state']]}{by}",
                }
            )
    for mark in marks:
        mark["when"] = when(mark["at"])
    return marks


def _stance(series: list[dict[str, Any]], start: float, end: float) -> list[dict[str, Any]]:
    total: Counter[str] = Counter()
    for row in series:
        if start <= row["start"] < end:
            total.update({k: int(v) for k, v in row["stance"].items()})
    n = sum(total.values())
    return [
        {"stance": k, "count": total[k], "share": f"{100 * total[k] / n:.0f}%"}
        for k in ("critical", "neutral", "supportive")
        if n
    ]


def _authors(series: list[dict[str, Any]], start: float, end: float) -> list[dict[str, Any]]:
    """The episode's authors by reach (followers), from the buckets' top authors."""
    best: dict[str, dict[str, Any]] = {}
    for row in series:
        if not start <= row["start"] < end:
            continue
        for author in row["top_authors"]:
            if not isinstance(author, dict) or not isinstance(author.get("id"), str):
                continue
            seen = best.setdefault(
                author["id"],
                {
                    "id": author["id"],
                    "handle": str(author.get("handle") or ""),
                    "kind": str(author.get("kind") or "unknown"),
                    "followers": 0,
                    "mentions": 0,
                },
            )
            seen["followers"] = max(
                int(seen.get("followers") or 0), int(author.get("followers") or 0)
            )
            seen["mentions"] += int(author.get("mentions") or 1)
    return sorted(best.values(), key=lambda a: -int(a.get("followers") or 0))[:8]


def _receipts(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The last attempt per receiver and step, with how many attempts it took."""
    last: dict[tuple[str, str], dict[str, Any]] = {}
    for r in rows:
        last[(r["receiver"], r["state"])] = {**r, "when": when(r["at"])}
    return sorted(last.values(), key=lambda r: (r["at"], r["receiver"]))


def _words(alert: Mapping[str, Any], at_start: Mapping[str, Any] | None) -> str:
    band = ""
    if at_start is not None:
        band = f" (normal range {_num(at_start['lower'])} to {_num(at_start['upper'])})"
    return (
        f"{_num(alert['observed'])} mentions of {alert['brand']} about "
        f"{str(alert['topic']).replace('_', ' ')} in the bucket starting "
        f"{when(alert['started_at'])}, against {_num(alert['expected'])} expected{band}."
    )


def _evidence(
    alert: Mapping[str, Any],
    series: list[dict[str, Any]],
    mentions: list[dict[str, Any]],
    episode_end: float,
    *,
    cleared: bool,
) -> dict[str, Any]:
    """The episode's authors and mentions, adverse-event ones withheld from readers not cleared."""
    whole = alert["topic"] == HEALTH_TOPIC
    return {
        "authors": [
            a if cleared or not whole else {**a, "handle": ""}
            for a in _authors(series, alert["started_at"], episode_end)
        ],
        "top_mentions": [
            _shown_mention(m, whole=whole, cleared=cleared) for m in alert["top_mentions"] or []
        ],
        "mentions": [
            _withheld({**m, "when": when(m["created_at"])}, whole, cleared) for m in mentions
        ],
    }


def detail(store: Store, key: str, *, now: float, cleared: bool = False) -> dict[str, Any] | None:
    """Everything the alert page shows; None for an alert the store does not have.

    A reader not ``cleared`` for health data sees adverse-event evidence as counts and links.
    """
    alert = store.alert(key)
    if alert is None:
        return None
    last = max([alert["updated_at"], *(s["at"] for s in alert["steps"])])
    end = max(alert["started_at"] + AFTER_S, min(last + 1800, now))
    start = end - WINDOW_S
    series = store.series(alert["brand"], alert["topic"], start, end)
    resolved = [s["at"] for s in alert["steps"] if s["state"] == "resolved"]
    episode_end = resolved[0] if resolved else end
    at_start = next((r for r in series if r["start"] == alert["started_at"]), None)
    marks = _marks(alert)
    peak = max(series, key=lambda r: r["observed"], default=None)
    chart = {
        "x": [r["start"] for r in series],
        "observed": [r["observed"] for r in series],
        "expected": [r["expected"] for r in series],
        "lower": [r["lower"] for r in series],
        "upper": [r["upper"] for r in series],
        "marks": [{"at": m["at"], "label": m["label"], "kind": m["kind"]} for m in marks],
    }
    above = [r for r in series if r["observed"] > r["upper"]]
    summary = (
        f"{len(series)} five-minute buckets from {when(start)} to {when(end)}. "
        + (
            f"Highest: {_num(peak['observed'])} at {when(peak['start'])}, against "
            f"{_num(peak['expected'])} expected (band {_num(peak['lower'])} to "
            f"{_num(peak['upper'])}). {len(above)} bucket(s) above the band. "
            if peak is not None
            else "No buckets in the store for this window yet. "
        )
        + " ".join(f"{m['label']} at {m['when']}." for m in marks)
    )
    mentions = store.mentions_for(alert["brand"], alert["topic"], alert["started_at"], episode_end)
    why = alert["why"] or {}
    whole = alert["topic"] == HEALTH_TOPIC
    return {
        "alert": {
            **inbox_row(alert),
            "observed": _num(alert["observed"]),
            "expected": _num(alert["expected"]),
            "score": f"{alert['score']:.4f}",
            "fired": when(alert["fired_at"]),
            "early": alert["early"],
            "first_source": why.get("first_source", ""),
            "tipping": _shown_mention(alert["tipping_mention"], whole=whole, cleared=cleared),
            "open": alert["state"] != "resolved",
        },
        "words": _words(alert, at_start),
        "chart": chart,
        "chart_summary": summary,
        "table": [
            {
                "when": when(r["start"]),
                "observed": _num(r["observed"]),
                "expected": _num(r["expected"]),
                "band": f"{_num(r['lower'])}-{_num(r['upper'])}",
                "above": r["observed"] > r["upper"],
            }
            for r in series
        ],
        "marks": marks,
        "steps": [{**s, "when": when(s["at"])} for s in alert["steps"]],
        "stance": _stance(series, alert["started_at"], episode_end),
        **_evidence(alert, series, mentions, episode_end, cleared=cleared),
        "receipts": _receipts(alert["receipts"]),
        "drafts": alert["drafts"],
        "silence_hours": SILENCE_HOURS,
    }


def overview(store: Store) -> dict[str, Any]:
    """Every brand x topic over the last day of event time: its curve, now, and how unusual.

    "Today" is the 24 hours up to the newest reading in the store (a replay's event time, not the
    wall clock). Hottest first: the day's highest anomaly score, then the latest observed count.
    """
    newest = store.latest_signal()
    if newest is None:
        return {"series": [], "since": "", "until": ""}
    since = newest - DAY_S + 300
    series: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in store.readings_since(since):
        series.setdefault((r["brand"], r["topic"]), []).append(r)
    ranked: list[tuple[tuple[float, float], dict[str, Any]]] = []
    for (brand, topic), rows in series.items():
        peak = max(rows, key=lambda r: r["observed"])
        last = rows[-1]
        score = max(r["score"] for r in rows)
        ranked.append(
            (
                (-score, -last["observed"]),
                {
                    "brand": brand,
                    "topic": topic,
                    "topic_label": topic.replace("_", " "),
                    "x": [r["start"] for r in rows],
                    "y": [r["observed"] for r in rows],
                    "score": f"{score:.3f}",
                    "hot": any(r["firing"] for r in rows),
                    "text": (
                        f"{len(rows)} buckets. Latest {_num(last['observed'])} at {when(last['start'])} "
                        f"against {_num(last['expected'])} expected; peak {_num(peak['observed'])} at "
                        f"{when(peak['start'])}; highest anomaly score {score:.3f}"
                        + ("; above its band today." if any(r["firing"] for r in rows) else ".")
                    ),
                },
            )
        )
    ranked.sort(key=lambda pair: pair[0])
    return {
        "series": [card for _, card in ranked],
        "since": when(since),
        "until": when(newest + 300),
    }


def search(store: Store, q: MentionQuery, *, cleared: bool = False) -> list[dict[str, Any]]:
    """Mentions matching ``q``; an adverse-event one shows its text only to a ``cleared`` reader.

    A reader not cleared gets no adverse-event mention from a search with words in it: a hit
    (even with its text withheld) would tell which words a patient wrote, one guess at a time.
    Searched by filters alone (brand, topic, platform, language, time) they are listed, withheld.
    """
    worded = bool(q.text.strip())
    return [
        _withheld(
            {
                **m,
                "when": when(m["created_at"]),
                "topic_labels": str(m["topics"]).replace("_", " "),
            },
            False,
            cleared,
        )
        for m in store.search(q)
        if cleared or not worded or not is_health_data(m, False)
    ]
