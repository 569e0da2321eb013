"""Classify a file of mentions (CSV with a ``text`` column, or JSONL with a ``text`` field).

Used by ``tocsin classify`` for batch jobs: back-filling a week of exported mentions, checking a
labelled sample, or scoring a competitor's data dump. Bad rows are the norm in such exports, so a
row that is empty, not JSON, not an object, without a usable ``text``, or a CSV line with the
wrong number of fields is **reported, skipped and counted** -- never a crash and never a silent
drop: the summary says how many rows of each kind were skipped, and each skip names its line.

Output format follows the output file's suffix (``.csv`` or ``.jsonl``/``.ndjson``). Each output
row carries the input line number (``line``), the input ``id`` when there is one, the text, the
labels above threshold, every per-topic probability, the stance with its probabilities and the
language. Rows are classified in batches so the encoder's length batching pays off.
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Protocol

from models.classifier import MentionClassifier, Prediction
from pipeline.errors import TocsinError
from pipeline.tabular import (
    BadRecord,
    FileUnreadable,
    HeaderError,
    csv_rows,
    detect_encoding,
    fit_record,
    get_field,
    json_records,
    open_text,
    sniff_format,
)

JSONL_SUFFIXES = (".jsonl", ".ndjson", ".json")
CSV_SUFFIXES = (".csv",)
TEXT_FIELD = "text"

#: Skipped rows whose reason is written individually; beyond this only the counts are kept.
MAX_REPORTED = 50


class InputFormatError(TocsinError, ValueError):
    """The whole file is unusable (unknown format, CSV without a ``text`` column, unreadable)."""


@dataclass(frozen=True)
class Row:
    """One usable input row."""

    line: int
    text: str
    id: str | None
    #: every column or field of the input row, as read (kept by callers that echo them back)
    fields: dict[str, Any] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class Skip:
    """One skipped input row and why (``kind`` is a short stable code, ``detail`` for humans)."""

    line: int
    kind: str
    detail: str


@dataclass
class Summary:
    """What happened to the rows of one file."""

    classified: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    reported: list[Skip] = field(default_factory=list)

    @property
    def skipped_total(self) -> int:
        return sum(self.skipped.values())

    def skip(self, s: Skip) -> None:
        self.skipped[s.kind] += 1
        if len(self.reported) < MAX_REPORTED:
            self.reported.append(s)

    def as_dict(self) -> dict[str, Any]:
        return {
            "classified": self.classified,
            "skipped": self.skipped_total,
            "skipped_by_reason": dict(sorted(self.skipped.items())),
        }


def file_format(path: Path, explicit: str | None = None) -> str:
    """``csv`` or ``jsonl`` from ``explicit`` or the file suffix (the output's format)."""
    if explicit and explicit != "auto":
        return explicit
    suffix = path.suffix.lower()
    if suffix in CSV_SUFFIXES:
        return "csv"
    if suffix in JSONL_SUFFIXES:
        return "jsonl"
    raise InputFormatError(
        f"{path}: cannot tell the format from the suffix {suffix!r}; use .csv or .jsonl "
        "(or pass --format)"
    )


def _text_or_skip(value: object, line: int) -> str | Skip:
    if value is None:
        return Skip(line, "missing_text", f"no {TEXT_FIELD!r} value")
    if not isinstance(value, str):
        return Skip(line, "bad_text", f"{TEXT_FIELD!r} is a {type(value).__name__}, not a string")
    if not value.strip():
        return Skip(line, "empty_text", f"{TEXT_FIELD!r} is empty")
    return value


def _id_of(value: object) -> str | None:
    return None if value is None or value == "" else str(value)


def read_jsonl(f: IO[str]) -> Iterator[Row | Skip]:
    """Rows of JSON Lines or of a JSON array; blank lines are skipped silently (they are not rows)."""
    for line, obj in json_records(f):
        if isinstance(obj, BadRecord):
            yield Skip(line, obj.kind, obj.detail)
            continue
        if not isinstance(obj, dict):
            yield Skip(line, "not_object", f"a JSON {type(obj).__name__}, not an object")
            continue
        text = _text_or_skip(get_field(obj, TEXT_FIELD), line)
        yield text if isinstance(text, Skip) else Row(line, text, _id_of(get_field(obj, "id")), obj)


def read_csv(f: IO[str], source: Path) -> Iterator[Row | Skip]:
    """Rows of a CSV stream with a header; ``line`` is the physical line where a record starts."""
    try:
        header, reader = csv_rows(f, (TEXT_FIELD,))
    except HeaderError:
        raise InputFormatError(
            f"{source}: empty file, expected a header with a 'text' column"
        ) from None
    except csv.Error as exc:
        raise InputFormatError(f"{source}:1: unreadable CSV header ({exc})") from exc
    ti = header.find(TEXT_FIELD)
    if ti is None:
        raise InputFormatError(
            f"{source}:1: no {TEXT_FIELD!r} column in the header {header.names} "
            f"(read with the delimiter {header.delimiter!r})"
        )
    ii = header.find("id")
    names = header.canonical((TEXT_FIELD, "id"))
    while True:
        start = reader.line_num + 1
        try:
            record = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield Skip(start, "bad_csv", str(exc))
            if reader.line_num < start:  # no progress: stop rather than loop
                return
            continue
        if not record or all(not c.strip() for c in record):
            if record:
                yield Skip(start, "empty_text", "all fields are empty")
            continue
        record = fit_record(record, len(names))
        if len(record) != len(names):
            yield Skip(
                start, "bad_fields", f"{len(record)} fields where the header has {len(names)}"
            )
            continue
        text = _text_or_skip(record[ti], start)
        ident = _id_of(record[ii]) if ii is not None else None
        yield (
            text
            if isinstance(text, Skip)
            else Row(start, text, ident, dict(zip(names, record, strict=True)))
        )


def result_row(row: Row, p: Prediction) -> dict[str, Any]:
    return {
        "line": row.line,
        "id": row.id,
        "text": row.text,
        "topics": list(p.topics),
        "scores": {t: round(s, 4) for t, s in p.scores.items()},
        "stance": p.stance,
        "stance_scores": {s: round(v, 4) for s, v in p.stance_scores.items()},
        "lang": p.lang,
    }


class ResultWriter(Protocol):
    """Writes one result dict per classified row."""

    def write(self, result: dict[str, Any]) -> None: ...


def csv_header(result: dict[str, Any]) -> list[str]:
    """The flat CSV columns of ``tocsin classify`` for results shaped like ``result``."""
    return (
        ["line", "id", "text", "labels", "stance", "lang"]
        + [f"p_{t}" for t in result["scores"]]
        + [f"stance_{s}" for s in result["stance_scores"]]
    )


def csv_values(result: dict[str, Any], header: Sequence[str]) -> list[Any]:
    """One result as the values of :func:`csv_header`'s columns (topics fixed by ``header``)."""
    topics = [h[2:] for h in header if h.startswith("p_")]
    stances = [h[7:] for h in header if h.startswith("stance_")]
    return (
        [result["line"], result["id"] or "", result["text"], ";".join(result["topics"])]
        + [result["stance"], result["lang"]]
        + [result["scores"][t] for t in topics]
        + [result["stance_scores"][s] for s in stances]
    )


class _Writer:
    """Writes results as CSV (flat columns, fixed once the first batch names the topics) or JSONL."""

    def __init__(self, f: IO[str], fmt: str) -> None:
        self._f = f
        self._fmt = fmt
        self._csv: Any = None
        self._header: list[str] = []

    def write(self, result: dict[str, Any]) -> None:
        if self._fmt == "jsonl":
            self._f.write(json.dumps(result, ensure_ascii=False) + "\n")
            return
        if self._csv is None:
            self._header = csv_header(result)
            self._csv = csv.writer(self._f)
            self._csv.writerow(self._header)
        self._csv.writerow(csv_values(result, self._header))


def count_lines(path: Path) -> int:
    """Physical lines in a file (for the progress bar's length); cheap even for large files."""
    n = 0
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            n += chunk.count(b"\n")
    return n


def classify_file(
    source: Path,
    dest: Path,
    classifier: MentionClassifier,
    *,
    in_format: str | None = None,
    out_format: str | None = None,
    batch_size: int = 32,
    on_progress: Callable[[int], None] | None = None,
    on_skip: Callable[[Skip], None] | None = None,
    result: Callable[[Row, Prediction], dict[str, Any]] | None = None,
    writer: Callable[[IO[str], str], ResultWriter] | None = None,
) -> Summary:
    """Classify every usable row of ``source`` into ``dest``; return what was done and skipped.

    ``on_progress(line)`` is called after each batch with the last input line handled (for a
    progress bar); ``on_skip`` for each skipped row (to report it as it happens). ``result``
    and ``writer`` replace the per-row result and the output writer (``tocsin pv triage`` adds
    its case assessment to each row this way).
    """
    make_result = result or result_row
    make_writer = writer or _Writer
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    try:
        detect_encoding(source)  # a workbook or an archive is refused before anything is written
        fin = sniff_format(source, in_format)
    except FileUnreadable as exc:
        raise InputFormatError(str(exc)) from exc
    fout = file_format(dest, out_format)
    summary = Summary()
    batch: list[Row] = []

    def flush(out: ResultWriter) -> None:
        if not batch:
            return
        preds = classifier.classify([r.text for r in batch])
        for row, pred in zip(batch, preds, strict=True):
            out.write(make_result(row, pred))
        summary.classified += len(batch)
        if on_progress is not None:
            on_progress(batch[-1].line)
        batch.clear()

    def consume(rows: Iterator[Row | Skip], out: ResultWriter) -> None:
        for item in rows:
            if isinstance(item, Skip):
                summary.skip(item)
                if on_skip is not None:
                    on_skip(item)
                continue
            batch.append(item)
            if len(batch) >= batch_size:
                flush(out)
        flush(out)

    tmp = dest.with_name(f".{dest.name}.partial")
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        fo = tmp.open("w", encoding="utf-8", newline="")
    except OSError as exc:
        raise InputFormatError(f"{dest}: cannot write ({exc.strerror})") from exc
    try:
        with fo, open_text(source) as ft:
            sink = make_writer(fo, fout)
            consume(read_jsonl(ft) if fin == "jsonl" else read_csv(ft, source), sink)
        if summary.classified == 0:
            # An output with no rows would look like a finished run on a file with nothing to say.
            reasons = ", ".join(f"{k}={v}" for k, v in sorted(summary.skipped.items()))
            raise InputFormatError(
                f"{source}: no usable rows ({summary.skipped_total} skipped"
                f"{': ' + reasons if reasons else ''}); nothing written to {dest}"
            )
        tmp.replace(dest)
    finally:
        tmp.unlink(missing_ok=True)
    return summary


def describe(summary: Summary) -> Sequence[str]:
    """Human-readable closing lines for the CLI."""
    lines = [f"classified {summary.classified} rows, skipped {summary.skipped_total}"]
    if summary.skipped:
        lines.append(
            "skipped by reason: "
            + ", ".join(f"{k}={v}" for k, v in sorted(summary.skipped.items()))
        )
    hidden = summary.skipped_total - len(summary.reported)
    if hidden > 0:
        lines.append(f"({hidden} further skipped rows not listed individually)")
    return lines
