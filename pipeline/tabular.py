"""Reading the files users hand to the file commands (``backtest``, ``classify``, ``pv triage``,
``model eval``): one place decides the encoding, the CSV delimiter, the header spelling and the
JSON layout, so every command accepts the same files.

Accepted, whatever the command:

* encodings: UTF-8 (with or without a byte-order mark), UTF-16/32 with a byte-order mark (Excel's
  "Unicode text"), UTF-16 without one (detected by its NUL bytes); bytes that are not UTF-8
  (a Latin-1 or Windows-1252 export, or one such line in a UTF-8 file) are read as Windows-1252;
* CSV: any line ending; ``,`` ``;`` tab or ``|`` as the delimiter (chosen from the header line,
  or Excel's ``sep=;`` line); empty fields past the header's width (a trailing delimiter) dropped;
  quoted fields with embedded newlines and delimiters; fields up to the size of the file; header
  names matched after trimming spaces and ignoring case (``" Text "`` is ``text``);
* JSON: JSON Lines (blank lines ignored) or one JSON array of objects (``[{...}, {...}]``),
  whatever the suffix says (an array is read whole: its memory grows with the file).

Binary files (an Excel workbook, a zip, gzip or Parquet file) are refused with what they look
like. ``-`` (stdin) is not an input: the commands need a file they can read twice (encoding, then rows).
"""

from __future__ import annotations

import codecs
import csv
import email.utils
import io
import json
import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import chain
from pathlib import Path
from typing import IO, Any

from pipeline.errors import TocsinError

JSONL_SUFFIXES = (".jsonl", ".ndjson", ".json")
CSV_SUFFIXES = (".csv", ".tsv", ".tab", ".txt")
DELIMITERS = (",", ";", "\t", "|")
#: Bytes Windows-1252 leaves undefined: a file holding them is read as Latin-1.
_CP1252_HOLES = (b"\x81", b"\x8d", b"\x8f", b"\x90", b"\x9d")
_FALLBACK = "tocsin-cp1252-fallback"


#: Leading bytes of files that are not text, and what to do instead.
_BINARY = (
    (b"PK\x03\x04", "a zip archive or an Excel workbook (.xlsx): save the sheet as CSV"),
    (b"\xd0\xcf\x11\xe0", "an old Excel workbook (.xls): save the sheet as CSV"),
    (b"\x1f\x8b", "gzip-compressed: decompress it first"),
    (b"PAR1", "a Parquet file: export it as CSV or JSON Lines"),
)


class FileUnreadable(TocsinError, ValueError):
    """The file is not a table these commands read: binary (a workbook, an archive) or with no
    header line; the message says which and what to do."""


class HeaderError(FileUnreadable):
    """The file has no header line (it is empty or blank)."""


def detect_encoding(path: Path) -> str:
    """The codec to read ``path`` with: from its byte-order mark, else UTF-16 by its NUL bytes,
    else UTF-8 (read with :func:`open_text`'s Windows-1252 fallback for bytes that are not).
    Raises :class:`FileUnreadable` for a binary file."""
    with path.open("rb") as f:
        head = f.read(4)
    for magic, what in _BINARY:
        if head.startswith(magic):
            raise FileUnreadable(f"{path}: not a text file, {what}")
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        return "utf-32"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if len(head) >= 2 and head[0] != 0 and head[1] == 0:
        return "utf-16-le"
    if len(head) >= 2 and head[0] == 0 and head[1] != 0:
        return "utf-16-be"
    return "utf-8"


def _cp1252_fallback(exc: UnicodeError) -> tuple[str, int]:
    """Decode the bytes UTF-8 refuses as Windows-1252 (its undefined bytes as Latin-1).

    Byte by byte, so a file of Latin-1 lines reads right and so does one stray Latin-1 line in a
    UTF-8 export: its UTF-8 lines stay UTF-8.
    """
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    bad = exc.object[exc.start : exc.end]
    text = "".join(
        chr(b) if bytes([b]) in _CP1252_HOLES else bytes([b]).decode("cp1252") for b in bad
    )
    return text, exc.end


def open_text(path: Path) -> IO[str]:
    """``path`` opened for reading as text in its detected encoding, line endings left to csv."""
    encoding = detect_encoding(path)
    if encoding != "utf-8":
        return path.open(encoding=encoding, newline="")
    codecs.register_error(_FALLBACK, _cp1252_fallback)  # idempotent: the same handler each time
    return path.open(encoding="utf-8-sig", errors=_FALLBACK, newline="")


def sniff_format(path: Path, explicit: str | None = None) -> str:
    """``csv`` or ``jsonl`` (which also covers a JSON array): ``explicit`` if given, else the
    suffix, else the first non-blank character (``{`` or ``[`` is JSON)."""
    if explicit and explicit != "auto":
        return explicit
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson"):
        return "jsonl"
    if suffix in CSV_SUFFIXES:
        return "csv"
    with open_text(path) as f:
        first = _first_char(f)
    return "jsonl" if first in ("{", "[") else "csv"


def _first_char(f: IO[str]) -> str:
    for chunk in iter(lambda: f.read(4096), ""):
        stripped = chunk.lstrip()
        if stripped:
            return stripped[0]
    return ""


# ---------------------------------------------------------------------------------------- CSV


@dataclass(frozen=True)
class Header:
    """A CSV header as read (names trimmed) and where each wanted column is."""

    names: list[str]
    delimiter: str

    def find(self, name: str) -> int | None:
        """The position of column ``name``: exact first, then trimmed and case-insensitive."""
        if name in self.names:
            return self.names.index(name)
        folded = [n.casefold() for n in self.names]
        return folded.index(name.casefold()) if name.casefold() in folded else None

    def canonical(self, known: Iterable[str]) -> list[str]:
        """The names with each case or spacing variant of a ``known`` name spelled as known."""
        out = list(self.names)
        for name in known:
            at = self.find(name)
            if at is not None:
                out[at] = name
        return out


