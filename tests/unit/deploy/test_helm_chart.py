"""The Helm chart in helm/tocsin: lint, schema, rendering of every ci/*-values.yaml scenario,
Kubernetes validation of every rendered manifest, and the properties a reviewer would check by
hand (non-root, read-only root filesystem, probes, config checksum, shared alert rules).

Rendering uses helm-python-sdk (Helm 4 engine, no helm binary) and validation
kubernetes-validate (offline schemas); both come from the [dev] extra.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import helm_python as helm  # dev dependencies: a missing one fails the run, never skips
import kubernetes_validate as kv
import pytest
import yaml

from pipeline.brands import load_brands
from pipeline.pv.regions import load_markets
from pipeline.settings_kafka import KafkaSettings
from pipeline.sources.config import load_sources

REPO = Path(__file__).resolve().parents[3]
CHART = REPO / "helm" / "tocsin"
SCENARIOS = sorted((CHART / "ci").glob("*-values.yaml"))
# Kubernetes version the manifests are validated against: the newest the validator knows.
KUBE_VERSION = kv.latest_version()
CRD_KINDS = {"ServiceMonitor", "PrometheusRule"}  # not in the core schemas


def render(values: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    with helm.Chart.load(str(CHART)) as chart:
        chart.validate_schema(values or {})
        out: dict[str, str] = chart.render(values=values or {}, name="rel", namespace="comms")
    docs: list[dict[str, Any]] = []
    for path, text in out.items():
        if path.endswith(".yaml"):
            docs.extend(d for d in yaml.safe_load_all(text) if d)
    return docs


def by_kind(docs: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    (doc,) = [d for d in docs if d["kind"] == kind]
    return doc


@pytest.fixture(params=SCENARIOS, ids=lambda p: p.name)
def scenario(request: pytest.FixtureRequest) -> dict[str, Any]:
    path: Path = request.param
    loaded: dict[str, Any] = yaml.safe_load(path.read_text()) or {}
    return loaded


def test_there_are_ci_scenarios() -> None:
    assert len(SCENARIOS) >= 3


def test_lint_strict_is_clean() -> None:
    report = helm.lint(str(CHART), strict=True)
    assert report["errors"] == []
    assert [m for m in report["messages"] if m["severity"] >= 2] == []


def test_scenario_renders_and_every_manifest_validates(
    scenario: dict[str, Any], tmp_path: Path
) -> None:
    docs = render(scenario)
    kinds = {d["kind"] for d in docs}
    assert {"Deployment", "Service", "ServiceAccount"} <= kinds
    for doc in docs:
        if doc["kind"] in CRD_KINDS:
            assert doc["apiVersion"] == "monitoring.coreos.com/v1"
            continue
        kv.validate(doc, KUBE_VERSION, strict=True)  # raises ValidationError


def by_name(docs: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    (doc,) = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    return doc


def workload(docs: list[dict[str, Any]]) -> dict[str, Any]:
    """The workers' pod template (the live sources' Deployment, when enabled, is another)."""
    pod: dict[str, Any] = by_name(docs, "Deployment", "rel-tocsin")["spec"]["template"]
    return pod


def test_security_context_non_root_read_only(scenario: dict[str, Any]) -> None:
    pod = workload(render(scenario))
    assert pod["spec"]["securityContext"]["runAsNonRoot"] is True
    assert pod["spec"]["securityContext"]["runAsUser"] != 0
    assert pod["spec"]["automountServiceAccountToken"] is False
    (container,) = pod["spec"]["containers"]
    ctx = container["securityContext"]
    assert ctx["readOnlyRootFilesystem"] is True
    assert ctx["allowPrivilegeEscalation"] is False
    assert ctx["capabilities"]["drop"] == ["ALL"]
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["spec"]["volumes"]}
    for path in ("/var/lib/tocsin", "/tmp"):  # the only writable paths, both emptyDirs
        assert "emptyDir" in volumes[mounts[path]]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["APP_DATADIR"].startswith("/var/lib/tocsin/")


def test_probes(scenario: dict[str, Any]) -> None:
    (container,) = workload(render(scenario))["spec"]["containers"]
    assert container["startupProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports["http"] == scenario.get("web", {}).get("port", 6066)


def checksum(values: dict[str, Any]) -> str:
    annotation: str = workload(render(values))["metadata"]["annotations"]["checksum/config"]
    return annotation


def test_config_checksum_follows_the_brands_configmap() -> None:
    one = {"config": {"brands": "brands: []\n"}}
    two = {"config": {"brands": "brands:\n  - id: other\n    name: Other\n"}}
    assert re.fullmatch(r"[0-9a-f]{64}", checksum(one))
    assert checksum(one) == checksum(one)
    assert checksum(one) != checksum(two) != checksum({})
    docs = render(two)
    config_map = by_name(docs, "ConfigMap", "rel-tocsin-config")
    assert config_map["data"]["brands.yaml"] == two["config"]["brands"]
    (container,) = workload(docs)["spec"]["containers"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["TOCSIN_BRANDS_FILE"] == "/etc/tocsin/brands.yaml"
    assert not [d for d in render({}) if d["kind"] == "ConfigMap"]


def test_pv_markets_file_comes_from_the_config_map_when_set() -> None:
    markets = (REPO / "pipeline" / "config" / "pv_markets.yaml").read_text()
    values = {"config": {"pvMarkets": markets}}
    docs = render(values)
    config_map = by_name(docs, "ConfigMap", "rel-tocsin-config")
    assert config_map["data"] == {"pv_markets.yaml": markets}
    pod = workload(docs)
    (container,) = pod["spec"]["containers"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["TOCSIN_PV_MARKETS_FILE"] == "/etc/tocsin/pv_markets.yaml"
    assert "TOCSIN_BRANDS_FILE" not in env
    assert {"name": "config", "mountPath": "/etc/tocsin", "readOnly": True} in container[
        "volumeMounts"
    ]
    assert checksum(values) != checksum({})
    both = render({"config": {"pvMarkets": markets, "brands": "brands: []\n"}})
    assert set(by_name(both, "ConfigMap", "rel-tocsin-config")["data"]) == {
        "brands.yaml",
        "pv_markets.yaml",
    }


def test_ci_brands_and_pv_markets_are_valid_for_the_worker(tmp_path: Path) -> None:
    checked = 0
    for path in SCENARIOS:
        config = (yaml.safe_load(path.read_text()) or {}).get("config", {})
        if brands := config.get("brands"):
            target = tmp_path / f"{path.stem}-brands.yaml"
            target.write_text(brands)
            load_brands(target)  # raises with file/field on an invalid catalogue
        if markets := config.get("pvMarkets"):
            target = tmp_path / f"{path.stem}-pv_markets.yaml"
            target.write_text(markets)
            load_markets(target)  # raises with file/line/field on an invalid file
            checked += 1
    assert checked >= 1


def test_monitoring_objects_behind_flags() -> None:
    kinds = {d["kind"] for d in render({})}
    assert not kinds & (CRD_KINDS | {"HorizontalPodAutoscaler", "NetworkPolicy"})
    docs = render(
        {
            "serviceMonitor": {"enabled": True},
            "prometheusRule": {"enabled": True},
            "autoscaling": {"enabled": True},
            "networkPolicy": {"enabled": True},
        }
    )
    monitor = by_kind(docs, "ServiceMonitor")
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint["port"] == "http" and endpoint["path"] == "/metrics"
    assert {"action": "replace", "targetLabel": "job", "replacement": "tocsin"} in endpoint[
        "relabelings"
    ]
    shipped = yaml.safe_load((REPO / "deploy/prometheus/rules/tocsin.rules.yml").read_text())
    assert by_kind(docs, "PrometheusRule")["spec"]["groups"] == shipped["groups"]
    assert "replicas" not in by_name(docs, "Deployment", "rel-tocsin")["spec"]  # the HPA owns it


def test_hpa_scales_on_lag_only_when_a_target_is_set() -> None:
    hpa = by_kind(render({"autoscaling": {"enabled": True}}), "HorizontalPodAutoscaler")
    assert [m["type"] for m in hpa["spec"]["metrics"]] == ["Resource"]
    assert hpa["spec"]["behavior"]["scaleDown"]["stabilizationWindowSeconds"] == 600
    docs = render({"autoscaling": {"enabled": True, "lag": {"targetAverageValue": 3000}}})
    hpa = by_kind(docs, "HorizontalPodAutoscaler")
    kv.validate(hpa, KUBE_VERSION, strict=True)
    cpu, lag = hpa["spec"]["metrics"]
    assert cpu["resource"]["name"] == "cpu"
    assert lag == {
        "type": "Pods",
        "pods": {
            "metric": {"name": "tocsin_classify_lag"},
            "target": {"type": "AverageValue", "averageValue": "3000"},
        },
    }
    with helm.Chart.load(str(CHART)) as chart, pytest.raises(helm.HelmValuesError):
        chart.validate_schema({"autoscaling": {"lag": {"targetAverageValue": -1}}})


def test_chart_rules_are_a_verbatim_copy_of_deploy_rules() -> None:
    chart_copy = (CHART / "files" / "tocsin.rules.yml").read_bytes()
    assert chart_copy == (REPO / "deploy/prometheus/rules/tocsin.rules.yml").read_bytes(), (
        "run: cp deploy/prometheus/rules/tocsin.rules.yml helm/tocsin/files/"
    )


def undocumented_keys(text: str) -> list[str]:
    """Keys of values.yaml with no ``# --`` comment on themselves or on an enclosing key.

    A key that opens a mapping without a comment is a section header: its children must then be
    documented one by one. A commented key documents its whole block (e.g. ``resources``).
    """
    lines = text.splitlines()
    documented_indents: list[int] = []  # indents of enclosing keys that carry a comment
    missing: list[str] = []
    for i, line in enumerate(lines):
        match = re.match(r"^(\s*)([A-Za-z]\w*):(.*)$", line)
        if match is None:
            continue
        indent = len(match.group(1))
        documented_indents = [d for d in documented_indents if d < indent]
        previous = next((ln for ln in reversed(lines[:i]) if ln.strip()), "")
        commented = previous.strip().startswith("#")
        if commented:
            documented_indents.append(indent)
            continue
        if documented_indents:
            continue
        following = next((ln for ln in lines[i + 1 :] if ln.strip()), "")
        opens_mapping = not match.group(3).strip() and (
            len(following) - len(following.lstrip()) > indent
        )
        if not opens_mapping:
            missing.append(f"line {i + 1}: {match.group(2)}")
    return missing


def test_every_value_is_commented_and_in_the_schema() -> None:
    text = (CHART / "values.yaml").read_text()
    assert undocumented_keys(text) == []
    assert len(re.findall(r"^\s*# -- ", text, flags=re.MULTILINE)) >= 40
    with helm.Chart.load(str(CHART)) as chart:
        chart.validate_schema({})
        with pytest.raises(helm.HelmValuesError):
            chart.validate_schema({"replicaCuont": 2})
        with pytest.raises(helm.HelmValuesError):
            chart.validate_schema({"securityContext": {"allowPrivilegeEscalation": True}})


def test_service_monitor_sends_the_metrics_token_when_configured() -> None:
    plain = by_kind(render({"serviceMonitor": {"enabled": True}}), "ServiceMonitor")
    assert "authorization" not in plain["spec"]["endpoints"][0]
    docs = render(
        {"serviceMonitor": {"enabled": True, "metricsTokenSecret": {"name": "tocsin-secrets"}}}
    )
    (endpoint,) = by_kind(docs, "ServiceMonitor")["spec"]["endpoints"]
    assert endpoint["authorization"] == {
        "type": "Bearer",
        "credentials": {"name": "tocsin-secrets", "key": "TOCSIN_METRICS_TOKEN"},
    }


def test_live_sources_run_as_one_owner_with_their_file_and_secrets(tmp_path: Path) -> None:
    values = yaml.safe_load((CHART / "ci" / "sources-values.yaml").read_text())
    docs = render(values)
    deployment = by_name(docs, "Deployment", "rel-tocsin-sources")
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}
    pod = deployment["spec"]["template"]
    (container,) = pod["spec"]["containers"]
    assert container["args"] == ["sources", "run"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["TOCSIN_BOOTSTRAP"] == (
        "kafka-0.kafka-headless.kafka:9092,kafka-1.kafka-headless.kafka:9092"
    )
    assert env["TOCSIN_SOURCES_FILE"] == "/etc/tocsin-sources/sources.yaml"
    assert env["TOCSIN_BRANDS_FILE"] == "/etc/tocsin/brands.yaml"
    assert [ref["secretRef"]["name"] for ref in container["envFrom"]] == [
        "tocsin-secrets",
        "tocsin-source-tokens",
    ]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert pod["spec"]["securityContext"]["runAsNonRoot"] is True
    assert container["livenessProbe"]["httpGet"] == {"path": "/metrics", "port": "metrics"}
    # The worker's Service must not send traffic to the sources pod.
    selector = by_kind(docs, "Service")["spec"]["selector"]
    labels = pod["metadata"]["labels"]
    assert not all(labels.get(k) == v for k, v in selector.items())
    # The file the chart mounts is a valid sources file for `tocsin sources run`.
    text = by_name(docs, "ConfigMap", "rel-tocsin-sources")["data"]["sources.yaml"]
    target = tmp_path / "sources.yaml"
    target.write_text(text)
    parsed = load_sources(target, env={"TOCSIN_MASTODON_TOKEN": "a-real-token-0123"})
    assert [entry.name for entry in parsed.sources] == ["bsky", "fedi", "news"]
    # A change of the file rolls the pod.
    changed = {**values, "sources": {**values["sources"], "config": text.replace("900", "600")}}
    again = by_name(render(changed), "Deployment", "rel-tocsin-sources")["spec"]["template"]
    before = pod["metadata"]["annotations"]["checksum/config"]
    assert again["metadata"]["annotations"]["checksum/config"] != before
    assert not [d for d in render({}) if d["metadata"]["name"].endswith("-sources")]


def test_sources_enabled_without_a_file_fails_to_render() -> None:
    with pytest.raises(helm.HelmRenderError, match=r"sources\.config .* is required"):
        render({"sources": {"enabled": True}})


def kafka_env(docs: list[dict[str, Any]]) -> dict[str, Any]:
    (container,) = workload(docs)["spec"]["containers"]
    return {
        e["name"]: e.get("value", e.get("valueFrom"))
        for e in container["env"]
        if e["name"].startswith("TOCSIN_KAFKA_")
    }


def test_managed_kafka_settings_come_from_secret_references() -> None:
    """SASL_SSL with SCRAM and mutual TLS: the password by secretKeyRef, the CA and client
    certificate as read-only Secret files, every variable one the worker reads."""
    values = yaml.safe_load((CHART / "ci" / "managed-kafka-values.yaml").read_text())
    docs = render(values)
    env = kafka_env(docs)
    assert env == {
        "TOCSIN_KAFKA_PARTITIONS": "12",
        "TOCSIN_KAFKA_REPLICATION_FACTOR": "3",
        "TOCSIN_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "TOCSIN_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
        "TOCSIN_KAFKA_SASL_USERNAME": "tocsin",
        "TOCSIN_KAFKA_SASL_PASSWORD": {
            "secretKeyRef": {"name": "tocsin-kafka-user", "key": "password"}
        },
        "TOCSIN_KAFKA_SSL_CAFILE": "/etc/tocsin-kafka/ca/ca.crt",
        "TOCSIN_KAFKA_SSL_CERTFILE": "/etc/tocsin-kafka/client/tls.crt",
        "TOCSIN_KAFKA_SSL_KEYFILE": "/etc/tocsin-kafka/client/tls.key",
        "TOCSIN_KAFKA_SSL_CHECK_HOSTNAME": "true",
    }
    fields = set(KafkaSettings.model_fields)
    assert {name.removeprefix("TOCSIN_KAFKA_").lower() for name in env} <= fields
    pod = workload(docs)["spec"]
    (container,) = pod["containers"]
    mounts = {m["name"]: m for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    for name, folder in (
        ("kafka-ca", "/etc/tocsin-kafka/ca"),
        ("kafka-client", "/etc/tocsin-kafka/client"),
    ):
        assert mounts[name]["mountPath"] == folder and mounts[name]["readOnly"] is True
    assert volumes["kafka-ca"]["secret"] == {
        "secretName": "tocsin-cluster-ca-cert",
        "items": [{"key": "ca.crt", "path": "ca.crt"}],
    }
    client = volumes["kafka-client"]["secret"]
    assert client["defaultMode"] == 0o440 and client["secretName"] == "tocsin-kafka-user-tls"
    assert [i["path"] for i in client["items"]] == ["tls.crt", "tls.key"]
    assert not [d for d in docs if d["kind"] == "Secret"]  # the chart never creates secrets


def test_plaintext_by_default_with_no_certificate_volumes() -> None:
    docs = render({})
    assert kafka_env(docs) == {
        "TOCSIN_KAFKA_PARTITIONS": "4",
        "TOCSIN_KAFKA_REPLICATION_FACTOR": "3",
        "TOCSIN_KAFKA_SECURITY_PROTOCOL": "PLAINTEXT",
    }
    assert not {v["name"] for v in workload(docs)["spec"]["volumes"]} & {"kafka-ca", "kafka-client"}


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"kafka": {"securityProtocol": "SASL_SSL"}}, "kafka.sasl.username is required"),
        (
            {"kafka": {"securityProtocol": "SASL_SSL", "sasl": {"username": "tocsin"}}},
            "kafka.sasl.passwordSecret.name is required",
        ),
        ({"kafka": {"sasl": {"username": "tocsin"}}}, "PLAINTEXT sends no credentials"),
        ({"kafka": {"tls": {"caSecret": {"name": "ca"}}}}, "PLAINTEXT uses no TLS"),
        ({"replicaCount": 5}, "replicaCount 5 is more than kafka.partitions 4"),
        (
            {"kafka": {"partitions": 8}, "autoscaling": {"enabled": True, "maxReplicas": 9}},
            "autoscaling.maxReplicas 9 is more than kafka.partitions 8",
        ),
    ],
)
def test_inconsistent_kafka_values_are_refused(values: dict[str, Any], message: str) -> None:
    with pytest.raises(helm.HelmRenderError, match=re.escape(message)):
        render(values)


def test_kafka_values_are_typed() -> None:
    with helm.Chart.load(str(CHART)) as chart:
        for bad in (
            {"kafka": {"securityProtocol": "TLS"}},
            {"kafka": {"sasl": {"mechanism": "GSSAPI"}}},
            {"kafka": {"partitions": 0}},
        ):
            with pytest.raises(helm.HelmValuesError):
                chart.validate_schema(bad)


def test_console_dsn_comes_from_a_secret_reference_only_when_named() -> None:
    """The console's PostgreSQL DSN is a secret: a secretKeyRef, never a value in the chart."""

    def console_env(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        (container,) = workload(docs)["spec"]["containers"]
        return [e for e in container["env"] if e["name"] == "TOCSIN_CONSOLE_DSN"]

    assert console_env(render({})) == []  # SQLite per pod
    values = yaml.safe_load((CHART / "ci" / "custom-config-values.yaml").read_text())
    docs = render(values)
    assert console_env(docs) == [
        {
            "name": "TOCSIN_CONSOLE_DSN",
            "valueFrom": {"secretKeyRef": {"name": "tocsin-console-db", "key": "dsn"}},
        }
    ]
    assert not [d for d in docs if d["kind"] == "Secret"]
    with pytest.raises(Exception, match="dsnSecret"):
        render({"console": {"dsnSecret": {"name": "postgresql://u:p@h/db", "key": "dsn"}}})
