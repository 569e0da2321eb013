"""Hypothesis strategies for requests to every operation of ``pipeline/worker/openapi.json``.

Schemathesis would do this from the same document; it is not among the project's dependencies
and the build machine has no network, so this is the part of it the API fuzz needs, written
against the document rather than against the code: for each operation, a request with

* **credentials** drawn per security scheme: the right one, none, or a wrong one (Slack and
  PagerDuty requests are signed correctly most of the time, so their parsers see hostile
  *authentic* bodies, which is where the 500s were);
* **path and query parameters** from their schemas, or arbitrary text;
* **a body** from the request body's JSON Schema (a small generator: object, array, string,
  integer, boolean, null, enum, const, ``$ref``), or arbitrary JSON, deeply nested JSON, huge
  integers, or arbitrary bytes; NDJSON bodies are lines of the same.

Pass/fail is the caller's: the integration test asserts no 5xx and no timeout.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import string
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from hypothesis import strategies as st

#: Header values an HTTP client will send (no control characters, no edge whitespace); the
#: malformed ones a client refuses to send are tried over a raw socket in the integration test.
HEADER_TEXT = st.text(alphabet=string.printable.strip("\r\n\x0b\x0c"), max_size=60).map(
    lambda t: t.strip() or "x"
)


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    spec: dict[str, Any]


@dataclass(frozen=True)
class Secrets:
    """The credentials the worker under test was started with."""

    bearer: dict[str, str]  # security scheme name -> valid bearer token
    slack_signing: str
    pagerduty: str
    #: vendor push -> its bearer token (brandwatch, talkwalker) or signing secret (meltwater)
    vendors: dict[str, str] = field(default_factory=dict)


@dataclass
class Drawn:
    operation: Operation
    url_path: str
    query: dict[str, str]
    headers: dict[str, str | bytes]
    body: bytes | None

    def raw_headers(self) -> dict[bytes, bytes]:
        """Headers as bytes: httpx sends a bytes value as it is (a str must be ASCII)."""
        return {
            k.encode(): v if isinstance(v, bytes) else v.encode("latin-1")
            for k, v in self.headers.items()
        }


def operations(doc: dict[str, Any]) -> list[Operation]:
    out = []
    for path, item in doc["paths"].items():
        for method, spec in item.items():
            out.append(Operation(method.upper(), path, spec))
    return out


def _resolve(doc: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        node: Any = doc
        for part in schema["$ref"].removeprefix("#/").split("/"):
            node = node[part]
        schema = node
    return schema


def from_schema(
    doc: dict[str, Any], schema: dict[str, Any], depth: int = 0
) -> st.SearchStrategy[Any]:
    """Values shaped like ``schema`` (not always valid: lengths and formats are loose)."""
    schema = _resolve(doc, schema)
    if "const" in schema:
        return st.just(schema["const"])
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    if "oneOf" in schema:
        return st.one_of([from_schema(doc, s, depth + 1) for s in schema["oneOf"]])
    kind = schema.get("type", "object")
    if isinstance(kind, list):
        return st.one_of([from_schema(doc, {**schema, "type": k}, depth) for k in kind])
    if kind == "null":
        return st.none()
    if kind == "boolean":
        return st.booleans()
    if kind == "integer":
        return st.integers(schema.get("minimum", -(2**40)), schema.get("maximum", 2**40))
    if kind == "string":
        if schema.get("format") == "date-time":
            return st.one_of(
                st.datetimes(timezones=st.timezones()).map(lambda d: d.isoformat()),
                st.sampled_from(["9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+23:59"]),
                st.text(max_size=30),
            )
        return st.text(
            min_size=schema.get("minLength", 0), max_size=min(schema.get("maxLength", 40), 40)
        )
    if kind == "array":
        items = schema.get("items", {})
        return st.lists(
            from_schema(doc, items, depth + 1), min_size=schema.get("minItems", 0), max_size=3
        )
    props = schema.get("properties", {})
    if depth > 4 or not props:
        return st.dictionaries(st.text(max_size=8), st.integers() | st.text(max_size=8), max_size=3)
    required = set(schema.get("required", ()))
    return st.fixed_dictionaries(
        {k: from_schema(doc, v, depth + 1) for k, v in props.items() if k in required},
        optional={k: from_schema(doc, v, depth + 1) for k, v in props.items() if k not in required},
    )


ANY_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
NASTY = st.sampled_from(
    [
        "[" * 50_000,
        '{"a":' * 3000 + "1" + "}" * 3000,
        "1" + "0" * 5000,
        '{"id": ' + "9" * 5000 + "}",
        '{"created_at": "9999-12-31T23:59:59-23:59"}',
        "\ud800",
        "",
    ]
)


def json_body(doc: dict[str, Any], schema: dict[str, Any]) -> st.SearchStrategy[bytes]:
    as_text = st.one_of(
        from_schema(doc, schema).map(json.dumps),
        ANY_JSON.map(json.dumps),
        NASTY,
    )
    return st.one_of(
        as_text.map(lambda t: t.encode("utf-8", "surrogatepass")),
        st.binary(max_size=200),
    )


def _slack_form(doc: dict[str, Any]) -> st.SearchStrategy[bytes]:
    action = st.fixed_dictionaries(
        {
            "action_id": st.sampled_from(
                ["tocsin_acknowledge", "tocsin_resolve", "tocsin_response_approve", "x"]
            ),
            "value": st.text(max_size=30),
        }
    )
    payload = st.one_of(
        st.fixed_dictionaries(
            {
                "type": st.sampled_from(["block_actions", "x"]),
                "user": st.one_of(st.fixed_dictionaries({"id": st.text(max_size=12)}), ANY_JSON),
                "actions": st.one_of(st.lists(action, max_size=2), st.lists(ANY_JSON, max_size=2)),
                "channel": ANY_JSON,
                "container": ANY_JSON,
                "state": ANY_JSON,
            }
        ).map(json.dumps),
        ANY_JSON.map(json.dumps),
        NASTY,
    )
    return st.one_of(
        payload.map(
            lambda p: urlencode({"payload": p}, errors="surrogatepass").encode(
                "utf-8", "surrogatepass"
            )
        ),
        NASTY.map(
            lambda p: (
                "payload=" + quote("tocsin_response_" + p[:5000], safe="", errors="surrogatepass")
            ).encode()
        ),
        st.binary(max_size=200),
    )


def _pagerduty(doc: dict[str, Any]) -> st.SearchStrategy[bytes]:
    event = st.fixed_dictionaries(
        {
            "event_type": st.sampled_from(["incident.acknowledged", "incident.resolved", "x"]),
            "agent": ANY_JSON,
            "occurred_at": st.one_of(st.text(max_size=30), st.just("9999-12-31T23:59:59-23:59")),
            "data": st.one_of(
                st.fixed_dictionaries(
                    {
                        "type": st.just("incident"),
                        "incident_key": st.one_of(st.text(max_size=20), ANY_JSON),
                    }
                ),
                ANY_JSON,
            ),
        }
    )
    return st.one_of(
        st.fixed_dictionaries({"event": event}).map(lambda e: json.dumps(e).encode()),
        json_body(doc, {"type": "object"}),
    )


def _slack_sign(secret: str, body: bytes) -> dict[str, str | bytes]:
    ts = str(int(time.time()))
    digest = hmac.new(secret.encode(), f"v0:{ts}:".encode() + body, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": f"v0={digest}"}


VENDOR_SAMPLES = Path(__file__).parent / "data" / "vendors"


def _vendor_items() -> list[dict[str, Any]]:
    """The items of the documented-shape samples (tests/data/vendors), to be fuzzed field by field."""
    items: list[dict[str, Any]] = []
    items += json.loads((VENDOR_SAMPLES / "brandwatch.json").read_text())["results"]
    items += json.loads((VENDOR_SAMPLES / "meltwater.json").read_text())["documents"]
    for line in (VENDOR_SAMPLES / "talkwalker.ndjson").read_text().splitlines():
        items.append(json.loads(line))
    return items


def _vendor_body(doc: dict[str, Any], schema: dict[str, Any]) -> st.SearchStrategy[bytes]:
    """A vendor's own item with fields replaced by anything, or any body at all."""
    mutated = st.sampled_from(_vendor_items()).flatmap(
        lambda item: st.dictionaries(st.sampled_from(sorted(item)), ANY_JSON, max_size=3).map(
            lambda over: json.dumps({**item, **over}).encode()
        )
    )
    return st.one_of(mutated, json_body(doc, schema))


