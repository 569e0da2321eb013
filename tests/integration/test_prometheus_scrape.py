"""A real Prometheus scrapes a live worker during a replay; every shipped PromQL expression is run.

Prometheus (Debian package, ``deploy/setup-system.sh``) runs on 127.0.0.1 with a 1 s scrape and
rule-evaluation interval and Tocsin's own rule file, scraping one ``tocsin worker`` on the real
broker while the first 600 lines of the demo stream are replayed. Then every expression of every
Grafana dashboard (panels and variables) and every recording rule must return data (a non-NaN
sample), except those in :data:`MAY_BE_EMPTY`, each with the reason; those matching
:data:`MUST_BE_POSITIVE` must show activity (a sample above zero). Alerting rules must evaluate,
every series they select must exist (a renamed metric would otherwise make an alert silently
blind), and on this healthy run they must not fire, except the load-dependent one listed in
:data:`MAY_FIRE`. Set ``TOCSIN_PROM_REPORT=<file>`` to keep a JSON report of every query and its
result (the nearest thing to a rendered dashboard without a Grafana server).
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from pipeline.ingest.replay import replay
from pipeline.ops.demo import demo_lateness, metric_value
from pipeline.ops.procs import Broker, Worker, free_port
from tests.promql_sources import REPO, RULES_DIR, Expr, dashboard_exprs, rule_exprs, selectors

pytestmark = pytest.mark.integration

STREAM = REPO / "deploy" / "demo" / "stream.jsonl"
REPLAY_LINES = 600
# Grafana's $__rate_interval is at least four scrape intervals; with a 1 s scrape and a run of a
# minute or two, one minute covers the whole replay.
RATE_INTERVAL = "1m"

# Expressions that may legitimately return nothing (or only NaN) after this replay, and why.
MAY_BE_EMPTY: dict[str, str] = {
    "receiver:tocsin_delivery_latency_seconds:p95_5m": (
        "the 600-line slice (the first 10 hours of day 1) holds no crisis, so usually no alert "
        "step is delivered: the latency histogram has no observation and histogram_quantile "
        "returns NaN"
    ),
    "tocsin_delivery_latency_seconds_bucket": (
        "same histogram as above, read by the recording rule that feeds the delivery panel"
    ),
    "tocsin_source_": (
        "live-source series are exported by `tocsin sources run` (its own process and /metrics), "
        "not by the worker this test scrapes; the alert has promtool tests "
        "(deploy/prometheus/tests/sources_test.yml) and the series are read from a running "
        "sources process in tests/integration/test_sources_check.py"
    ),
}
# Expressions that must show activity (a sample > 0) after the replay, not just exist: a zero here
# would mean the pipeline or the query is broken while a pre-initialised series hides it.
MUST_BE_POSITIVE = (
    'up{job="tocsin"',
    "agent:tocsin_agent_messages_in:rate5m",
    "agent:tocsin_agent_messages_out:rate5m",
    "brand_topic:tocsin_mentions_classified:rate5m",
    "tocsin:model_batch_latency_seconds:p99_5m",
    "tocsin:model_batch_size:mean5m",
    "tocsin:buckets_closed:rate5m",
    "brand_topic:tocsin_series_expected:max",
)
# Alerts whose condition depends on the machine rather than on the pipeline's health.
MAY_FIRE: dict[str, str] = {
    "TocsinModelLatencyHigh": "model p99 depends on the CPU left by other jobs on a shared box",
}


@dataclass
class Prometheus:
    """A Prometheus server we started, on a free loopback port, stopped by PID."""

    proc: subprocess.Popen[bytes]
    url: str
    log_path: Path

    def query(self, expr: str) -> list[dict[str, Any]]:
        response = httpx.get(f"{self.url}/api/v1/query", params={"query": expr}, timeout=10)
        body = response.json()
        assert response.status_code == 200 and body["status"] == "success", (expr, body)
        result: list[dict[str, Any]] = body["data"]["result"]
        return result

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


@pytest.fixture()
def start_prometheus(tmp_path: Path) -> Iterator[Callable[[str], Prometheus]]:
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.fail("prometheus not found: run `make setup` (deploy/setup-system.sh installs it)")
    started: list[Prometheus] = []

    def _start(target: str) -> Prometheus:
        config = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(path) for path in sorted(RULES_DIR.glob("*.yml"))],
            "scrape_configs": [
                {"job_name": "tocsin", "static_configs": [{"targets": [target]}]},
            ],
        }
        config_path = tmp_path / "prometheus.yml"
        config_path.write_text(yaml.safe_dump(config))
        port = free_port()
        log_path = tmp_path / "prometheus.log"
        with log_path.open("wb") as log:
            proc = subprocess.Popen(
                [
                    binary,
                    f"--config.file={config_path}",
                    f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                    f"--web.listen-address=127.0.0.1:{port}",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=tmp_path,
            )
        server = Prometheus(proc, f"http://127.0.0.1:{port}", log_path)
        started.append(server)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"prometheus exited: {log_path.read_text()[-2000:]}")
            try:
                if httpx.get(f"{server.url}/-/ready", timeout=2).status_code == 200:
                    return server
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise TimeoutError(f"prometheus not ready; see {log_path}")

    yield _start
    for server in started:
        server.stop()


def wait_until(check: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(1.0)
    raise TimeoutError(f"timed out after {timeout_s:.0f}s waiting for {what}")


def has_data(result: list[dict[str, Any]]) -> bool:
    return any(not math.isnan(float(sample["value"][1])) for sample in result)


def may_be_empty(expr: Expr) -> str | None:
    return next((why for key, why in MAY_BE_EMPTY.items() if key in expr.expr), None)


def test_every_dashboard_and_rule_expression_returns_data(
    broker: Broker,
    start_worker: Callable[..., Worker],
    start_prometheus: Callable[[str], Prometheus],
) -> None:
    # The replay is unpaced (ten hours of event time in seconds), so the worker gets the demo's
    # lateness for that: with the production 120 s, 60 % of it came late and TocsinLateMentions
    # rightly fired on what is, for a replay, a healthy run.
    worker = start_worker(TOCSIN_ALLOWED_LATENESS_S=str(demo_lateness(0)))
    prom = start_prometheus(f"127.0.0.1:{worker.web_port}")
    wait_until(lambda: bool(prom.query('up{job="tocsin"} == 1')), 30, "the first scrape")

    stats = replay(STREAM, bootstrap=broker.bootstrap, limit=REPLAY_LINES)
    assert stats.sent == REPLAY_LINES

    def pipeline_caught_up() -> bool:
        text = worker.metrics_text()
        ingested = metric_value(text, "tocsin_agent_messages_in_total", agent="classify_mentions")
        refused = metric_value(text, "tocsin_dead_letters_total") + metric_value(
            text, "tocsin_mentions_filtered_total"
        )
        classified = metric_value(
            text, "tocsin_agent_messages_out_total", agent="classify_mentions"
        )
        closed = metric_value(text, "tocsin_buckets_closed_total")
        return ingested == REPLAY_LINES and classified == ingested - refused and closed > 0

    wait_until(pipeline_caught_up, 150, "the worker to ingest, classify and close buckets")
    wait_until(
        lambda: has_data(
            prom.query(
                f'sum(tocsin_agent_messages_in_total{{agent="classify_mentions"}}) == {REPLAY_LINES}'
            )
        ),
        30,
        "Prometheus to scrape the final counts",
    )
    time.sleep(3.0)  # a few more scrapes and rule evaluations on the final values

    rules = httpx.get(f"{prom.url}/api/v1/rules", timeout=10).json()["data"]["groups"]
    unhealthy = [
        (rule["name"], rule.get("lastError"))
        for group in rules
        for rule in group["rules"]
        if rule["health"] != "ok"
    ]
    assert unhealthy == []

    report: list[dict[str, Any]] = []
    missing: list[str] = []
    firing: list[str] = []
    empty_allowed: list[str] = []
    for expr in dashboard_exprs(RATE_INTERVAL) + rule_exprs():
        result = prom.query(expr.expr)
        entry: dict[str, Any] = {
            "source": expr.source,
            "kind": expr.kind,
            "expr": expr.expr,
            "result": [{"metric": s["metric"], "value": s["value"][1]} for s in result][:20],
        }
        report.append(entry)
        if expr.kind == "alert":
            name = expr.source.split()[-1]
            for selector in selectors(expr.expr):
                if not prom.query(selector) and may_be_empty(Expr("", "", selector)) is None:
                    missing.append(f"{expr.source}: selector {selector} has no series")
            if result and name not in MAY_FIRE:
                firing.append(f"{name}: {entry['result']}")
            continue
        if has_data(result):
            if any(key in expr.expr for key in MUST_BE_POSITIVE) and not any(
                float(sample["value"][1]) > 0 for sample in result
            ):
                missing.append(f"{expr.source}: {expr.expr} is all zero after the replay")
            continue
        if (why := may_be_empty(expr)) is not None:
            empty_allowed.append(f"{expr.source}: {why}")
            continue
        missing.append(f"{expr.source}: {expr.expr} -> {result}")

    if path := os.environ.get("TOCSIN_PROM_REPORT"):
        Path(path).write_text(
            json.dumps({"queries": report, "empty_allowed": empty_allowed}, indent=2)
        )
    kinds = {kind: sum(1 for e in report if e["kind"] == kind) for kind in ("panel", "variable")}
    assert kinds["panel"] >= 20 and kinds["variable"] >= 3
    assert missing == [], "\n".join(missing)
    assert firing == [], "alerts fire on a healthy replay:\n" + "\n".join(firing)
