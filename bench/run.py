"""``python -m bench.run [--quick]``: the benchmark, every figure from one run on this machine.

What it starts (all on 127.0.0.1, free ports, state in a fresh folder under ``$TOCSIN_CACHE/run``,
everything stopped by the PID it started): a Kafka broker (``deploy/kafka/kafka.sh``), one then two
``tocsin worker`` processes, a webhook endpoint that records when each alert step arrives, and a
producer that drives the demo stream (``bench/stream.py``) at controlled rates.

Phases, in this order, each bounded in count and time (``--phases`` selects; the probe is needed by
everything after it unless ``--capacity`` gives its figure):

1. ``raw``: the bare model in its own process (``bench/rawmodel.py``), before the broker starts;
2. ``probe``: one worker saturated (closed loop, fixed backlog): capacity C in mentions/s;
3. ``sustained``: open loop at 80 % of C, lag slope over the phase (flat = the fitted line adds
   less than 5 s of input over the whole phase); the recurring crisis gives the latency samples;
4. ``burst``: base rate B = C/10, then 20 x B (= 2 x C) for the burst time, then B again until the
   group's lag is back to zero, against a bound computed from C and stated before the phase;
5. ``scaleout``: closed-loop probe with one worker, a second worker joins the group, probe again;
   per-worker efficiency = C2 / (2 x C1);
6. ``raw`` again at the end, to show how much the shared machine moved in between.

Results: ``bench/results/latest.json`` (figures and the raw samples), ``latest.md`` (tables) and
``latest.png`` (throughput, lag and CPU over the run).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil

from bench.driver import Driver
from bench.receiver import AlertReceiver
from bench.report import analyse, render_markdown
from bench.sampler import LagReader, Sampler
from bench.stream import LapStream
from models.classifier import default_artefact_dir
from pipeline.brands import load_brands
from pipeline.ops.demo import PIPELINE_TOPICS
from pipeline.ops.procs import REPO, Broker, Worker, free_port
from pipeline.settings import default_cache_dir, make_settings

RESULTS = REPO / "bench" / "results"
STREAM = REPO / "deploy" / "demo" / "stream.jsonl"
CRISIS = REPO / "deploy" / "demo" / "crisis.json"
ALL_PHASES = ("probe", "sustained", "burst", "scaleout")
HISTORY_S = 6 * 3600  # event time the detector sees before the first crisis


@dataclass(frozen=True)
class Profile:
    """Durations in seconds; ``quick`` is what ``make bench`` runs, ``full`` the committed results."""

    name: str
    raw_s: float
    probe_s: float
    sustained_s: float
    burst_s: float
    scale_s: float
    drain_s: float = 120.0  # longest wait for lag to reach zero between phases
    backlog_s: float = 8.0  # closed-loop probes: seconds of work kept in flight
    load: float = 0.8  # sustained rate as a share of capacity
    base_fraction: float = 0.1  # burst phase base rate as a share of capacity
    burst_multiplier: float = 20.0


PROFILES = {
    "quick": Profile(
        "quick", raw_s=8, probe_s=30, sustained_s=120, burst_s=20, scale_s=30, drain_s=45
    ),
    "full": Profile("full", raw_s=20, probe_s=90, sustained_s=600, burst_s=120, scale_s=90),
}


def artefact_dir() -> Path:
    """The built classifier (``make bench`` builds it first); transformers is not imported here."""
    folder = default_artefact_dir()
    if not (folder / "meta.json").is_file():
        raise SystemExit(f"no model artefacts in {folder}: run `make model` first")
    return folder


def source_commit() -> str | None:
    """The commit benchmarked: ``$TOCSIN_BENCH_COMMIT`` (set when running from an export) or git."""
    if os.environ.get("TOCSIN_BENCH_COMMIT"):
        return os.environ["TOCSIN_BENCH_COMMIT"]
    try:
        out = subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def brand_partitions(stream: LapStream) -> dict[str, Any]:
    """Partition of ``mentions.classified`` each brand key lands on (murmur2), its share of lines.

    Counting and detection are keyed by brand, so they spread over only as many partitions as
    there are distinct brand hashes; classification reads ``mentions.raw``, keyed by mention id,
    and spreads over all of them (``classify_split`` in the results).
    """
    from kafka.partitioner.default import murmur2

    from pipeline.topology import CLASSIFIED

    counts: dict[str, int] = {}
    for line in stream.lines:
        if line.brand:
            counts[line.brand] = counts.get(line.brand, 0) + 1
    total = sum(counts.values())
    return {
        brand: {
            "partition": (murmur2(brand.encode()) & 0x7FFFFFFF) % CLASSIFIED.partitions,
            "share": round(n / total, 3),
        }
        for brand, n in sorted(counts.items())
    }


def log(message: str) -> None:
    print(f"[bench {datetime.now(UTC):%H:%M:%S}] {message}", flush=True)


@dataclass
class Run:
    profile: Profile
    phases: tuple[str, ...]
    capacity: float | None
    out_dir: Path
    keep_state: bool = False
    run_dir: Path = field(init=False)
    timeline: list[dict[str, Any]] = field(default_factory=list)
    figures: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        stamp = f"{datetime.now():%Y%m%d-%H%M%S}-{os.getpid()}"
        self.run_dir = default_cache_dir() / "run" / f"bench-{stamp}"
        settings = make_settings()
        self.bucket_s = settings.bucket_seconds
        self.lateness_s = settings.allowed_lateness_s
        self.stream = LapStream(STREAM, CRISIS, load_brands(settings.brands_file))
        self.secret = secrets.token_hex(24)
        self.workers: list[Worker] = []

    # -- phases bookkeeping --------------------------------------------------------------------
    def begin(self, name: str, **info: Any) -> dict[str, Any]:
        entry = {"name": name, "start": time.time(), "end": None, **info}
        self.timeline.append(entry)
        self.sampler.phase = name
        log(f"phase {name} {info if info else ''}")
        return entry

    def end(self, entry: dict[str, Any]) -> None:
        entry["end"] = time.time()
        self.sampler.phase = "idle"

    def classified(self) -> float:
        """Mentions through the model *and* the counting stage behind it (the closed loop's
        "done"), so a probe saturates the whole pipeline without an unbounded backlog."""
        return min(self.sampler.total("classified"), self.sampler.total("counted"))

    def total_lag(self) -> int | None:
        last = self.sampler.last()
        return None if last is None or last["lag"] is None else int(sum(last["lag"].values()))

    def wait_drained(self, timeout_s: float, name: str = "drain") -> float | None:
        """Run a ``drain`` phase until lag is zero for two samples; seconds taken or None."""
        entry = self.begin(name)
        started = time.monotonic()
        zeros = 0
        seen = len(self.sampler.samples)
        try:
            while time.monotonic() - started < timeout_s:
                time.sleep(0.5)
                if len(self.sampler.samples) == seen:
                    continue
                seen = len(self.sampler.samples)
                lag = self.total_lag()
                zeros = zeros + 1 if lag == 0 else 0
                if zeros >= 2:
                    return time.monotonic() - started
            log(f"not drained after {timeout_s:.0f}s (lag {self.total_lag()})")
            return None
        finally:
            self.end(entry)

    def estimated_capacity(self) -> float:
        """Before the probe: 0.6 x the raw model rate (what the pipeline kept on this machine in
        trial runs; erring low puts the crisis earlier in the sustained phase, not after it);
        after the probe, the measured capacity."""
        measured = self.figures.get("capacity")
        return float(measured or 0.6 * self.figures["raw_start"]["texts_per_s"])

    def backlog(self) -> int:
        """Closed-loop backlog: enough for several full batches, small enough to drain fast."""
        return max(96, round(self.estimated_capacity() * self.profile.backlog_s))

    def start_position(self) -> int:
        """Where in lap 0 to start, so the crisis lands about a quarter into the sustained phase.

        Starting late in the file costs nothing (the state is fresh, there is no gap in event
        time), but the detector needs history before the crisis: at least ``HISTORY_S`` of event
        time is kept before it. With a capacity far from the estimate the crisis may land in the
        probe or after the sustained phase; the sustained phase of the full profile is longer than
        a lap at any capacity above ~12 mentions/s, so it then still sees the next lap's crisis.
        """
        p = self.profile
        est = self.estimated_capacity()
        before = est * (p.probe_s + 0.25 * p.load * p.sustained_s) + self.backlog()
        first_crisis = next(i for i, ln in enumerate(self.stream.lines) if ln.crisis)
        history_from = self.stream.crisis.start - HISTORY_S
        latest = next(
            i
            for i, ln in enumerate(self.stream.lines)
            if ln.at is not None and ln.at >= history_from
        )
        return max(0, min(first_crisis - round(before), latest))

    # -- processes -----------------------------------------------------------------------------
    def raw_model(self, label: str) -> dict[str, Any]:
        artefacts = artefact_dir()
        log(f"raw model ({label}), {self.profile.raw_s:.0f}s, batch {make_settings().batch_size}")
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "bench.rawmodel",
                str(artefacts),
                str(STREAM),
                str(CRISIS),
                str(self.profile.raw_s),
                str(make_settings().batch_size),
            ],
            capture_output=True,
            text=True,
            timeout=300,
            check=True,
            cwd=REPO,
            env={**os.environ, "PYTHONPATH": str(REPO)},
        )
        figures: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
        log(f"raw model ({label}): {figures['texts_per_s']} texts/s")
        return figures

    def keep_worker_logs(self) -> None:
        """Copy the workers' logs out of the state folder before it is deleted.

        A commit that stops advancing (seen once in a full run, log lost with the folder) can only
        be diagnosed from the worker's own log: agent crashes, rebalances, keep-alive failures.
        """
        dest = default_cache_dir() / "run" / f"{self.run_dir.name}-logs"
        for worker in self.workers:
            if worker.log_path is not None and worker.log_path.exists():
                dest.mkdir(parents=True, exist_ok=True)
                shutil.copy2(worker.log_path, dest / f"{worker.data_dir.name}.log")
        if dest.exists():
            log(f"worker logs kept in {dest}")

    def start_worker(self, name: str) -> Worker:
        worker = Worker(
            bootstrap=self.broker.bootstrap,
            data_dir=self.run_dir / name,
            env={
                "TOCSIN_MODEL_DIR": str(artefact_dir()),
                "TOCSIN_WEBHOOK_URL": self.receiver.url,
                "TOCSIN_WEBHOOK_SECRET": self.secret,
                "TOCSIN_CONSOLE_ALERTS": "false",
                # laps shift the stream 2 days per lap, past today's date: accept them
                "TOCSIN_MAX_FUTURE_S": str(366 * 86400),
            },
        )
        worker.start(loglevel="warn")
        self.workers.append(worker)
        worker.wait_ready(timeout_s=240)
        assert worker.proc is not None
        self.sampler.watch(name, worker.proc.pid, worker.url)
        log(f"{name} ready on {worker.url} (pid {worker.proc.pid})")
        return worker

    # -- the run -------------------------------------------------------------------------------
    def execute(self) -> dict[str, Any]:
        started = time.time()
        load_start = os.getloadavg()
        self.figures["raw_start"] = self.raw_model("start")
        self.receiver = AlertReceiver(self.secret.encode()).start()
        self.broker = Broker(port=free_port(), data_dir=self.run_dir / "kafka")
        driver: Driver | None = None
        lag: LagReader | None = None
        try:
            self.broker.start()
            from pipeline.ops.topics import ensure_topics

            ensure_topics(self.broker.bootstrap)
            lag = LagReader(self.broker.bootstrap, "tocsin", PIPELINE_TOPICS)
            driver = Driver(self.stream, self.broker.bootstrap, start=self.start_position())
            self.driver = driver
            self.sampler = Sampler(lag=lag, produced=lambda: driver.sent if driver else 0)
            self.sampler.watch("harness", os.getpid())
            broker_pid = int((self.broker.data_dir / "kafka.pid").read_text().strip())
            self.sampler.watch("broker", broker_pid)
            self.sampler.start()
            self.start_worker("worker-1")
            self._phases(driver)
        finally:
            for worker in self.workers:
                worker.stop()
            if hasattr(self, "sampler"):
                self.sampler.stop()
            if driver is not None:
                driver.close()
            if lag is not None:
                lag.close()
            self.broker.stop()
            self.receiver.stop()
            self.keep_worker_logs()
            if not self.keep_state:
                shutil.rmtree(self.run_dir, ignore_errors=True)
        self.figures["raw_end"] = self.raw_model("end")
        return {
            "command": " ".join(["python -m bench.run", *sys.argv[1:]]),
            "profile": self.profile.__dict__,
            "started_at": datetime.fromtimestamp(started, UTC).isoformat(),
            "wall_s": round(time.time() - started, 1),
            "machine": {
                "cpus": psutil.cpu_count(),
                "loadavg_start": [round(x, 2) for x in load_start],
                "loadavg_end": [round(x, 2) for x in os.getloadavg()],
                "note": "shared machine: other jobs ran during the benchmark (see loadavg); "
                "absolute rates move with them, ratios measured minutes apart less so",
            },
            "commit": source_commit(),
            "settings": {"bucket_s": self.bucket_s, "lateness_s": self.lateness_s},
            "brand_partitions": brand_partitions(self.stream),
            "stream": {
                "file": str(STREAM.relative_to(REPO)),
                "lines_per_lap": len(self.stream),
                "lap_days": self.stream.span / 86400,
            },
            "timeline": self.timeline,
            "figures": self.figures,
            "receipts": [r.__dict__ for r in self.receiver.snapshot()],
            "sent_wall": self.driver.wall,
            "sent_start": self.driver.start,
            "samples": self.sampler.samples,
        }

    def _capacity_probe(self, driver: Driver, name: str, seconds: float) -> dict[str, Any]:
        entry = self.begin(name, workers=len(self.workers))
        start_count = self.classified()
        sent = driver.run_backlog(self.backlog(), seconds, self.classified, start_count)
        self.end(entry)
        entry["sent"] = sent
        self.wait_drained(self.profile.drain_s)
        return entry

    def _phases(self, driver: Driver) -> None:
        from bench.report import lag_series, phase_rate, recovery_threshold

        p = self.profile
        capacity = self.capacity
        if "probe" in self.phases:
            entry = self._capacity_probe(driver, "probe", p.probe_s)
            classified = phase_rate(self.sampler.samples, entry, "classified")
            counted = phase_rate(self.sampler.samples, entry, "counted")
            # The slower of the model stage and the counting stage behind it: on a CPU-starved
            # machine the event loop (count, detect) falls behind the model thread, and a
            # "sustained" rate above what counting keeps up with would grow lag by design.
            capacity = min((r for r in (classified, counted) if r is not None), default=None)
            log(f"capacity (1 worker): classify {classified}/s, count {counted}/s")
        if capacity is None or capacity <= 0:
            raise SystemExit("no capacity figure: run the probe phase or pass --capacity")
        self.figures["capacity"] = capacity
        if "sustained" in self.phases:
            rate = p.load * capacity
            entry = self.begin("sustained", rate=round(rate, 1))
            entry["sent"] = driver.run_rate(rate, p.sustained_s)
            self.end(entry)
            self.wait_drained(self.profile.drain_s)
        if "burst" in self.phases:
            base = p.base_fraction * capacity
            peak = p.burst_multiplier * base
            backlog = max(0.0, (peak - capacity) * p.burst_s)
            expected = backlog / max(capacity - base, 1e-9)
            bound = 2 * expected + 30
            entry = self.begin("burst-base", rate=round(base, 1))
            entry["sent"] = driver.run_rate(base, 15)
            self.end(entry)
            base_lags = lag_series(self.sampler.samples, entry["start"], entry["end"])[1]
            entry = self.begin("burst", rate=round(peak, 1))
            entry["sent"] = driver.run_rate(peak, p.burst_s)
            self.end(entry)
            entry = self.begin(
                "recovery",
                rate=round(base, 1),
                expected_s=round(expected, 1),
                bound_s=round(bound, 1),
            )
            entry["threshold"] = recovery_threshold(base_lags, base)
            sent = 0
            settled = 0
            deadline = time.monotonic() + 1.5 * bound + 30
            while time.monotonic() < deadline and settled < 3:
                sent += driver.run_rate(base, 2.0)
                lag = self.total_lag()
                settled = settled + 1 if lag is not None and lag <= entry["threshold"] else 0
            entry["sent"] = sent
            self.end(entry)
        if "scaleout" in self.phases:
            self._capacity_probe(driver, "scale-1w", p.scale_s)
            entry = self.begin("scale-join")
            self.start_worker("worker-2")
            entry["sent"] = driver.run_rate(p.base_fraction * capacity, 15)
            self.end(entry)
            self._capacity_probe(driver, "scale-2w", p.scale_s)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--quick", action="store_true", help="~6 minute profile (make bench)")
    ap.add_argument(
        "--phases", default=",".join(ALL_PHASES), help="comma list of " + ",".join(ALL_PHASES)
    )
    ap.add_argument("--capacity", type=float, help="mentions/s to use instead of probing")
    ap.add_argument("--sustained-s", type=float, help="override the sustained phase length")
    ap.add_argument("--out", type=Path, default=RESULTS, help="results folder")
    ap.add_argument("--name", default="latest", help="results file stem")
    ap.add_argument("--keep-state", action="store_true", help="keep broker/worker folders")
    ap.add_argument("--reanalyse", type=Path, help="recompute the results from a saved raw record")
    args = ap.parse_args(argv)
    profile = PROFILES["quick" if args.quick else "full"]
    if args.sustained_s:
        profile = Profile(**{**profile.__dict__, "sustained_s": args.sustained_s})
    phases = tuple(x for x in args.phases.split(",") if x)
    unknown = set(phases) - set(ALL_PHASES)
    if unknown:
        ap.error(f"unknown phases: {sorted(unknown)}")
    if args.reanalyse:
        raw = json.loads(args.reanalyse.read_text())
    else:
        run = Run(profile, phases, args.capacity, args.out, keep_state=args.keep_state)
        raw = run.execute()
        # The raw record first, outside the clone: a bug in the analysis must not cost the run.
        saved = default_cache_dir() / "run" / f"bench-raw-{datetime.now():%Y%m%d-%H%M%S}.json"
        saved.write_text(json.dumps(raw, default=str))
        log(f"raw record: {saved} (python -m bench.run --reanalyse {saved})")
    settings = make_settings()
    results = analyse(raw, LapStream(STREAM, CRISIS, load_brands(settings.brands_file)))
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{args.name}.json").write_text(json.dumps(results, indent=1, default=str))
    (args.out / f"{args.name}.md").write_text(render_markdown(results))
    from bench.plot import plot

    plot(results, args.out / f"{args.name}.png")
    print(render_markdown(results))
    log(f"wrote {args.out}/{args.name}.json, .md, .png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
