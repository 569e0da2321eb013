"""Reading the routing file's YAML node tree, so that every error names its file, line and field.

:class:`NodeReader` turns one node into a mapping, a string, a list of strings, a boolean or a
duration, or raises :class:`~pipeline.errors.ConfigError` (``<file>:<line>: <field>: <problem>``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import yaml

from pipeline.durations import parse_duration
from pipeline.errors import ConfigError

_T = TypeVar("_T")


class NodeReader:
    """Walks the YAML node tree (not plain data) so every error can name its line."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, node: yaml.Node, field: str, problem: str) -> ConfigError:
        return ConfigError(f"{self.source}:{node.start_mark.line + 1}: {field}: {problem}")

    def mapping(self, node: yaml.Node, field: str) -> dict[str, yaml.Node]:
        if not isinstance(node, yaml.MappingNode):
            raise self.fail(node, field, "expected a mapping")
        out: dict[str, yaml.Node] = {}
        for key, value in node.value:
            if not isinstance(key, yaml.ScalarNode):
                raise self.fail(key, field, "keys must be plain strings")
            if key.value in out:
                raise self.fail(key, f"{field}.{key.value}", "given twice")
            out[key.value] = value
        return out

    def string(self, node: yaml.Node, field: str) -> str:
        if not isinstance(node, yaml.ScalarNode) or node.tag != "tag:yaml.org,2002:str":
            raise self.fail(node, field, "expected a string")
        if not node.value:
            raise self.fail(node, field, "must not be empty")
        return str(node.value)

    def strings(self, node: yaml.Node, field: str) -> list[str]:
        """A string or a list of strings."""
        if isinstance(node, yaml.SequenceNode):
            items = [self.string(item, f"{field}[{i}]") for i, item in enumerate(node.value)]
            if not items:
                raise self.fail(node, field, "must not be an empty list")
            return items
        return [self.string(node, field)]

    def boolean(self, node: yaml.Node, field: str) -> bool:
        if not isinstance(node, yaml.ScalarNode) or node.tag != "tag:yaml.org,2002:bool":
            raise self.fail(node, field, "expected true or false")
        return node.value.lower() in ("true", "yes", "on")

    def duration(self, node: yaml.Node, field: str, *, allow_zero: bool = False) -> float:
        text = self.string(node, field) if node.tag == "tag:yaml.org,2002:str" else None
        if text is None:
            raise self.fail(node, field, "expected a duration such as 30s, 5m or 4h")
        try:
            seconds = parse_duration(text)
        except ValueError as exc:
            raise self.fail(node, field, str(exc)) from None
        if seconds < 0 or (seconds == 0 and not allow_zero):
            raise self.fail(node, field, "must be longer than zero")
        return seconds

    def items(self, node: yaml.Node, field: str) -> list[yaml.Node]:
        if not isinstance(node, yaml.SequenceNode) or not node.value:
            raise self.fail(node, field, "expected a non-empty list")
        return list(node.value)

    def checked(self, parse: Callable[[str], _T], node: yaml.Node, field: str) -> _T:
        """``parse`` a scalar (string or number), its ValueError becoming a located error."""
        if not isinstance(node, yaml.ScalarNode) or not node.value:
            raise self.fail(node, field, "expected a string or number")
        try:
            return parse(str(node.value))
        except ValueError as exc:
            raise self.fail(node, field, str(exc)) from None
