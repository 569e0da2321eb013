"""Static checks of deploy/Dockerfile and deploy/compose.yaml (no Docker engine runs here).

They cannot prove the image builds; they catch what breaks silently: a COPY of a path that does
not exist or is filtered out of the build context, a root user, a missing health check, a bind
mount of a file that is not in the repository, a port published on every interface, and
Prometheus / Grafana wiring that does not match the rules, dashboards and provisioning files.
"""

from __future__ import annotations

import fnmatch
import re
import shlex
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[3]
DEPLOY = REPO / "deploy"
DOCKERFILE = DEPLOY / "Dockerfile"


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs with line continuations joined and comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    out: list[tuple[str, str]] = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def ignored(path: str) -> bool:
    """Whether ``path`` is filtered out by deploy/Dockerfile.dockerignore (last match wins)."""
    verdict = False
    for pattern in (DEPLOY / "Dockerfile.dockerignore").read_text().splitlines():
        pattern = pattern.strip()
        if not pattern or pattern.startswith("#"):
            continue
        negate = pattern.startswith("!")
        pattern = pattern.lstrip("!").rstrip("/")
        if fnmatch.fnmatch(path, pattern) or path.startswith(pattern + "/"):
            verdict = not negate
    return verdict


def test_dockerfile_is_multi_stage_and_copies_what_exists() -> None:
    steps = instructions()
    stages = [args for word, args in steps if word == "FROM"]
    assert (
        len(stages) == 2 and stages[0].endswith("AS builder") and stages[1].endswith("AS runtime")
    )
    for word, args in steps:
        if word == "COPY" and not args.startswith("--from"):
            *sources, _dest = shlex.split(args)
            for source in sources:
                assert (REPO / source).exists(), source
                assert not ignored(source.rstrip("/")), f"{source} is excluded from the context"
    runtime = steps[[i for i, (w, _) in enumerate(steps) if w == "FROM"][1] :]
    copies = [args for word, args in runtime if word == "COPY"]
    assert copies and all(c.startswith("--from=builder") for c in copies)


def test_runtime_is_non_root_with_healthcheck_and_entrypoint() -> None:
    steps = instructions()
    runtime = steps[[i for i, (w, _) in enumerate(steps) if w == "FROM"][1] :]
    args = {word: value for word, value in runtime}
    assert args["USER"] == "${UID}:${UID}"
    assert re.search(r"ARG UID=(\d+)", DOCKERFILE.read_text()).group(1) != "0"  # type: ignore[union-attr]
    assert "/healthz" in args["HEALTHCHECK"]
    assert args["ENTRYPOINT"] == '["tocsin"]'
    assert args["CMD"] == '["worker", "-l", "info"]'
    env = args["ENV"]
    assert "TOCSIN_MODEL_DIR=/opt/tocsin/model" in env and "WEB_BIND=0.0.0.0" in env
    assert "PYTHONDONTWRITEBYTECODE=1" in env  # read-only root filesystem friendly


def test_model_is_built_in_the_builder_not_at_runtime() -> None:
    text = DOCKERFILE.read_text()
    assert "tocsin model build" in text
    builder, runtime = text.split("AS runtime")
    assert "tocsin model build" in builder and "model build" not in runtime


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    return loaded


def test_compose_services_and_mounts() -> None:
    services = compose()["services"]
    assert set(services) == {
        "kafka",
        "topics",
        "worker",
        "prometheus",
        "alertmanager",
        "grafana",
    }
    assert services["kafka"]["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert services["worker"]["read_only"] is True
    assert services["topics"]["build"]["dockerfile"] == "deploy/Dockerfile"
    for name, service in services.items():
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} on every interface"
        for volume in service.get("volumes", []):
            source = str(volume).split(":", 1)[0]
            if source.startswith("./"):
                assert (DEPLOY / source).exists(), f"{name} mounts missing {source}"


def test_compose_wires_rules_dashboards_and_provisioning() -> None:
    services = compose()["services"]
    prom_mounts = services["prometheus"]["volumes"]
    assert "./prometheus/rules:/etc/prometheus/rules:ro" in prom_mounts
    config = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    assert config["rule_files"] == ["/etc/prometheus/rules/*.yml"]
    targets = [
        t
        for job in config["scrape_configs"]
        if job["job_name"] == "tocsin"
        for sc in job["static_configs"]
        for t in sc["targets"]
    ]
    assert targets == ["worker:6066"]
    provider = yaml.safe_load(
        (DEPLOY / "grafana" / "provisioning" / "dashboards" / "tocsin.yml").read_text()
    )["providers"][0]
    assert (
        f"./grafana/dashboards:{provider['options']['path']}:ro" in services["grafana"]["volumes"]
    )
    datasource = yaml.safe_load(
        (DEPLOY / "grafana" / "provisioning" / "datasources" / "prometheus.yml").read_text()
    )["datasources"][0]
    assert datasource["url"] == "http://prometheus:9090"
