"""Reading a YAML data file so every validation error can name the file, line and field.

Shared by the responses library, the approval policy, the users file and the sources file:
PyYAML's composed node tree keeps each node's start mark, so a problem at
``templates[3].review.expires_on`` is reported at the line of that value (or of the enclosing
mapping when the field is missing).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from pipeline.errors import ConfigError

Loc = tuple[str | int, ...]
M = TypeVar("M", bound=BaseModel)


class YamlDoc:
    """A parsed YAML file: plain ``data`` for validation, ``root`` nodes for line numbers."""

    def __init__(self, path: Path, data: Any, root: yaml.Node | None) -> None:
        self.path = path
        self.data = data
        self.root = root

    def line(self, loc: Loc) -> int:
        node = self.root
        if node is None:
            return 1
        for part in loc:
            if isinstance(node, yaml.MappingNode) and isinstance(part, str):
                match = [v for k, v in node.value if getattr(k, "value", None) == part]
                if not match:
                    break
                node = match[0]
            elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
                if not 0 <= part < len(node.value):
                    break
                node = node.value[part]
            else:
                break
        return int(node.start_mark.line) + 1

    def problem(self, loc: Loc, why: str, *, subject: str = "") -> str:
        """``file:line: [subject] field 'a.b[2].c': why`` -- one problem, one line."""
        field = ""
        for part in loc:
            field += f"[{part}]" if isinstance(part, int) else (f".{part}" if field else part)
        prefix = f"{subject} " if subject else ""
        return f"{self.path}:{self.line(loc)}: {prefix}field {field or '(top level)'!r}: {why}"


def read_yaml(path: Path) -> YamlDoc:
    """Read and parse ``path``; unreadable or invalid YAML is a ConfigError naming the line."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror})") from exc
    return parse_yaml(text, path)


def parse_yaml(text: str, path: Path) -> YamlDoc:
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        raise ConfigError(
            f"{path}:{line}: not valid YAML ({getattr(exc, 'problem', exc)})"
        ) from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}:1: field '(top level)': expected a mapping")
    return YamlDoc(path, data, root)


def validate(doc: YamlDoc, model: type[M]) -> M:
    """Validate ``doc.data`` against a pydantic model; errors become one ConfigError."""
    try:
        return model.model_validate(doc.data)
    except ValidationError as exc:
        lines = [doc.problem(tuple(e["loc"]), e["msg"]) for e in exc.errors()]
        raise ConfigError("\n".join(lines)) from None
