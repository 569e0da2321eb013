"""Turn one run's raw record (samples, sends, receipts, phase timeline) into figures and tables.

Pure functions over plain data, so the figures can be recomputed from a saved ``latest.json`` and
the table rendering is unit-tested. The definitions of each figure are in ``bench/README.md``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from bench.stats import counter_rate, lag_slope, latency_summary, percentile, recovery_time
from bench.stream import LapStream

#: Seconds at the start of a saturated phase left out of its rate (batches filling, rebalance).
WARM_SHARE = 0.2
#: Sustained lag is "flat" when the fitted line adds less than this many seconds of input.
FLAT_SECONDS = 5.0


def totals(samples: Sequence[dict[str, Any]], key: str) -> list[tuple[float, float]]:
    """(t, sum over workers of counter ``key``), carrying a worker's last value over a miss."""
    last: dict[str, float] = {}
    out: list[tuple[float, float]] = []
    for s in samples:
        for name, counters in (s.get("workers") or {}).items():
            if counters is not None:
                last[name] = counters[key]
        out.append((s["t"], sum(last.values())))
    return out


def per_worker(samples: Sequence[dict[str, Any]], name: str, key: str) -> list[tuple[float, float]]:
    out: list[tuple[float, float]] = []
    for s in samples:
        counters = (s.get("workers") or {}).get(name)
        if counters is not None:
            out.append((s["t"], counters[key]))
    return out


def lag_series(
    samples: Sequence[dict[str, Any]], start: float, end: float, topic: str | None = None
) -> tuple[list[float], list[float]]:
    times: list[float] = []
    lags: list[float] = []
    for s in samples:
        if start <= s["t"] <= end and s.get("lag") is not None:
            times.append(s["t"])
            lags.append(float(s["lag"][topic] if topic else sum(s["lag"].values())))
    return times, lags


def phase_rate(
    samples: Sequence[dict[str, Any]], entry: dict[str, Any], key: str, warm: float = WARM_SHARE
) -> float | None:
    """Rate of counter ``key`` (summed over workers) in a phase, after its warm share."""
    start, end = entry["start"], entry["end"]
    return counter_rate(totals(samples, key), start + warm * (end - start), end)


def recovery_threshold(base_lags: Sequence[float], base_rate: float) -> float:
    """Lag that counts as recovered: the most the base rate alone kept in flight before the
    burst, plus five seconds of base-rate input (commit timers are not synchronised)."""
    return (max(base_lags) if base_lags else 0.0) + 5.0 * base_rate


def _recovery_by_topic(
    samples: Sequence[dict[str, Any]],
    base: dict[str, Any] | None,
    burst: dict[str, Any],
    recovery: dict[str, Any],
) -> dict[str, float | None]:
    """Recovery per topic (same rule as the total): shows which stage a slow recovery is in."""
    out: dict[str, float | None] = {}
    for topic in samples[-1].get("lag") or {}:
        base_lags = lag_series(samples, base["start"], base["end"], topic)[1] if base else []
        times, lags = lag_series(samples, burst["start"], recovery["end"], topic)
        threshold = recovery_threshold(base_lags, recovery["rate"])
        out[topic] = _r(recovery_time(times, lags, after=burst["end"], threshold=threshold))
    return out


def _phase(timeline: Sequence[dict[str, Any]], name: str) -> dict[str, Any] | None:
    found = [p for p in timeline if p["name"] == name and p.get("end") is not None]
    return found[-1] if found else None


def _phase_at(timeline: Sequence[dict[str, Any]], t: float) -> str:
    for p in timeline:
        if p["start"] <= t <= (p.get("end") or float("inf")):
            return str(p["name"])
    return "between"


def _lag_at(samples: Sequence[dict[str, Any]], t: float) -> dict[str, int] | None:
    """Per-topic lag of the last sample at or before ``t``."""
    before = [s for s in samples if s["t"] <= t and s.get("lag") is not None]
    return dict(before[-1]["lag"]) if before else None


