"""The HTTP API's OpenAPI 3.1 description: ``pipeline/worker/openapi.json``, served at ``/openapi.json``.

The file is written by hand and committed; ``tests/unit/test_openapi.py`` checks it against the
routes the worker really registers (no endpoint missing, none invented), and the API fuzz
(``tests/integration/test_api_fuzz.py``) generates its requests from it.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

PATH = Path(__file__).with_name("openapi.json")


@cache
def document_bytes() -> bytes:
    return PATH.read_bytes()


def document() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(document_bytes())
    return doc
