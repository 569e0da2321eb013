"""The console's static files: its own script and style, and uPlot from the npm cache.

uPlot is not copied into the clone: ``deploy/console/fetch-assets.sh`` (run by ``make setup``)
installs it with ``npm ci`` from ``deploy/console/package-lock.json`` into
``$TOCSIN_CACHE/npm/console-<hash of the lock>/node_modules``, which is where this module looks
(``TOCSIN_CONSOLE_ASSETS`` names another ``node_modules`` folder). Without it the pages still work:
each chart's text alternative (a table) is shown and the chart area says why it is missing.

Only the names in :data:`FILES` are ever served, so a request cannot walk the file system.
"""

from __future__ import annotations

import hashlib
import os
from functools import lru_cache
from pathlib import Path

from pipeline.settings import default_cache_dir

HERE = Path(__file__).resolve().parent
LOCK = HERE.parents[1] / "deploy" / "console" / "package-lock.json"

#: served name -> (where it is: "own" in pipeline/console/static, "npm" in node_modules, path,
#: content type)
FILES: dict[str, tuple[str, str, str]] = {
    "console.js": ("own", "console.js", "text/javascript"),
    "console.css": ("own", "console.css", "text/css"),
    "uplot.js": ("npm", "uplot/dist/uPlot.iife.min.js", "text/javascript"),
    "uplot.css": ("npm", "uplot/dist/uPlot.min.css", "text/css"),
}


def node_modules() -> Path | None:
    """The ``node_modules`` folder fetch-assets.sh filled for this lock file, if any."""
    given = os.environ.get("TOCSIN_CONSOLE_ASSETS")
    if given:
        return Path(given)
    if not LOCK.is_file():
        return None
    key = hashlib.sha256(LOCK.read_bytes()).hexdigest()[:12]
    return default_cache_dir() / "npm" / f"console-{key}" / "node_modules"


@lru_cache(maxsize=16)
def load(name: str) -> tuple[bytes, str] | None:
    """The bytes and content type of a served file, or None (unknown name, asset not fetched)."""
    found = FILES.get(name)
    if found is None:
        return None
    where, rel, kind = found
    root = HERE / "static" if where == "own" else node_modules()
    if root is None:
        return None
    path = root / rel
    try:
        return path.read_bytes(), kind
    except OSError:
        return None


def charts_available() -> bool:
    return load("uplot.js") is not None
