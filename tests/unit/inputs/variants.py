"""File variants real exports produce, built from one table, for the file commands' input tests.

Each variant turns a header and rows into the bytes of a file: the encoding, delimiter, line ending
and header spelling a spreadsheet, a listening tool or a public dataset would use.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass

Table = tuple[Sequence[str], Sequence[Sequence[str]]]


def csv_bytes(
    header: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    delimiter: str = ",",
    newline: str = "\n",
    encoding: str = "utf-8",
) -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter=delimiter, lineterminator=newline)
    writer.writerow(header)
    writer.writerows(rows)
    return buf.getvalue().encode(encoding)


@dataclass(frozen=True)
class Variant:
    """How to write a table: the file's suffix and a function from (header, rows) to bytes."""

    suffix: str
    write: Callable[[Sequence[str], Sequence[Sequence[str]]], bytes]


def _json_lines(header: Sequence[str], rows: Sequence[Sequence[str]], encoding: str) -> bytes:
    objs = [dict(zip(header, r, strict=True)) for r in rows]
    return "".join("\n" + json.dumps(o, ensure_ascii=False) + "\n" for o in objs).encode(encoding)


def _json_array(header: Sequence[str], rows: Sequence[Sequence[str]]) -> bytes:
    objs = [dict(zip(header, r, strict=True)) for r in rows]
    return json.dumps(objs, ensure_ascii=False, indent=1).encode()


#: Variants whose rows every file command must read exactly as the plain UTF-8 CSV.
READABLE: dict[str, Variant] = {
    "crlf": Variant(".csv", lambda h, r: csv_bytes(h, r, newline="\r\n")),
    "utf-8 bom": Variant(".csv", lambda h, r: b"\xef\xbb\xbf" + csv_bytes(h, r)),
    "excel unicode text (utf-16, tab, .txt)": Variant(
        ".txt", lambda h, r: csv_bytes(h, r, delimiter="\t", newline="\r\n", encoding="utf-16")
    ),
    "utf-16 without bom": Variant(".csv", lambda h, r: csv_bytes(h, r, encoding="utf-16-le")),
    "semicolon": Variant(".csv", lambda h, r: csv_bytes(h, r, delimiter=";")),
    "tab .tsv": Variant(".tsv", lambda h, r: csv_bytes(h, r, delimiter="\t")),
    "header case and spaces": Variant(
        ".csv", lambda h, r: csv_bytes([f" {c.title()} " for c in h], r)
    ),
    "blank lines": Variant(".csv", lambda h, r: csv_bytes(h, r, newline="\n\n") + b"\n \n"),
    "excel sep= line": Variant(".csv", lambda h, r: b"sep=;\r\n" + csv_bytes(h, r, delimiter=";")),
    "trailing delimiter on every row": Variant(
        ".csv", lambda h, r: csv_bytes(h, [[*row, ""] for row in r])
    ),
    "jsonl with blank lines": Variant(".jsonl", lambda h, r: _json_lines(h, r, "utf-8")),
    "jsonl utf-16": Variant(".jsonl", lambda h, r: _json_lines(h, r, "utf-16")),
    "json array in .json": Variant(".json", _json_array),
    "json array in .jsonl": Variant(".jsonl", _json_array),
}