def csv_rows(f: IO[str], wanted: Sequence[str] = ()) -> tuple[Header, Any]:
    """The header and the ``csv.reader`` of the records after it (its ``line_num`` counts lines).

    The delimiter is the one of :data:`DELIMITERS` whose split of the header line holds every
    ``wanted`` column (else the one giving the most columns). Raises :class:`HeaderError` on an
    empty file and ``csv.Error`` on a header csv cannot read.
    """
    csv.field_size_limit(sys.maxsize)  # a 200,000-character post is one field, not an error
    first = f.readline()
    while first and not first.strip():
        first = f.readline()
    if not first:
        raise HeaderError("empty file, no header line")
    if first.lower().startswith("sep=") and len(first.strip()) == 5:
        # Excel's own hint line ("sep=;"): it names the delimiter and is not the header
        delimiter, first = first.strip()[4], f.readline()
    else:
        delimiter = _pick_delimiter(first, wanted)
    reader = csv.reader(chain([first], f), delimiter=delimiter)
    names = [h.strip().lstrip("\ufeff").strip() for h in next(reader)]
    return Header(names, delimiter), reader


def _pick_delimiter(line: str, wanted: Sequence[str]) -> str:
    best, best_n = ",", 0
    for d in DELIMITERS:
        try:
            cells = next(csv.reader(io.StringIO(line), delimiter=d), [])
        except csv.Error:
            continue
        header = Header([c.strip().lstrip("\ufeff").strip() for c in cells], d)
        if wanted and all(header.find(w) is not None for w in wanted):
            return d
        if len(cells) > best_n:
            best, best_n = d, len(cells)
    return best


def fit_record(record: list[str], width: int) -> list[str]:
    """``record`` without the empty fields past the header's ``width`` (a trailing delimiter on
    every row, as some exports write); a record of another width is returned as is."""
    if len(record) > width and not any(c.strip() for c in record[width:]):
        return record[:width]
    return record


# ---------------------------------------------------------------------------------------- JSON


@dataclass(frozen=True)
class BadRecord:
    """A JSON line or array item that is not usable: ``kind`` a short code, ``detail`` for people."""

    kind: str
    detail: str


def json_records(f: IO[str]) -> Iterator[tuple[int, object]]:
    """``(line, value)`` per JSON Lines record, or per item of a JSON array (``line`` is then the
    item's number); a line that is not JSON comes as a :class:`BadRecord`."""
    first = _first_char(f)
    f.seek(0)
    if first == "[":
        try:
            items = json.load(f)
        except (json.JSONDecodeError, RecursionError) as exc:
            yield 1, BadRecord("bad_json", f"not JSON (an array that does not parse: {exc})")
            return
        yield from enumerate(items if isinstance(items, list) else [items], start=1)
        return
    for line, raw in enumerate(f, start=1):
        text = raw.lstrip("\ufeff")
        if not text.strip():
            continue
        try:
            yield line, json.loads(text)
        except json.JSONDecodeError as exc:
            yield line, BadRecord("bad_json", f"not JSON ({exc.msg}, column {exc.colno})")
        except RecursionError:
            yield line, BadRecord("bad_json", "not JSON (nested too deeply)")


def get_field(obj: dict[str, Any], name: str) -> Any:
    """``obj[name]``, else the value of a key that is ``name`` up to case and spaces."""
    if name in obj:
        return obj[name]
    for key, value in obj.items():
        if isinstance(key, str) and key.strip().casefold() == name.casefold():
            return value
    return None


# ---------------------------------------------------------------------------------------- time


def parse_timestamp(raw: object) -> datetime:
    """A timestamp as exports write them, as an aware UTC datetime (naive means UTC).

    ISO-8601 (``Z``, offsets, with or without seconds, ``T`` or a space: NAB's
    ``YYYY-MM-DD HH:MM:SS``; a trailing `` UTC``); Unix epoch seconds, milliseconds or
    microseconds (by magnitude);
    Twitter's ``Wed Oct 10 20:19:24 +0000 2018``; RFC 2822 (``Wed, 10 Oct 2018 20:19:24 +0000``).
    Raises ``ValueError`` otherwise.
    """
    if isinstance(raw, bool) or raw is None:
        raise ValueError(f"not a timestamp: {raw!r}")
    text = str(raw).strip()
    try:
        number = float(text)
    except ValueError:
        return _parse_text_time(text)
    for scale in (1.0, 1e3, 1e6):
        if abs(number / scale) < 1e11:  # seconds below the year 5138
            return datetime.fromtimestamp(number / scale, UTC)
    raise ValueError(f"epoch value out of range: {text!r}")


def _parse_text_time(text: str) -> datetime:
    value: datetime | None = None
    for zone in (" UTC", " GMT"):  # BigQuery and database exports: "2024-03-04 10:00:00 UTC"
        if text.upper().endswith(zone):
            text = text[: -len(zone)] + "+00:00"
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        for fmt in ("%a %b %d %H:%M:%S %z %Y",):
            try:
                value = datetime.strptime(text, fmt)
            except ValueError:
                continue
        if value is None:
            try:
                value = email.utils.parsedate_to_datetime(text)
            except (TypeError, ValueError, IndexError) as exc:
                raise ValueError(f"not a timestamp: {text!r}") from exc
    return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
