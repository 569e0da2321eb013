"""The labelled PV sets the triage heads learn from (tests/data/pv), by writer.

Their own module because two keys cover them: the PV heads' cache (models/pvbuild.py) and the
default v9 artefact's folder name (models/aestack.py), which the classifier computes without
importing the build code.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

PV_DATA = Path(__file__).resolve().parent.parent / "tests" / "data" / "pv"
#: Labelled sets by writer: the team's frames and hand-written rows, the social-wording dev
#: batches, the third writer's four batches, the second (independent) writer's set.
WRITERS: dict[str, tuple[str, ...]] = {
    "team": ("triage_labelled.jsonl",),
    "social": tuple(f"triage_social_dev{s}.jsonl" for s in ("", 2, 3, 4, 5, 6, 7)),
    "writer3": tuple(f"dev_writer3{s}.jsonl" for s in ("", "b", "c", "d")),
    "second": ("independent/second_writer.jsonl",),
}


def data_files(data: Path = PV_DATA) -> list[Path]:
    """Every labelled file, writer by writer."""
    return [data / name for files in WRITERS.values() for name in files]


def load_rows(data: Path = PV_DATA) -> list[dict[str, Any]]:
    """Every labelled row, with its writer under ``_writer``."""
    rows = []
    for writer, files in WRITERS.items():
        for name in files:
            with (data / name).open(encoding="utf-8") as f:
                rows += [{**json.loads(ln), "_writer": writer} for ln in f if ln.strip()]
    return rows
