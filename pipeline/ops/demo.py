"""``tocsin demo``: broker, worker and a replayed two-day stream with a crisis in it, alerts printed.

Everything the demo starts (a broker in a fresh data folder, one worker) is stopped by PID when it
ends, on success, error or Ctrl-C. It measures as it goes: raw model throughput before the worker
starts (so the two do not share the CPU), pipeline throughput while draining, and wall time.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import click
from kafka import KafkaConsumer

from pipeline.ingest.replay import ReplayStats, count_lines, read_lines, replay
from pipeline.kafka_clients import client_config
from pipeline.ops.procs import REPO, Broker, Worker, free_port
from pipeline.settings import default_cache_dir
from pipeline.settings_kafka import kafka_settings
from pipeline.topology import ALERTS, CLASSIFIED, DLQ, RAW
from pipeline.worker.lag import group_lag, topic_size

STREAM = REPO / "deploy" / "demo" / "stream.jsonl"
#: Wall-clock reordering the demo's buckets tolerate. A brand's mentions reach
#: ``mentions.classified`` from four ``mentions.raw`` partitions, read in fetch-sized chunks, so
#: they arrive up to a second or two out of event order. At 1x that is nothing next to the 120 s
#: allowed lateness; at 2000x it is up to an hour of event time, and with 120 s close to a third
#: of the stream would arrive after its bucket closed (left out of it). The demo therefore scales
#: the lateness with speed.
DEMO_SKEW_S = 3.0
#: Lateness when replaying as fast as possible (speed 0), where event time per wall second is unknown.
UNPACED_LATENESS_S = 6 * 3600


def demo_lateness(speed: float, default_s: int = 120) -> int:
    """Allowed lateness (event-time seconds) that covers ``DEMO_SKEW_S`` of wall-clock skew."""
    if speed <= 0:
        return UNPACED_LATENESS_S
    return max(default_s, int(speed * DEMO_SKEW_S))


PIPELINE_TOPICS = (RAW.name, CLASSIFIED.name, ALERTS.name)


@dataclass
class AlertWatcher:
    """Prints alert steps from the ``alerts`` topic as they arrive, in a background thread."""

    bootstrap: str
    seen: list[dict[str, Any]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="alert-watcher", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        consumer = KafkaConsumer(
            ALERTS.name,
            bootstrap_servers=self.bootstrap,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
            consumer_timeout_ms=500,
            **client_config(kafka_settings()),
        )
        try:
            while not self._stop.is_set():
                for message in consumer:
                    alert = json.loads(message.value)
                    alert.pop("__faust", None)
                    title = step_title(alert, self.seen)
                    self.seen.append(alert)
                    colour = "red" if alert["state"] == "firing" else "green"
                    click.echo()
                    click.secho(f"  ALERT {title}", fg=colour, bold=True)
                    click.echo(f"    {alert['summary']}")
                    for top in (alert.get("top_mentions") or [])[:2]:
                        click.echo(f"    > {top.get('text', '')[:110]}")
                    if self._stop.is_set():
                        break
        finally:
            consumer.close()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)


def step_title(alert: dict[str, Any], before: list[dict[str, Any]]) -> str:
    """The watcher's headline for one alert step: a page, the close confirming an early page
    (same dedup key, no second page), or a resolution; times are event times."""
    what = f"[{alert['severity']}] {alert['brand']} / {alert['topic']}"
    if alert["state"] != "firing":
        return f"{alert['state'].upper()} {what}  (at {alert['updated_at'][:16]}Z)"
    if any(a["dedup_key"] == alert["dedup_key"] and a["state"] == "firing" for a in before):
        return f"FIRING {what}  confirmed at the close of the bucket ending {alert['updated_at'][:16]}Z"
    fired = str(alert.get("fired_at") or alert["updated_at"])[:16]
    how = "early, inside the filling bucket" if alert.get("early") else "at the close of its bucket"
    return f"FIRING {what}  paged at {fired}Z, {how}"


def episodes(alerts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One entry per paged episode (dedup key): its first firing step, which is the page."""
    first: dict[str, dict[str, Any]] = {}
    for alert in alerts:
        if alert["state"] == "firing":
            first.setdefault(alert["dedup_key"], alert)
    return list(first.values())


