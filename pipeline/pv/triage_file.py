"""``tocsin pv triage``: classify a file of mentions and assess each one as a possible case.

Reuses the ``tocsin classify`` file path (:func:`models.classify_file.classify_file`: the same
readers, skipped-row reporting, batching and atomic write), adding to each result the input
row's other columns or fields and the ``case`` assessment of :class:`pipeline.pv.triage.Triage`.

Every row is assessed, whatever its topics: the classifier's ``adverse_event`` topic is reported
next to the case so a safety team can compare, but it does not gate the triage (a single report
must not be lost to a classifier miss).

Output, JSONL: one object per row -- the input fields, then ``line``, ``id``, ``text``,
``topics``, ``scores``, ``stance``, ``stance_scores``, ``lang`` (as ``tocsin classify``), then
``case`` as a nested object. CSV: the input columns, then ``tocsin classify``'s columns, then a
``case`` column holding the same object as a JSON string. An input column or field whose name
is one of the output's is kept as ``input_<name>``.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from models.classifier import MentionClassifier, Prediction
from models.classify_file import Row, Summary, classify_file, csv_header, csv_values, result_row
from pipeline.pv.triage import AUTHOR_FIELDS, Triage

RESULT_KEYS = ("line", "id", "text", "topics", "scores", "stance", "stance_scores", "lang")


def author_of(fields: dict[str, Any]) -> str | None:
    """The first non-empty author field of an input row (see :data:`AUTHOR_FIELDS`)."""
    for name in AUTHOR_FIELDS:
        value = fields.get(name)
        if value is not None and str(value).strip():
            return str(value)
    return None


def _kept(fields: dict[str, Any], taken: set[str]) -> dict[str, Any]:
    return {(f"input_{k}" if k in taken else k): v for k, v in fields.items()}


def triage_result(triage: Triage) -> Callable[[Row, Prediction], dict[str, Any]]:
    """The per-row result: input fields kept, ``tocsin classify``'s result, then ``case``."""
    taken = {*RESULT_KEYS, "case", "labels"}

    def make(row: Row, pred: Prediction) -> dict[str, Any]:
        fields = {k: v for k, v in row.fields.items() if k not in ("text", "id")}
        case = triage.assess(row.text, author_of(row.fields), pred.case_cues)
        return {**_kept(fields, taken), **result_row(row, pred), "case": case.as_dict()}

    return make


class TriageWriter:
    """JSONL: the result as is. CSV: input columns, classify columns, ``case`` as JSON text."""

    def __init__(self, f: IO[str], fmt: str) -> None:
        self._f = f
        self._fmt = fmt
        self._csv: Any = None
        self._extra: list[str] = []
        self._header: list[str] = []

    def write(self, result: dict[str, Any]) -> None:
        if self._fmt == "jsonl":
            self._f.write(json.dumps(result, ensure_ascii=False) + "\n")
            return
        if self._csv is None:
            self._extra = [k for k in result if k not in RESULT_KEYS and k != "case"]
            self._header = csv_header(result)
            self._csv = csv.writer(self._f)
            self._csv.writerow([*self._extra, *self._header, "case"])
        extra = [_cell(result.get(k)) for k in self._extra]
        case = json.dumps(result["case"], ensure_ascii=False)
        self._csv.writerow([*extra, *csv_values(result, self._header), case])


def _cell(value: object) -> object:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return value


def triage_file(
    source: Path,
    dest: Path,
    classifier: MentionClassifier,
    triage: Triage,
    *,
    in_format: str | None = None,
    batch_size: int = 32,
    on_progress: Callable[[int], None] | None = None,
) -> Summary:
    """Classify and triage every usable row of ``source`` into ``dest`` (CSV or JSONL)."""
    return classify_file(
        source,
        dest,
        classifier,
        in_format=in_format,
        batch_size=batch_size,
        on_progress=on_progress,
        result=triage_result(triage),
        writer=TriageWriter,
    )
