"""Every PromQL expression Tocsin ships: Grafana dashboard targets and variables, Prometheus rules.

Shared by the dashboard unit tests (structure), the rules test (each expression parses, via
promtool) and the scrape integration test (each expression returns data from a live worker).
Dashboard expressions contain Grafana template variables; :func:`substitute` replaces them the way
Grafana would with "All" selected, so that Prometheus can run them.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parent.parent
DASHBOARDS_DIR = REPO / "deploy" / "grafana" / "dashboards"
RULES_DIR = REPO / "deploy" / "prometheus" / "rules"

# Grafana's "All" for the multi-value variables (their allValue is ".*").
ALL_VALUE = ".*"


@dataclass(frozen=True)
class Expr:
    """One PromQL expression and where it comes from (for readable test failures)."""

    source: str
    kind: str  # "panel", "variable", "record" or "alert"
    expr: str


def dashboard_paths() -> list[Path]:
    return sorted(DASHBOARDS_DIR.glob("*.json"))


def load_dashboard(path: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(path.read_text())
    return loaded


def panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    """Every panel, including those nested in collapsed rows."""
    out: list[dict[str, Any]] = []
    for panel in dashboard.get("panels", []):
        out.append(panel)
        out.extend(panel.get("panels", []))
    return out


def substitute(expr: str, rate_interval: str) -> str:
    """Replace Grafana variables: ``$__rate_interval`` and the dashboards' own (as "All")."""
    expr = expr.replace("$__rate_interval", rate_interval).replace(
        "${__rate_interval}", rate_interval
    )
    expr = re.sub(r"\$\{(\w+)\}", lambda m: ALL_VALUE, expr)
    return re.sub(r"\$(\w+)", lambda m: ALL_VALUE, expr)


_LABEL_VALUES = re.compile(r"^label_values\((?:(?P<selector>.+),\s*)?(?P<label>\w+)\)$")


def variable_selector(query: str) -> tuple[str, str]:
    """``label_values(selector, label)`` as (selector, label)."""
    match = _LABEL_VALUES.match(query.strip())
    if match is None or not match.group("selector"):
        raise ValueError(f"unsupported variable query {query!r}: use label_values(selector, label)")
    return match.group("selector"), match.group("label")


def dashboard_exprs(rate_interval: str = "1m") -> list[Expr]:
    out: list[Expr] = []
    for path in dashboard_paths():
        board = load_dashboard(path)
        for panel in panels(board):
            for target in panel.get("targets", []):
                out.append(
                    Expr(
                        f"{path.name} panel {panel['id']} {panel['title']!r} {target['refId']}",
                        "panel",
                        substitute(target["expr"], rate_interval),
                    )
                )
        for variable in board.get("templating", {}).get("list", []):
            if variable.get("type") == "query":
                selector, _ = variable_selector(variable["query"]["query"])
                out.append(
                    Expr(
                        f"{path.name} variable ${variable['name']}",
                        "variable",
                        substitute(selector, rate_interval),
                    )
                )
    return out


def rule_exprs() -> list[Expr]:
    out: list[Expr] = []
    for path in sorted(RULES_DIR.glob("*.yml")):
        for group in yaml.safe_load(path.read_text())["groups"]:
            for rule in group["rules"]:
                kind = "alert" if "alert" in rule else "record"
                out.append(
                    Expr(
                        f"{path.name} {rule.get('alert') or rule['record']}",
                        kind,
                        rule["expr"].strip(),
                    )
                )
    return out


_SELECTOR = re.compile(r"\b((?:tocsin[a-z_:]*|[a-z_]+:tocsin[a-z_:]*|up|ALERTS))\b(\{[^}]*\})?")


def selectors(expr: str) -> list[str]:
    """The metric selectors of ``expr`` (Tocsin metrics, recorded series, ``up``, ``ALERTS``)."""
    seen: dict[str, None] = {}
    for match in _SELECTOR.finditer(expr):
        seen[match.group(1) + (match.group(2) or "")] = None
    return list(seen)