def demo_texts(stream: Path, limit: int) -> list[str]:
    """Distinct texts of the stream's valid-looking lines (what the model will really see)."""
    texts: dict[str, None] = {}
    for line in read_lines(stream):
        try:
            text = json.loads(line.payload).get("text")
        except ValueError:
            continue
        if isinstance(text, str) and text.strip():
            texts[text] = None
        if len(texts) >= limit:
            break
    return list(texts)


def measure_raw_model(model: Any, texts: list[str], batch: int = 32) -> float:
    """Texts/s of the bare model on distinct demo texts, batch ``batch``, after one warm-up batch."""
    model.classify(texts[:batch])
    started = time.perf_counter()
    for i in range(0, len(texts), batch):
        model.classify(texts[i : i + batch])
    return len(texts) / (time.perf_counter() - started)


def metric_value(text: str, name: str, **labels: str) -> float:
    """Sum of the samples of ``name`` whose labels include ``labels`` in a Prometheus exposition."""
    total = 0.0
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        if all(f'{k}="{v}"' in line for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


def wait_drained(bootstrap: str, timeout_s: float, settle_s: float = 3.0) -> float:
    """Block until the worker's group has no lag on the pipeline topics twice in a row."""
    deadline = time.monotonic() + timeout_s
    zero_since: float | None = None
    while time.monotonic() < deadline:
        lag = group_lag(bootstrap, "tocsin", PIPELINE_TOPICS)
        if sum(lag.values()) == 0:
            zero_since = zero_since or time.monotonic()
            if time.monotonic() - zero_since >= settle_s:
                return time.monotonic()
        else:
            zero_since = None
        time.sleep(1.0)
    raise TimeoutError(f"pipeline not drained after {timeout_s:.0f}s: lag {lag}")


DEMO_USER = "c.moreau"
"""The fictional responder of pipeline/config/users.yaml the demo's console signs in."""


def run_demo(
    *,
    speed: float,
    stream: Path,
    keep_state: bool,
    kafka_port: int | None,
    summary_json: Path | None = None,
    serve: bool = False,
) -> int:
    """Run the demo; 0 when at least one alert fired, 1 when none did, 130 on Ctrl-C.

    With ``serve``, the broker and worker stay up after the summary, with the console signed in
    by a token made for this run, until Ctrl-C (then 0 or 1 as without). Whatever happens, the
    worker and the broker it started are stopped, and its run folder is deleted unless
    ``keep_state``.
    """
    started = time.monotonic()
    run_dir = default_cache_dir() / "run" / f"demo-{datetime.now():%Y%m%d-%H%M%S}-{os.getpid()}"
    broker = Broker(port=kafka_port or free_port(), data_dir=run_dir / "kafka")
    worker: Worker | None = None
    watcher: AlertWatcher | None = None
    console_token, console_env = _console_sign_in()
    try:
        artefacts, raw_rate = _model_step(stream)

        click.secho(f"2/5 Kafka broker on {broker.bootstrap}", bold=True)
        broker.start()
        from pipeline.ops.topics import ensure_topics

        ensure_topics(broker.bootstrap)

        worker = _worker_step(broker, run_dir / "worker", artefacts, speed, console_env)
        worker.start()
        worker.wait_ready()
        click.echo(f"    ready: {worker.url}/metrics  (log: {worker.log_path})")
        watcher = AlertWatcher(broker.bootstrap)
        watcher.start()

        total = count_lines(stream)
        click.secho(f"4/5 replaying {total} mentions ({stream.name}) at {speed:g}x", bold=True)
        replay_started = time.monotonic()
        with click.progressbar(length=total, label="    replay", show_eta=True) as bar:
            stats = replay(stream, bootstrap=broker.bootstrap, speed=speed, on_sent=bar.update)
        click.echo(f"    sent {stats.sent} in {stats.seconds:.1f}s ({stats.rate:.0f}/s)")

        click.secho("5/5 waiting for the pipeline to drain", bold=True)
        drained_at = wait_drained(broker.bootstrap, timeout_s=900)
        time.sleep(1.0)
        watcher.stop()
        summary = _summarise(
            worker.metrics_text(),
            stats,
            dlq=topic_size(broker.bootstrap, DLQ.name),
            pipeline_s=drained_at - replay_started,
            raw_rate=raw_rate,
            alerts=watcher.seen,
            speed=speed,
        )
        firing = episodes(watcher.seen)
        _print_summary(summary, firing, replay_rate=stats.rate)
        _write_wall_time(summary, started, summary_json)
        code = 0 if firing else 1
        click.secho(f"console: {worker.url}/console", bold=True)
        if serve:
            _serve(worker, console_token)
        return code
    except KeyboardInterrupt:
        click.echo("\ninterrupted: stopping what the demo started")
        return 130
    finally:
        if watcher is not None:
            watcher.stop()
        if worker is not None:
            worker.stop()
        broker.stop()
        if not keep_state:
            shutil.rmtree(run_dir, ignore_errors=True)


def _console_sign_in() -> tuple[str, dict[str, str]]:
    """The console's sign-in for this run only: a token for the demo's fictional responder
    (pipeline/config/users.yaml), printed once at the end, never stored, and the worker's
    environment with it and a fresh link secret."""
    token = secrets.token_urlsafe(18)
    return token, {
        "TOCSIN_APPROVAL_LINK_SECRET": secrets.token_urlsafe(32),
        "TOCSIN_USER_TOKENS": f"{DEMO_USER}:{token}",
    }


def _worker_step(
    broker: Broker, data_dir: Path, artefacts: Path, speed: float, console_env: dict[str, str]
) -> Worker:
    """Step 3: the worker (not started yet), its lateness scaled to the replay speed."""
    lateness = demo_lateness(speed)
    click.secho(f"3/5 worker (buckets close {lateness} s of event time after their end)", bold=True)
    return Worker(
        bootstrap=broker.bootstrap,
        data_dir=data_dir,
        env={
            "TOCSIN_MODEL_DIR": str(artefacts),
            "TOCSIN_ALLOWED_LATENESS_S": str(lateness),
            **console_env,
        },
    )


def _write_wall_time(summary: dict[str, Any], started: float, to: Path | None) -> None:
    """Add the run's wall time to the summary, print it, and write the summary JSON if asked."""
    summary["wall_seconds"] = wall = time.monotonic() - started
    click.echo(f"  wall time                {wall:.1f}s")
    if to is not None:
        to.write_text(json.dumps(summary, indent=2, default=str))


def _serve(worker: Worker, console_token: str) -> None:
    """Keep the broker and worker up for the console until Ctrl-C or the worker stops."""
    click.echo(
        f"    sign in as {DEMO_USER} (a responder) with the token {console_token}\n"
        "    broker and worker stay up until Ctrl-C (`tocsin demo --no-serve` does not wait)"
    )
    try:
        while worker.proc is not None and worker.proc.poll() is None:
            time.sleep(1.0)
        click.echo("the worker stopped; stopping the broker")
    except KeyboardInterrupt:
        click.echo("\nstopping the worker and the broker")


def _model_step(stream: Path) -> tuple[Path, float]:
    """Step 1: build (or find) the artefacts and measure the bare model on the demo's texts."""
    click.secho("1/5 model artefacts", bold=True)
    from models.build import build_artefacts
    from models.classifier import load_classifier

    artefacts = build_artefacts(progress=lambda msg: click.echo(f"    {msg}"))
    model = load_classifier(artefacts)
    sample = demo_texts(stream, limit=512)
    raw_rate = measure_raw_model(model, sample)
    click.echo(
        f"    raw model: {raw_rate:.0f} texts/s (batch 32, {len(sample)} distinct demo texts)"
    )
    return artefacts, raw_rate


def _summarise(
    metrics: str,
    stats: ReplayStats,
    *,
    dlq: float,
    pipeline_s: float,
    raw_rate: float,
    alerts: list[dict[str, Any]],
    speed: float,
) -> dict[str, Any]:
    """The run's figures, from the worker's metrics (the ``--summary-json`` document)."""
    classified = metric_value(metrics, "tocsin_agent_messages_out_total", agent="classify_mentions")
    return {
        "replayed": stats.sent,
        "dead_lettered": dlq,
        "classified": classified,
        "pipeline_mentions_per_s": classified / pipeline_s,
        "pipeline_seconds": pipeline_s,
        "raw_model_texts_per_s": raw_rate,
        "replay_seconds": stats.seconds,
        "dedup_hits": metric_value(metrics, "tocsin_model_dedup_hits_total"),
        # a mention arriving after its bucket closed is left out of it (see DEMO_SKEW_S)
        "late_mentions": metric_value(metrics, "tocsin_late_mentions_total"),
        "model_calls": metric_value(metrics, "tocsin_model_batch_size_count"),
        "model_texts": metric_value(metrics, "tocsin_model_batch_size_sum"),
        "model_busy_seconds": metric_value(metrics, "tocsin_model_batch_latency_seconds_sum"),
        "pipeline_over_raw": classified / pipeline_s / raw_rate,
        "alerts": alerts,
        "wall_seconds": None,
        "speed": speed,
    }


def _print_summary(s: dict[str, Any], firing: list[dict[str, Any]], *, replay_rate: float) -> None:
    pipeline_s = s["pipeline_seconds"]
    batches, busy = s["model_calls"], s["model_busy_seconds"]
    click.echo()
    click.secho("Summary", bold=True)
    click.echo(f"  mentions replayed        {s['replayed']}")
    click.echo(f"  dead-lettered (mentions.dlq) {s['dead_lettered']:.0f}")
    click.echo(f"  classified               {s['classified']:.0f}")
    click.echo(
        f"  pipeline throughput      {s['pipeline_mentions_per_s']:.1f} mentions/s "
        f"(replay start to drained, {pipeline_s:.1f}s)"
    )
    click.echo(f"  raw model throughput     {s['raw_model_texts_per_s']:.1f} texts/s")
    click.echo(f"  repost cache hits        {s['dedup_hits']:.0f}")
    click.echo(f"  late (bucket closed)     {s['late_mentions']:.0f}")
    click.echo(
        f"  model calls              {batches:.0f} ({s['model_texts'] / max(batches, 1):.1f} texts "
        f"each, {busy:.1f}s busy = {busy / pipeline_s:.0%} of the drain time)"
    )
    click.echo(
        f"  pipeline / raw model     {s['pipeline_over_raw']:.2f} (the replay sent "
        f"{replay_rate:.0f}/s, so this is the pace of the replay, not the worker's capacity: "
        "`make bench` and `tocsin model bench` measure that)"
    )
    click.echo(f"  alerts paged             {len(firing)}")
    for alert in firing:
        fired = str(alert.get("fired_at") or alert["updated_at"])[:16]
        click.echo(
            f"    - {alert['brand']}/{alert['topic']} from {alert['started_at'][:16]}Z, paged at "
            f"{fired}Z{' (early)' if alert.get('early') else ''} "
            f"severity={alert['severity']} key={alert['dedup_key']}"
        )


def parse_alert_lines(text: str) -> list[str]:
    """Alert lines the console receiver printed (used by tests on the worker log)."""
    return re.findall(r"^\[tocsin\] .*$", text, flags=re.MULTILINE)
