"""Named receivers: several destinations of one type, declared in the routing file.

As in Alertmanager, the routing file's top-level ``receivers:`` lists named receivers, and routes
name them (``receivers: [comms-fr]``). Each named receiver takes one integration: one item in one
``*_configs`` list. Secrets are never written in the file: each secret field ``X`` is given as
``X_env`` (the name of an environment variable holding it) or ``X_file`` (a file holding it;
a relative path is read from the routing file's folder; a trailing new line is dropped).
``health_data_cleared: true`` beside the name lets a receiver (a safety mailbox, the PV system's
webhook) see the text of adverse-event evidence; every other receiver gets counts and links::

    receivers:
      - name: comms-fr
        slack_configs:
          - api_url_file: /run/secrets/slack-comms-fr      # incoming webhook URL
      - name: comms-en
        slack_configs:
          - api_url_env: SLACK_COMMS_EN_WEBHOOK
      - name: press-fr
        email_configs:
          - to: [presse@brand.example]
            from: tocsin@alerts.example
            smarthost: smtp.example:587
            auth_username: tocsin
            auth_password_env: SMTP_PASSWORD
      - name: safety-desk
        health_data_cleared: true
        email_configs:
          - to: [drug.safety@brand.example]
            from: tocsin@alerts.example
            smarthost: smtp.example:587

The ``TOCSIN_*`` receiver settings still build one receiver each, named after its type
(``slack``, ``email`` ...): the shorthand for a single default receiver. A named receiver's name
must differ from those. :data:`CONFIGS` lists every integration and its fields.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import SecretStr

from pipeline.errors import ConfigError
from pipeline.settings_values import check_address, check_secret

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
#: A receiver's flag beside its name: it may get the text of adverse-event evidence
#: (``pipeline/delivery/health_data.py``). Only a named receiver can be cleared, never a default one.
CLEARED = "health_data_cleared"


@dataclass(frozen=True)
class ConfigField:
    """One field of an integration: ``kind`` is secret, text, texts, flag or number."""

    name: str
    kind: str
    required: bool = True


def _f(name: str, kind: str = "text", required: bool = True) -> ConfigField:
    return ConfigField(name, kind, required)


#: ``*_configs`` key -> (receiver type, its fields). A declarative table.
CONFIGS: Mapping[str, tuple[str, tuple[ConfigField, ...]]] = {
    "slack_configs": ("slack", (_f("api_url", "secret"),)),
    "slack_api_configs": (
        "slack_api",
        (_f("token", "secret"), _f("channel"), _f("api_url", required=False)),
    ),
    "pagerduty_configs": ("pagerduty", (_f("routing_key", "secret"), _f("url", required=False))),
    "opsgenie_configs": ("opsgenie", (_f("api_key", "secret"), _f("api_url", required=False))),
    "msteams_configs": ("teams", (_f("webhook_url", "secret"),)),
    "alertmanager_configs": ("alertmanager", (_f("url"),)),
    "webhook_configs": ("webhook", (_f("url", "secret"), _f("secret", "secret"))),
    "email_configs": (
        "email",
        (
            _f("to", "texts"),
            _f("from"),
            _f("smarthost"),
            _f("auth_username", required=False),
            _f("auth_password", "secret", required=False),
            _f("starttls", "flag", required=False),
            _f("tls", "flag", required=False),
            _f("timeout_s", "number", required=False),
        ),
    ),
}


@dataclass(frozen=True)
class NamedReceiver:
    """A receiver declared in the routing file, its secrets read: ``values`` by field name."""

    name: str
    kind: str
    values: Mapping[str, Any]
    secrets: tuple[SecretStr, ...] = field(default=())
    health_data_cleared: bool = False


class _Reader:
    """Reads ``receivers:`` from the YAML node tree, so every error names file, line and field."""

    def __init__(self, source: str, env: Mapping[str, str], base: Path) -> None:
        self.source = source
        self.env = env
        self.base = base

    def fail(self, node: yaml.Node, where: str, problem: str) -> ConfigError:
        return ConfigError(f"{self.source}:{node.start_mark.line + 1}: {where}: {problem}")

    def mapping(self, node: yaml.Node, where: str) -> dict[str, yaml.Node]:
        if not isinstance(node, yaml.MappingNode):
            raise self.fail(node, where, "expected a mapping")
        return {str(k.value): v for k, v in node.value}

    def scalar(self, node: yaml.Node, where: str) -> Any:
        if not isinstance(node, yaml.ScalarNode):
            raise self.fail(node, where, "expected a single value")
        return yaml.SafeLoader("").construct_object(node)  # type: ignore[no-untyped-call]

    def receivers(self, node: yaml.Node) -> list[NamedReceiver]:
        if not isinstance(node, yaml.SequenceNode):
            raise self.fail(node, "receivers", "expected a list of named receivers")
        out: list[NamedReceiver] = []
        for i, item in enumerate(node.value):
            named = self.receiver(item, f"receivers[{i}]")
            if any(r.name == named.name for r in out):
                raise self.fail(item, f"receivers[{i}].name", f"{named.name!r} declared twice")
            out.append(named)
        return out

    def receiver(self, node: yaml.Node, where: str) -> NamedReceiver:
        fields = self.mapping(node, where)
        if "name" not in fields:
            raise self.fail(node, where, "needs a name")
        name = str(self.scalar(fields.pop("name"), f"{where}.name"))
        if not NAME.fullmatch(name):
            raise self.fail(node, f"{where}.name", "letters, digits, '_', '.', '-' (64 at most)")
        cleared = False
        if CLEARED in fields:
            flag = fields.pop(CLEARED)
            cleared = self.scalar(flag, f"{where}.{CLEARED}")
            if not isinstance(cleared, bool):
                raise self.fail(flag, f"{where}.{CLEARED}", "expected true or false")
        for key, value in fields.items():
            if key not in CONFIGS:
                raise self.fail(value, f"{where}.{key}", f"unknown; use {', '.join(CONFIGS)}")
        configs = [(k, v) for k, v in fields.items() if not self._empty(v)]
        items = configs[0][1].value if len(configs) == 1 else []
        if len(items) != 1:
            raise self.fail(node, where, "takes one integration: one item in one *_configs list")
        key = configs[0][0]
        kind, specs = CONFIGS[key]
        values, secrets = self.config(items[0], f"{where}.{key}[0]", specs)
        return NamedReceiver(name, kind, values, secrets, health_data_cleared=cleared)

    @staticmethod
    def _empty(node: yaml.Node) -> bool:
        return isinstance(node, yaml.SequenceNode) and not node.value

    def config(
        self, node: yaml.Node, where: str, specs: tuple[ConfigField, ...]
    ) -> tuple[dict[str, Any], tuple[SecretStr, ...]]:
        fields = self.mapping(node, where)
        allowed = {s.name for s in specs if s.kind != "secret"}
        allowed |= {
            f"{s.name}{sfx}" for s in specs if s.kind == "secret" for sfx in ("_env", "_file")
        }
        for key, value in fields.items():
            if any(s.name == key and s.kind == "secret" for s in specs):
                raise self.fail(
                    value, f"{where}.{key}", f"no inline secrets: {key}_env or {key}_file"
                )
            if key not in allowed:
                raise self.fail(
                    value, f"{where}.{key}", f"unknown; use {', '.join(sorted(allowed))}"
                )
        values: dict[str, Any] = {}
        secrets: list[SecretStr] = []
        for spec in specs:
            value = self.value(node, fields, spec, where)
            if value is None:
                continue
            values[spec.name] = value
            if isinstance(value, SecretStr):
                secrets.append(value)
        return values, tuple(secrets)

    def value(
        self, parent: yaml.Node, fields: dict[str, yaml.Node], spec: ConfigField, where: str
    ) -> Any:
        at = f"{where}.{spec.name}"
        if spec.kind == "secret":
            return self.secret(parent, fields, spec, at)
        if spec.name not in fields:
            if spec.required:
                raise self.fail(parent, at, "missing")
            return None
        node = fields[spec.name]
        if spec.kind == "texts":
            raw = node.value if isinstance(node, yaml.SequenceNode) else [node]
            texts = [str(self.scalar(n, at)).strip() for n in raw]
            if not texts or not all(texts):
                raise self.fail(node, at, "expected one or more values")
            return tuple(texts)
        value = self.scalar(node, at)
        if spec.kind == "flag" and not isinstance(value, bool):
            raise self.fail(node, at, "expected true or false")
        if spec.kind == "number" and (
            isinstance(value, bool) or not isinstance(value, int | float)
        ):
            raise self.fail(node, at, "expected a number")
        if spec.kind == "text" and (value is None or not str(value).strip()):
            raise self.fail(node, at, "expected a value")
        return str(value).strip() if spec.kind == "text" else value

    def secret(
        self, parent: yaml.Node, fields: dict[str, yaml.Node], spec: ConfigField, at: str
    ) -> SecretStr | None:
        given = [sfx for sfx in ("_env", "_file") if f"{spec.name}{sfx}" in fields]
        if len(given) > 1:
            raise self.fail(parent, at, f"give {spec.name}_env or {spec.name}_file, not both")
        if not given:
            if spec.required:
                raise self.fail(parent, at, f"missing: give {spec.name}_env or {spec.name}_file")
            return None
        node = fields[f"{spec.name}{given[0]}"]
        ref = str(self.scalar(node, f"{at}{given[0]}")).strip()
        if given[0] == "_env":
            raw = self.env.get(ref, "")
            if not raw.strip():
                raise self.fail(node, f"{at}_env", f"environment variable {ref} is not set")
        else:
            path = Path(ref) if Path(ref).is_absolute() else self.base / ref
            try:
                raw = path.read_text(encoding="utf-8").rstrip("\r\n")
            except OSError as exc:
                raise self.fail(
                    node, f"{at}_file", f"cannot read {path} ({exc.strerror})"
                ) from None
        try:
            check_secret(raw)
        except ValueError as exc:
            raise self.fail(node, f"{at}{given[0]}", str(exc)) from None
        return SecretStr(raw.strip())


def check_email(named: NamedReceiver) -> None:
    """Addresses plain, TLS mode single, a password only with a user name and over TLS."""
    v = named.values
    try:
        for address in (*v["to"], v["from"]):
            check_address(address)
    except ValueError as exc:
        raise ConfigError(f"receiver {named.name}: {exc}") from None
    if v.get("starttls") and v.get("tls"):
        raise ConfigError(f"receiver {named.name}: starttls and tls exclude each other")
    if ("auth_username" in v) != ("auth_password" in v):
        raise ConfigError(f"receiver {named.name}: auth_username and auth_password go together")
    if "auth_password" in v and v.get("starttls") is False and not v.get("tls"):
        raise ConfigError(f"receiver {named.name}: a password needs starttls or tls")


def parse_named_receivers(
    text: str,
    *,
    source: str = "<routing>",
    env: Mapping[str, str] | None = None,
    base: Path | None = None,
) -> list[NamedReceiver]:
    """The named receivers of a routing file's text (none when it has no ``receivers:``)."""
    try:
        document = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: not valid YAML ({exc})") from None
    reader = _Reader(source, os.environ if env is None else env, base or Path("."))
    if not isinstance(document, yaml.MappingNode):
        return []
    top = reader.mapping(document, "(top level)")
    if "receivers" not in top:
        return []
    found = reader.receivers(top["receivers"])
    for named in found:
        if named.kind == "email":
            check_email(named)
    return found


def load_named_receivers(
    path: Path, *, env: Mapping[str, str] | None = None, read: Callable[[Path], str] | None = None
) -> list[NamedReceiver]:
    """Read the named receivers of the routing file at ``path``."""
    try:
        text = (read or (lambda p: p.read_text(encoding="utf-8")))(path)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read routing file ({exc.strerror})") from None
    return parse_named_receivers(text, source=str(path), env=env, base=path.parent)
