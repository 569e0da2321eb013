"""``pipeline/worker/openapi.json`` describes exactly the routes and methods the worker serves."""

from __future__ import annotations

import importlib
import re
from typing import Any

from pipeline.app import app
from pipeline.worker import openapi

VIEW_MODULES = (
    "pipeline.worker.web",
    "pipeline.ingest.web",
    "pipeline.approvals.web",
    "pipeline.oncall.api",
    "pipeline.console.web",
    "pipeline.safety.web",
)


def served() -> set[tuple[str, str]]:
    for name in VIEW_MODULES:
        importlib.import_module(name)
    out = set()
    for path, view in app.web.views.items():
        if not type(view).__module__.startswith(("pipeline.", "agents.")):
            continue
        for method in view.get_methods() - {"HEAD"}:
            out.add((method, path))
    return out


def test_every_served_route_is_described_and_nothing_else() -> None:
    doc: dict[str, Any] = openapi.document()
    described = {(method.upper(), path) for path, item in doc["paths"].items() for method in item}
    assert described == served()


def test_the_document_is_openapi_3_1_with_resolvable_refs() -> None:
    doc = openapi.document()
    assert doc["openapi"].startswith("3.1.")
    text = openapi.document_bytes().decode()
    for ref in set(re.findall(r'"\$ref": "#/([^"]+)"', text)):
        node: Any = doc
        for part in ref.split("/"):
            node = node[part]
    for item in doc["paths"].values():
        for op in item.values():
            assert op["responses"], op["operationId"]
            assert not any(code.startswith("5") and code != "503" for code in op["responses"])
