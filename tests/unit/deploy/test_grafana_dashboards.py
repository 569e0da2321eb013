"""Grafana dashboards in deploy/grafana/: structure, datasource references, schema.

The JSON Schema is generated from the npm package ``@grafana/schema`` by
``deploy/grafana/make-schema.sh`` and committed, so this test needs neither node nor a Grafana.
PromQL parsing is checked with promtool in ``tests/integration/test_prometheus_rules.py`` and
against a live Prometheus in ``tests/integration/test_prometheus_scrape.py``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.promql_sources import (
    REPO,
    dashboard_paths,
    load_dashboard,
    panels,
    variable_selector,
)

SCHEMA = REPO / "deploy" / "grafana" / "schema" / "dashboard.schema.json"
PROVISIONING = REPO / "deploy" / "grafana" / "provisioning"
DATASOURCE_REF = {"type": "prometheus", "uid": "${datasource}"}
EXPECTED = {"comms-overview.json", "pipeline-health.json"}


@pytest.fixture(params=dashboard_paths(), ids=lambda p: p.name)
def dashboard(request: pytest.FixtureRequest) -> dict[str, Any]:
    path: Path = request.param
    return load_dashboard(path)


def test_both_dashboards_exist() -> None:
    assert {p.name for p in dashboard_paths()} == EXPECTED


def test_datasource_variable_and_no_hard_coded_datasource(dashboard: dict[str, Any]) -> None:
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    for panel in panels(dashboard):
        if panel["type"] == "row":
            continue
        assert panel["datasource"] == DATASOURCE_REF, panel["title"]
        assert panel["targets"], f"panel {panel['title']!r} has no query"
        for target in panel["targets"]:
            assert target["datasource"] == DATASOURCE_REF, panel["title"]
            assert target["expr"].strip(), panel["title"]
    for variable in variables.values():
        if variable["type"] == "query":
            assert variable["datasource"] == DATASOURCE_REF
            variable_selector(variable["query"]["query"])  # raises on an unsupported form


def test_panel_ids_unique_and_ref_ids_unique_per_panel(dashboard: dict[str, Any]) -> None:
    ids = [p["id"] for p in panels(dashboard)]
    assert len(ids) == len(set(ids))
    for panel in panels(dashboard):
        refs = [t["refId"] for t in panel.get("targets", [])]
        assert len(refs) == len(set(refs)), panel["title"]


def test_grid_positions_fit_and_do_not_overlap(dashboard: dict[str, Any]) -> None:
    cells: dict[tuple[int, int], str] = {}
    for panel in panels(dashboard):
        pos = panel["gridPos"]
        assert all(isinstance(pos[k], int) and pos[k] >= 0 for k in ("x", "y", "w", "h"))
        assert pos["w"] > 0 and pos["h"] > 0 and pos["x"] + pos["w"] <= 24, panel["title"]
        for x in range(pos["x"], pos["x"] + pos["w"]):
            for y in range(pos["y"], pos["y"] + pos["h"]):
                assert (x, y) not in cells, f"{panel['title']!r} overlaps {cells[(x, y)]!r}"
                cells[(x, y)] = panel["title"]


def test_validates_against_grafana_schema(dashboard: dict[str, Any]) -> None:
    import jsonschema  # a dev dependency: missing is a failure, not a skip

    schema = json.loads(SCHEMA.read_text())
    validator_cls = jsonschema.validators.validator_for(schema)
    validator_cls.check_schema(schema)
    errors = [
        f"{list(e.absolute_path)}: {e.message[:200]}"
        for e in validator_cls(schema).iter_errors(dashboard)
    ]
    assert errors == []


def test_schema_is_strict_enough_to_catch_a_typo() -> None:
    """Guards the generated schema itself: a misspelt panel key must be refused."""
    import jsonschema  # a dev dependency: missing is a failure, not a skip

    schema = json.loads(SCHEMA.read_text())
    board = load_dashboard(dashboard_paths()[0])
    board["panels"][1]["gridpos"] = board["panels"][1].pop("gridPos")
    validator = jsonschema.validators.validator_for(schema)(schema)
    assert not validator.is_valid(board)


def test_provisioning_points_at_the_dashboards() -> None:
    datasources = yaml.safe_load((PROVISIONING / "datasources" / "prometheus.yml").read_text())
    assert [d["type"] for d in datasources["datasources"]] == ["prometheus"]
    providers = yaml.safe_load((PROVISIONING / "dashboards" / "tocsin.yml").read_text())
    (provider,) = providers["providers"]
    assert provider["type"] == "file"
    assert provider["options"]["path"].startswith("/var/lib/grafana/dashboards")
