"""Prometheus rules: ``promtool check rules`` and ``promtool test rules``, plus coverage of alerts.

promtool comes from the Debian ``prometheus`` package (``deploy/setup-system.sh``, run by
``make setup``). A missing promtool is a failure, not a skip: a skipped rules test would let a
broken alert ship silently.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.promql_sources import dashboard_exprs

REPO = Path(__file__).resolve().parents[2]
RULES_DIR = REPO / "deploy" / "prometheus" / "rules"
TESTS_DIR = REPO / "deploy" / "prometheus" / "tests"


@pytest.fixture(scope="module")
def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        pytest.fail(
            "promtool not found: run `make setup` (deploy/setup-system.sh installs prometheus)"
        )
    return path


def _run(args: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=120, check=False, cwd=REPO)


def _rule_files() -> list[Path]:
    files = sorted(RULES_DIR.glob("*.yml"))
    assert files, f"no rule files in {RULES_DIR}"
    return files


def _alert_names() -> set[str]:
    names: set[str] = set()
    for path in _rule_files():
        for group in yaml.safe_load(path.read_text())["groups"]:
            names.update(rule["alert"] for rule in group["rules"] if "alert" in rule)
    return names


def test_promtool_check_rules(promtool: str) -> None:
    result = _run([promtool, "check", "rules", *map(str, _rule_files())])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_promtool_test_rules(promtool: str) -> None:
    tests = sorted(TESTS_DIR.glob("*.yml"))
    assert tests, f"no promtool tests in {TESTS_DIR}"
    result = _run([promtool, "test", "rules", *map(str, tests)])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "FAILED" not in result.stdout
    assert result.stdout.count("SUCCESS") == len(tests)


def test_every_alert_is_tested_firing_and_silent() -> None:
    """Each alert needs a unit test where it fires and one where it stays silent."""
    fired: set[str] = set()
    silent: set[str] = set()
    for path in sorted(TESTS_DIR.glob("*.yml")):
        doc: dict[str, Any] = yaml.safe_load(path.read_text())
        for case in doc.get("tests", []):
            for check in case.get("alert_rule_test", []):
                (fired if check.get("exp_alerts") else silent).add(check["alertname"])
    alerts = _alert_names()
    assert alerts, "no alerting rules found"
    assert alerts - fired == set(), "alerts never shown firing"
    assert alerts - silent == set(), "alerts never shown silent"


def test_alert_values_do_not_come_from_another_groups_recording() -> None:
    """An alert that prints ``$value`` takes its threshold operand from raw series or its own group.

    Prometheus (and promtool) evaluate rule groups in no fixed order, so a series recorded by
    another group can be one evaluation old when the alert reads it: the page then shows last
    minute's number, and the promtool test comparing it failed 1 run in 20 (CI, session 5).
    """
    groups = [g for path in _rule_files() for g in yaml.safe_load(path.read_text())["groups"]]
    offenders = []
    for group in groups:
        foreign = {
            rule["record"]
            for other in groups
            if other["name"] != group["name"]
            for rule in other["rules"]
            if "record" in rule
        }
        for rule in group["rules"]:
            if "alert" not in rule or "$value" not in str(rule.get("annotations", {})):
                continue
            # The value an alert carries is the left operand of its first comparison.
            operand = re.split(r"[<>]=?|==|!=", rule["expr"], maxsplit=1)[0]
            used = set(re.findall(r"[a-zA-Z_:][a-zA-Z0-9_:]*", operand)) & foreign
            if used:
                offenders.append(f"{rule['alert']}: {sorted(used)}")
    assert offenders == []


def test_every_dashboard_expression_parses(promtool: str, tmp_path: Path) -> None:
    """promtool parses each dashboard query (variables substituted) as a recording rule."""
    exprs = dashboard_exprs()
    assert len(exprs) >= 20
    rules = [{"record": f"dashboard_expr_{i}", "expr": e.expr} for i, e in enumerate(exprs)]
    path = tmp_path / "dashboards.rules.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboards", "rules": rules}]}))
    result = _run([promtool, "check", "rules", str(path)])
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(rules)} rules found" in result.stdout


def test_compose_prometheus_config_is_valid(promtool: str) -> None:
    """deploy/prometheus/prometheus.yml (used by deploy/compose.yaml) passes promtool."""
    config = REPO / "deploy" / "prometheus" / "prometheus.yml"
    result = _run([promtool, "check", "config", str(config)])
    assert result.returncode == 0, result.stdout + result.stderr
    jobs = [job["job_name"] for job in yaml.safe_load(config.read_text())["scrape_configs"]]
    assert "tocsin" in jobs  # the job name every rule and dashboard selects on


def test_compose_alertmanager_config_is_valid() -> None:
    """deploy/alertmanager/alertmanager.yml passes amtool, and its inhibitions name real alerts."""
    amtool = shutil.which("amtool")
    if amtool is None:
        pytest.fail("amtool not found: run `make setup` (deploy/setup-system.sh installs it)")
    config = REPO / "deploy" / "alertmanager" / "alertmanager.yml"
    result = _run([amtool, "check-config", str(config)])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout
    inhibited = " ".join(
        m
        for rule in yaml.safe_load(config.read_text())["inhibit_rules"]
        for m in (rule["source_matchers"] + rule["target_matchers"])
    )
    for name in re.findall(r"Tocsin\w+", inhibited):
        assert name in _alert_names(), name