def _r(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(value, digits)


def worker_cores(samples: Sequence[dict[str, Any]], start: float, end: float) -> float | None:
    """Mean CPU of all worker processes together in a window, in cores (1.0 = one full core)."""
    values = [
        sum(u["cpu"] for n, u in (s.get("proc") or {}).items() if n.startswith("worker"))
        for s in samples
        if start <= s["t"] <= end
    ]
    return sum(values) / len(values) / 100 if values else None


def capacity_figures(samples: Sequence[dict[str, Any]], entry: dict[str, Any]) -> dict[str, Any]:
    """Saturated-phase figures; CPU per mention is the one a shared machine moves least."""
    classified = phase_rate(samples, entry, "classified")
    start = entry["start"] + WARM_SHARE * (entry["end"] - entry["start"])
    cores = worker_cores(samples, start, entry["end"])
    model_texts = phase_rate(samples, entry, "model_texts")
    hits = phase_rate(samples, entry, "dedup_hits")
    busy = phase_rate(samples, entry, "model_busy_s")
    counted = (
        phase_rate(samples, entry, "counted")
        if all(
            "counted" in c
            for s in samples
            for c in (s.get("workers") or {}).values()
            if c is not None
        )
        else None
    )
    return {
        "seconds": round(entry["end"] - entry["start"], 1),
        "workers": entry.get("workers"),
        "mentions_per_s": _r(classified),
        "counted_per_s": _r(counted),
        "model_texts_per_s": _r(model_texts),
        "cache_hit_share": _r(hits / classified, 3) if hits is not None and classified else None,
        "model_busy_share": _r(busy, 3),
        "worker_cores": _r(cores, 2),
        "worker_cpu_ms_per_mention": _r(cores / classified * 1000, 1)
        if cores is not None and classified
        else None,
    }


def classify_split(rates: dict[str, float | None]) -> dict[str, Any]:
    """How the classify work split over the workers of the 2-worker probe (scale-2w).

    ``max_worker_share`` is the busiest worker's share of the mentions classified (0.5 is an even
    split, 1.0 one worker doing all of it). ``mentions.raw`` is keyed by mention id, so even the
    demo's single-brand crisis spreads over every partition.
    """
    known = {name: r for name, r in rates.items() if r is not None}
    total = sum(known.values())
    if len(known) < len(rates) or total <= 0:
        return {"max_worker_share": None, "per_worker_share": None}
    shares = {name: round(r / total, 3) for name, r in known.items()}
    return {"max_worker_share": max(shares.values()), "per_worker_share": shares}


def plumbing(probe: dict[str, Any]) -> dict[str, Any]:
    """Worker CPU per mention that is not the model's, in the saturated probe.

    The worker's CPU per mention less the model's share of it: the raw model's CPU per text times
    the texts the model was given per mention classified (reposts answered from the cache are not
    given to it). An estimate: the model costs in the worker about what it costs alone (the raw
    passes before and after the run bracket that), and the broker's CPU is not in it.
    """
    worker, raw = probe.get("worker_cpu_ms_per_mention"), probe.get("raw_cpu_ms_per_text")
    rate, texts = probe.get("mentions_per_s"), probe.get("model_texts_per_s")
    if worker is None or raw is None or not rate or texts is None:
        return {"cpu_ms_per_mention": None}
    model = raw * texts / rate
    return {
        "cpu_ms_per_mention": round(worker - model, 2),
        "model_cpu_ms_per_mention": round(model, 2),
        "definition": "worker CPU per mention in the probe - raw model CPU per text x model "
        "texts per mention (broker not included)",
    }


def _epoch(text: str) -> float:
    return datetime.fromisoformat(str(text).replace("Z", "+00:00")).timestamp()


def paged_at(alert: dict[str, Any], at_close: float) -> float:
    """Event time of a page: ``fired_at`` for an early page, else when its bucket closed."""
    if alert.get("early") and alert.get("fired_at"):
        return _epoch(str(alert["fired_at"]))
    return at_close


def latency_figures(
    raw: dict[str, Any], stream: LapStream
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Per crisis alert: triggering mentions' produce->receipt latencies and the pipeline part."""
    sent: list[float] = raw["sent_wall"]
    first = int(raw.get("sent_start", 0))
    last = first + len(sent)

    def at(n: int) -> float:
        return sent[n - first]

    bucket = raw["settings"]["bucket_s"]
    lateness = raw["settings"]["lateness_s"]
    crisis = stream.crisis
    size = len(stream)
    seen_keys: set[str] = set()
    alerts: list[dict[str, Any]] = []
    duplicates = 0
    for receipt in sorted(raw["receipts"], key=lambda r: r["wall"]):
        key = receipt["idempotency_key"]
        if key in seen_keys:
            duplicates += 1
            continue
        seen_keys.add(key)
        alert = receipt["alert"]
        if alert.get("state") != "firing":
            continue
        why = alert.get("why") or {}
        end = _epoch(str(why.get("bucket_end") or alert["updated_at"]))
        lap = int((end - bucket - stream.origin) // stream.span)
        c_start = crisis.start + lap * stream.span
        c_end = crisis.end + lap * stream.span
        row: dict[str, Any] = {
            "brand": alert.get("brand"),
            "topic": alert.get("topic"),
            "bucket_end": alert["updated_at"],
            "received_phase": _phase_at(raw["timeline"], receipt["wall"]),
            "received_at": round(receipt["wall"], 3),
            "crisis": alert.get("brand") == crisis.brand and c_start < end <= c_end + bucket,
        }
        alerts.append(row)
        if not row["crisis"]:
            continue
        produced = range(max(first, lap * size), min(last, (lap + 1) * size))
        triggering = [
            n
            for n in produced
            if stream.line(n).crisis and end - bucket <= (stream.event_time(n) or 0) < end
        ]
        first_crisis = next((n for n in produced if stream.line(n).crisis), None)
        closing = next(
            (
                n
                for n in range(max(triggering, default=produced.start), last)
                if stream.line(n).brand == crisis.brand
                and (stream.event_time(n) or 0) >= end + lateness
            ),
            None,
        )
        latencies = [receipt["wall"] - at(n) for n in triggering]
        row.update(
            lap=lap,
            triggering=len(triggering),
            latency=latency_summary(latencies),
            latencies=[round(x, 3) for x in latencies],
            pipeline_s=_r(receipt["wall"] - at(closing), 3) if closing is not None else None,
            # Event time from the crisis start to the page: the tipping mention's time for an early
            # page, the bucket's close (end + lateness) for a page at close.
            event_delay_min=round((paged_at(alert, end + lateness) - c_start) / 60, 1),
            time_to_detect_s=(
                _r(receipt["wall"] - at(first_crisis), 2) if first_crisis is not None else None
            ),
            first_crisis_mention_produced_in=(
                _phase_at(raw["timeline"], at(first_crisis)) if first_crisis is not None else None
            ),
        )
    return alerts, {"duplicate_receipts": duplicates}


def analyse(raw: dict[str, Any], stream: LapStream) -> dict[str, Any]:
    """Figures of one run; keeps compact samples for the plot and drops the per-send log."""
    samples = raw["samples"]
    timeline = raw["timeline"]
    figures = raw["figures"]
    raw_rates = [figures[k]["texts_per_s"] for k in ("raw_start", "raw_end") if k in figures]
    raw_mean = sum(raw_rates) / len(raw_rates)
    out: dict[str, Any] = {
        k: raw[k]
        for k in (
            "command",
            "profile",
            "started_at",
            "wall_s",
            "machine",
            "settings",
            "stream",
            "commit",
            "brand_partitions",
        )
    }
    out["raw_model"] = {
        "start": figures.get("raw_start"),
        "end": figures.get("raw_end"),
        "texts_per_s_mean": round(raw_mean, 1),
        "spread": round((max(raw_rates) - min(raw_rates)) / raw_mean, 3),
    }
    phases: dict[str, Any] = {}
    probe = _phase(timeline, "probe")
    if probe:
        cap = capacity_figures(samples, probe)
        cap["capacity_used_for_phases"] = _r(figures.get("capacity"))
        cap["capacity_definition"] = (
            "min(classify_mentions out, count_mentions in)"
            if cap["counted_per_s"] is not None
            else "classify_mentions out only (this run's sampler did not read count_mentions)"
        )
        cap["pipeline_over_raw"] = _r((cap["mentions_per_s"] or 0) / raw_mean, 3)
        cap["model_path_over_raw"] = _r((cap["model_texts_per_s"] or 0) / raw_mean, 3)
        raw_cpu = [figures[k]["cpu_ms_per_text"] for k in ("raw_start", "raw_end") if k in figures]
        if cap["worker_cpu_ms_per_mention"]:
            cap["raw_cpu_ms_per_text"] = round(sum(raw_cpu) / len(raw_cpu), 2)
            cap["cpu_efficiency_over_raw"] = _r(
                cap["raw_cpu_ms_per_text"] / cap["worker_cpu_ms_per_mention"], 3
            )
        phases["probe"] = cap
        out["plumbing"] = plumbing(cap)
    sustained = _phase(timeline, "sustained")
    if sustained:
        dur = sustained["end"] - sustained["start"]
        t_from = sustained["start"] + min(15.0, dur / 4)
        times, lags = lag_series(samples, t_from, sustained["end"])
        slope = lag_slope(times, lags) if len(times) >= 2 else None
        rate = sustained["sent"] / dur
        added = slope * dur if slope is not None else None
        phases["sustained"] = {
            "seconds": round(dur, 1),
            "target_per_s": sustained["rate"],
            "produced_per_s": round(rate, 1),
            "classified_per_s": _r(phase_rate(samples, sustained, "classified", warm=0.05)),
            "lag_slope_per_s": _r(slope, 3),
            "lag_added_over_phase": _r(added),
            "lag_added_in_seconds_of_input": _r(added / rate if added is not None else None, 2),
            "lag_mean": _r(sum(lags) / len(lags)) if lags else None,
            "lag_p95": _r(percentile(lags, 95)) if lags else None,
            "lag_max": max(lags) if lags else None,
            "lag_slope_by_topic": {
                topic: _r(lag_slope(*lag_series(samples, t_from, sustained["end"], topic)), 3)
                for topic in (samples[-1].get("lag") or {})
            }
            if len(times) >= 2
            else {},
            "lag_first": lags[0] if lags else None,
            "lag_last": lags[-1] if lags else None,
            "flat": added is not None and added < FLAT_SECONDS * rate,
            "flat_rule": f"fitted lag line adds < {FLAT_SECONDS:g} s of input over the phase "
            "(a falling line counts: the phase drained a backlog it started with)",
        }
    burst = _phase(timeline, "burst")
    recovery = _phase(timeline, "recovery")
    if burst and recovery:
        times, lags = lag_series(samples, burst["start"], recovery["end"])
        base = _phase(timeline, "burst-base")
        threshold = recovery.get("threshold", 0.0)
        if base is not None and "threshold" not in recovery:
            _, base_lags = lag_series(samples, base["start"], base["end"])
            threshold = recovery_threshold(base_lags, recovery["rate"])
        rec = recovery_time(times, lags, after=burst["end"], threshold=threshold)
        phases["burst"] = {
            "seconds": round(burst["end"] - burst["start"], 1),
            "base_per_s": recovery["rate"],
            "peak_per_s": burst["rate"],
            "produced_per_s": round(burst["sent"] / (burst["end"] - burst["start"]), 1),
            "lag_max": max(lags) if lags else None,
            "recovery_s": _r(rec),
            "expected_recovery_s": recovery["expected_s"],
            "bound_s": recovery["bound_s"],
            "within_bound": rec is not None and rec <= recovery["bound_s"],
            "bound_rule": "2 x (burst backlog / (capacity - base rate)) + 30 s",
            "recovered_when_lag_at_most": round(threshold, 1),
            "recovery_s_by_topic": _recovery_by_topic(samples, base, burst, recovery),
        }
    one, two = _phase(timeline, "scale-1w"), _phase(timeline, "scale-2w")
    if one and two:
        c1 = capacity_figures(samples, one)
        c2 = capacity_figures(samples, two)
        start = two["start"] + WARM_SHARE * (two["end"] - two["start"])
        shares = {}
        for name in ("worker-1", "worker-2"):
            shares[name] = _r(
                counter_rate(per_worker(samples, name, "classified"), start, two["end"])
            )
        r1, r2 = c1["mentions_per_s"], c2["mentions_per_s"]
        out["classify_split"] = classify_split(shares)
        phases["scaleout"] = {
            "one_worker": c1,
            "two_workers": c2,
            "per_worker_mentions_per_s": shares,
            "speedup": _r(r2 / r1, 3) if r1 and r2 else None,
            "per_worker_efficiency": _r(r2 / (2 * r1), 3) if r1 and r2 else None,
        }
    out["phases"] = phases
    alerts, delivery = latency_figures(raw, stream)
    out["alerts"] = alerts
    out["delivery"] = delivery
    crisis = [a for a in alerts if a["crisis"] and a.get("triggering")]
    by_phase: dict[str, list[float]] = {}
    for a in crisis:
        if a["topic"] == stream.crisis.topic:
            by_phase.setdefault(a["received_phase"], []).extend(a["latencies"])
    out["latency"] = {
        "by_phase": {k: latency_summary(v) for k, v in by_phase.items()},
        "pipeline_s": latency_summary(
            [a["pipeline_s"] for a in crisis if a["pipeline_s"] is not None]
        ),
        "time_to_detect_s": latency_summary(
            [
                a["time_to_detect_s"]
                for a in crisis
                if a["topic"] == stream.crisis.topic and a["time_to_detect_s"] is not None
            ]
        ),
        "event_delay_min": sorted(
            {a["event_delay_min"] for a in crisis if a["topic"] == stream.crisis.topic}
        ),
    }
    out["processes"] = process_figures(samples, timeline)
    out["timeline"] = [
        {
            **p,
            "start_s": round(p["start"] - timeline[0]["start"], 1),
            "end_s": round((p["end"] or p["start"]) - timeline[0]["start"], 1),
            "lag_at_end": _lag_at(samples, p.get("end") or p["start"]),
            "classified_per_s": _r(phase_rate(samples, p, "classified", warm=0.0))
            if p.get("end")
            else None,
        }
        for p in timeline
    ]
    out["samples"] = compact_samples(samples)
    return out


def process_figures(
    samples: Sequence[dict[str, Any]], timeline: Sequence[dict[str, Any]]
) -> dict[str, Any]:
    names = sorted({n for s in samples for n in (s.get("proc") or {})})
    out: dict[str, Any] = {}
    for name in names:
        cpu = [s["proc"][name]["cpu"] for s in samples if name in (s.get("proc") or {})]
        rss = [s["proc"][name]["rss_mb"] for s in samples if name in (s.get("proc") or {})]
        per_phase = {}
        for p in timeline:
            vals = [
                s["proc"][name]["cpu"]
                for s in samples
                if name in (s.get("proc") or {}) and p["start"] <= s["t"] <= (p["end"] or 0)
            ]
            if vals:
                per_phase[p["name"]] = round(sum(vals) / len(vals), 1)
        out[name] = {
            "cpu_mean_pct": round(sum(cpu) / len(cpu), 1) if cpu else None,
            "cpu_max_pct": round(max(cpu), 1) if cpu else None,
            "rss_max_mb": round(max(rss), 1) if rss else None,
            "cpu_mean_pct_by_phase": per_phase,
        }
    return out


def compact_samples(samples: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    classified = totals(samples, "classified")
    out = []
    for s, (_, total) in zip(samples, classified, strict=True):
        out.append(
            {
                "t": round(s["t"], 2),
                "phase": s["phase"],
                "produced": s["produced"],
                "classified": total,
                "by_worker": {
                    n: c["classified"] for n, c in (s.get("workers") or {}).items() if c is not None
                },
                "lag": s["lag"],
                "cpu": {n: round(u["cpu"], 1) for n, u in (s.get("proc") or {}).items()},
                "rss_mb": {n: round(u["rss_mb"]) for n, u in (s.get("proc") or {}).items()},
            }
        )
    return out


# -- markdown ----------------------------------------------------------------------------------


def table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A GitHub markdown table; None renders as "-", floats without trailing noise."""

    def cell(v: Any) -> str:
        if v is None:
            return "-"
        if isinstance(v, bool):
            return "yes" if v else "no"
        if isinstance(v, float):
            return f"{v:,.3f}".rstrip("0").rstrip(".") if abs(v) < 10 else f"{v:,.1f}"
        return str(v).replace("|", "\\|")

    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def _get(d: dict[str, Any] | None, *path: str) -> Any:
    cur: Any = d
    for key in path:
        if not isinstance(cur, dict):
            return None
        cur = cur.get(key)
    return cur


def _s(value: Any) -> str:
    return "-" if value is None else str(value)


def render_markdown(results: dict[str, Any]) -> str:
    ph = results.get("phases", {})
    raw = results.get("raw_model", {})
    lat = results.get("latency", {})
    sus_lat = _get(lat, "by_phase", "sustained") or {}
    m = results.get("machine", {})
    parts = [
        f"# Tocsin benchmark ({results['profile']['name']} profile)",
        "",
        f"Run {results['started_at'][:19]}Z, {results['wall_s']:.0f} s wall, command "
        f"`{results['command']}`. {m.get('cpus')} CPUs, load average "
        f"{m.get('loadavg_start')} at start, {m.get('loadavg_end')} at end. {m.get('note', '')}.",
        "",
        "## Headline figures",
        "",
        table(
            ["figure", "value"],
            [
                [
                    "raw model, texts/s (start / end of run)",
                    f"{_s(_get(raw, 'start', 'texts_per_s'))} / {_s(_get(raw, 'end', 'texts_per_s'))}",
                ],
                [
                    "pipeline, 1 worker saturated: classified/s (counting stage/s)",
                    f"{_s(_get(ph, 'probe', 'mentions_per_s'))} "
                    f"({_s(_get(ph, 'probe', 'counted_per_s'))})",
                ],
                ["**pipeline / raw model**", _get(ph, "probe", "pipeline_over_raw")],
                [
                    "model texts/s inside the pipeline / raw model",
                    _get(ph, "probe", "model_path_over_raw"),
                ],
                [
                    "CPU ms: raw model per text / pipeline workers per mention",
                    f"{_s(_get(ph, 'probe', 'raw_cpu_ms_per_text'))} / "
                    f"{_s(_get(ph, 'probe', 'worker_cpu_ms_per_mention'))}",
                ],
                [
                    "**CPU efficiency (raw CPU per text / pipeline CPU per mention)**",
                    _get(ph, "probe", "cpu_efficiency_over_raw"),
                ],
                ["worker CPU while saturated, cores", _get(ph, "probe", "worker_cores")],
                ["repost-cache share of classified mentions", _get(ph, "probe", "cache_hit_share")],
                [
                    "sustained: rate (80 % of capacity), mentions/s",
                    _get(ph, "sustained", "produced_per_s"),
                ],
                ["sustained: lag slope, messages/s", _get(ph, "sustained", "lag_slope_per_s")],
                ["sustained: lag flat", _get(ph, "sustained", "flat")],
                [
                    "sustained: lag slope by topic, messages/s",
                    ", ".join(
                        f"{k} {v}"
                        for k, v in (_get(ph, "sustained", "lag_slope_by_topic") or {}).items()
                    )
                    or None,
                ],
                ["burst: peak mentions/s for the burst", _get(ph, "burst", "peak_per_s")],
                [
                    "burst: recovery to pre-burst lag, s (bound)",
                    f"{_s(_get(ph, 'burst', 'recovery_s'))} ({_s(_get(ph, 'burst', 'bound_s'))})",
                ],
                ["burst: recovered within bound", _get(ph, "burst", "within_bound")],
                [
                    "burst: recovery by topic, s",
                    ", ".join(
                        f"{k} {_s(v)}"
                        for k, v in (_get(ph, "burst", "recovery_s_by_topic") or {}).items()
                    )
                    or None,
                ],
                [
                    "scale-out: 1 worker / 2 workers, mentions/s",
                    f"{_s(_get(ph, 'scaleout', 'one_worker', 'mentions_per_s'))} / "
                    f"{_s(_get(ph, 'scaleout', 'two_workers', 'mentions_per_s'))}",
                ],
                ["**scale-out: speed-up (2 workers / 1)**", _get(ph, "scaleout", "speedup")],
                [
                    "**scale-out: per-worker efficiency**",
                    _get(ph, "scaleout", "per_worker_efficiency"),
                ],
                [
                    "**classify split: busiest worker's share (2 workers)**",
                    _get(results, "classify_split", "max_worker_share"),
                ],
                [
                    "plumbing: worker CPU ms per mention besides the model (probe)",
                    _get(results, "plumbing", "cpu_ms_per_mention"),
                ],
                [
                    "mention -> alert delivered, p50 / p95 / p99, s (sustained)",
                    f"{_s(sus_lat.get('p50_s'))} / {_s(sus_lat.get('p95_s'))} / {_s(sus_lat.get('p99_s'))} "
                    f"(n={_s(sus_lat.get('n', 0))})",
                ],
                [
                    "bucket-closing mention -> alert delivered, p50 / max, s",
                    f"{_s(_get(lat, 'pipeline_s', 'p50_s'))} / {_s(_get(lat, 'pipeline_s', 'max_s'))}",
                ],
                [
                    "time to detect the surge (first crisis mention produced -> page), p50 s",
                    _get(lat, "time_to_detect_s", "p50_s"),
                ],
                [
                    "time to page in event time (crisis start -> page: early, or at bucket close), min",
                    ", ".join(str(x) for x in lat.get("event_delay_min", [])) or None,
                ],
                [
                    "duplicate deliveries seen by the receiver",
                    _get(results, "delivery", "duplicate_receipts"),
                ],
            ],
        ),
        "",
        "## Phases",
        "",
        table(
            [
                "phase",
                "start s",
                "length s",
                "target /s",
                "sent",
                "classified /s",
                "lag at end: raw / mentions / classified / buckets / alerts",
            ],
            [
                [
                    p["name"],
                    p["start_s"],
                    round(p["end_s"] - p["start_s"], 1),
                    p.get("rate"),
                    p.get("sent"),
                    p.get("classified_per_s"),
                    " / ".join(str(v) for v in (p.get("lag_at_end") or {}).values()) or None,
                ]
                for p in results.get("timeline", [])
            ],
        ),
        "",
        "## Scale-out: where the classify work went",
        "",
        "`mentions.raw` is keyed by mention id, so classification spreads over every partition; "
        "counting is keyed by brand: each brand's partition of `mentions.classified` and share of "
        "the stream, then each worker's classified mentions/s with two workers in the group:",
        "",
        table(
            ["brand", "partition of `mentions.classified`", "share of mentions"],
            [
                [b, v["partition"], v["share"]]
                for b, v in (results.get("brand_partitions") or {}).items()
            ],
        ),
        "",
        table(
            ["worker", "classified mentions/s (2 workers)"],
            list((_get(ph, "scaleout", "per_worker_mentions_per_s") or {}).items()),
        ),
        "",
        "## Alerts received",
        "",
        table(
            [
                "brand / topic",
                "bucket end",
                "received in",
                "crisis",
                "triggering mentions",
                "latency p50 / p99 s",
                "closing mention -> page s",
                "time to detect s",
            ],
            [
                [
                    f"{a['brand']} / {a['topic']}",
                    a["bucket_end"][:16],
                    a["received_phase"],
                    a["crisis"],
                    a.get("triggering"),
                    f"{_s(_get(a, 'latency', 'p50_s'))} / {_s(_get(a, 'latency', 'p99_s'))}"
                    if a.get("latency")
                    else None,
                    a.get("pipeline_s"),
                    a.get("time_to_detect_s"),
                ]
                for a in results.get("alerts", [])
            ],
        ),
        "",
        "## Processes (CPU in % of one core; 2 cores = 200 %)",
        "",
        table(
            ["process", "CPU mean %", "CPU max %", "RSS max MB", "CPU mean % by phase"],
            [
                [
                    name,
                    f["cpu_mean_pct"],
                    f["cpu_max_pct"],
                    f["rss_max_mb"],
                    ", ".join(f"{k} {v}" for k, v in f["cpu_mean_pct_by_phase"].items()),
                ]
                for name, f in results.get("processes", {}).items()
            ],
        ),
        "",
    ]
    return "\n".join(parts)