def _vendor_credentials(
    draw: st.DrawFn, vendor: str, body: bytes, secrets: Secrets
) -> dict[str, str | bytes]:
    secret = secrets.vendors.get(vendor)
    if secret is None or draw(st.integers(0, 5)) == 5:  # mostly valid, sometimes forged
        return draw(
            st.sampled_from(
                [{}, {"X-Hub-Signature": "sha1=\u00e9".encode()}, {"Authorization": "Bearer x"}]
            )
        )
    if vendor == "meltwater":
        digest = hmac.new(secret.encode(), body, hashlib.sha1).hexdigest()
        return {"X-Hub-Signature": f"sha1={digest}"}
    return {"Authorization": f"Bearer {secret}"}


def sendable(text: str) -> str:
    """``text`` with lone surrogates replaced: an HTTP client cannot put them in a query string."""
    return text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")


@st.composite
def requests(draw: st.DrawFn, doc: dict[str, Any], op: Operation, secrets: Secrets) -> Drawn:
    spec = op.spec
    url_path = op.path
    query: dict[str, str] = {}
    headers: dict[str, str | bytes] = {}
    drawn_params: dict[str, str] = {}
    for param in spec.get("parameters", []):
        where, name = param["in"], param["name"]
        value = draw(st.one_of(from_schema(doc, param["schema"]).map(str), st.text(max_size=40)))
        drawn_params[name] = value
        if where == "path":
            # a lone surrogate goes out as its (invalid UTF-8) bytes, percent-encoded
            quoted = quote(value or "x", safe="", errors="surrogatepass")
            url_path = url_path.replace("{" + name + "}", quoted)
        elif where == "query" and draw(st.booleans()):
            query[name] = sendable(value)
    # credentials: valid most of the time, so the handlers behind authentication get fuzzed
    schemes = [name for req in spec.get("security", []) for name in req]
    for scheme in schemes:
        token = secrets.bearer.get(scheme)
        if token is None:
            continue
        choice = draw(st.integers(0, 7))  # Hypothesis favours small values: mostly valid
        if choice < 6:
            headers["Authorization"] = f"Bearer {token}"
        elif choice == 7:
            headers["Authorization"] = "Bearer " + draw(HEADER_TEXT)
        break
    # parameters nobody declared, on every operation (and so more than one example for those
    # that declare none)
    extra = draw(st.dictionaries(st.text(min_size=1, max_size=8), st.text(max_size=30), max_size=2))
    query.update({sendable(k): sendable(v) for k, v in extra.items()})
    if draw(st.booleans()):
        headers[draw(st.sampled_from(["X-Forwarded-For", "Accept", "Cookie", "Range"]))] = draw(
            HEADER_TEXT
        )
    body: bytes | None = None
    content = (spec.get("requestBody") or {}).get("content", {})
    if op.path == "/slack/actions":
        body = draw(_slack_form(doc))
        headers["Content-Type"] = "application/x-www-form-urlencoded"
        if draw(st.sampled_from([True, True, True, False])):
            headers.update(_slack_sign(secrets.slack_signing, body))
        else:
            headers["X-Slack-Request-Timestamp"] = draw(
                st.sampled_from(["1" + "0" * 400, "x", "1"])
            )
            headers["X-Slack-Signature"] = "v0=" + draw(HEADER_TEXT)
    elif op.path == "/pagerduty/webhook":
        body = draw(_pagerduty(doc))
        headers["Content-Type"] = "application/json"
        good = "v1=" + hmac.new(secrets.pagerduty.encode(), body, hashlib.sha256).hexdigest()
        signatures: list[str | bytes] = [good, good, good, "v1=\u00e9".encode(), ""]
        headers["X-PagerDuty-Signature"] = draw(st.sampled_from(signatures))
    elif op.path == "/api/ingest/{vendor}":
        kind = draw(st.sampled_from(sorted(content)))
        headers["Content-Type"] = kind
        body = draw(_vendor_body(doc, content["application/json"]["schema"]))
        if kind == "application/x-ndjson":
            more = draw(st.lists(_vendor_body(doc, {}), max_size=3))
            body = b"\n".join(b.replace(b"\n", b" ") for b in [body, *more])
        headers.update(_vendor_credentials(draw, drawn_params.get("vendor", ""), body, secrets))
    elif content:
        kind = draw(st.sampled_from(sorted(content)))
        schema = content[kind].get("schema", {})
        headers["Content-Type"] = kind
        if kind == "application/json":
            body = draw(json_body(doc, schema))
        elif kind == "application/x-ndjson":
            mention = doc["components"]["schemas"]["Mention"]
            lines = draw(st.lists(json_body(doc, mention), min_size=1, max_size=5))
            body = b"\n".join(line.replace(b"\n", b" ") for line in lines)
        else:
            form = draw(from_schema(doc, schema))
            body = urlencode(
                {k: str(v) for k, v in (form or {}).items()}, errors="surrogatepass"
            ).encode()
    return Drawn(op, url_path, query, headers, body)
