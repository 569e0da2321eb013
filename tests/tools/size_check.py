"""Modules over ~500 lines and functions over ~80 lines in ``pipeline/``, ``agents/``, ``models/``.

    python -m tests.tools.size_check            # list the offenders, exit 1 if any is not allowed
    python -m tests.tools.size_check --all      # also list the allowed ones

Lines are physical lines of the file (a module) or of the ``def`` through its last line (a
function; decorators such as a CLI command's ``click.option`` list are declarations, not counted).
A declarative table (data written as code: the settings fields, the metric declarations) may be
longer; it is named in :data:`ALLOWED` with the reason.
"""

from __future__ import annotations

import argparse
import ast
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("pipeline", "agents", "models")
MODULE_LIMIT = 500
FUNCTION_LIMIT = 80

#: ``path`` (a module) or ``path::qualified.name`` (a function) -> why it may be longer.
ALLOWED: dict[str, str] = {
    "pipeline/settings.py": (
        "declarative table: the typed settings class, one field per TOCSIN_* variable with its "
        "default, bounds and help text; the behaviour lives in settings_groups/settings_values"
    ),
    "pipeline/metrics.py::TocsinMetrics.__init__": (
        "declarative table: one line per metric with its name, help and labels, created "
        "against the worker's own registry"
    ),
    "models/finetune.py::finetune": (
        "the opt-in encoder fine-tuning loop (`tocsin model build --finetune`, not in the default "
        "build): one torch training loop whose closures share the model, optimiser and schedule; "
        "no test runs it end to end (it needs minutes of CPU), so it is kept whole rather than "
        "split blind"
    ),
    "models/build.py::_meta": (
        "declarative table: the artefact's meta.json document, one key per recorded fact"
    ),
}


@dataclass(frozen=True)
class Offender:
    key: str
    kind: str
    lines: int
    limit: int

    @property
    def allowed(self) -> str | None:
        return ALLOWED.get(self.key)


def functions(tree: ast.AST, prefix: str = "") -> Iterator[tuple[str, ast.AST]]:
    """Every function and method with its qualified name (``Class.method``, ``outer.inner``)."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            name = f"{prefix}{node.name}"
            if not isinstance(node, ast.ClassDef):
                yield name, node
            yield from functions(node, f"{name}.")


def span(node: ast.AST) -> int:
    first = int(getattr(node, "lineno", 0))
    return int(getattr(node, "end_lineno", first)) - first + 1


def offenders(root: Path = ROOT) -> list[Offender]:
    found: list[Offender] = []
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            rel = path.relative_to(root).as_posix()
            text = path.read_text(encoding="utf-8")
            count = len(text.splitlines())
            if count > MODULE_LIMIT:
                found.append(Offender(rel, "module", count, MODULE_LIMIT))
            for name, node in functions(ast.parse(text, filename=rel)):
                if (length := span(node)) > FUNCTION_LIMIT:
                    found.append(Offender(f"{rel}::{name}", "function", length, FUNCTION_LIMIT))
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--all", action="store_true", help="also list the allowed offenders")
    args = parser.parse_args(argv)
    found = offenders()
    failing = [o for o in found if o.allowed is None]
    for o in found:
        if o.allowed is None:
            print(f"{o.kind:8} {o.lines:5} > {o.limit:3}  {o.key}")
        elif args.all:
            print(f"{o.kind:8} {o.lines:5} > {o.limit:3}  {o.key}  (allowed: {o.allowed})")
    stale = sorted(set(ALLOWED) - {o.key for o in found})
    for key in stale:
        print(f"allowed but no longer over the limit (remove from ALLOWED): {key}")
    print(f"{len(failing)} over the limits, {len(found) - len(failing)} allowed")
    return 1 if failing else 0


if __name__ == "__main__":
    sys.exit(main())
