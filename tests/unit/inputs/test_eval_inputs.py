"""``tocsin model eval --input`` reads labelled files (:func:`models.corpus.load_labelled`) in every
variant of :mod:`tests.unit.inputs.variants` as the plain CSV, and refuses unusable ones with the
file and line. Under 1 s.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from models.corpus import CorpusError, LabelledRow, load_labelled
from tests.unit.inputs.variants import READABLE, csv_bytes

HEADER = ["id", "text", "topics", "lang"]
ROWS = [
    ["a", 'the price, "quoted"\nand a second line', "pricing", "en"],
    ["b", "effets secondaires 😷 \u200fعربي", "adverse_event;pricing", "fr"],
]


def _plain(tmp_path: Path) -> list[LabelledRow]:
    src = tmp_path / "plain.csv"
    src.write_bytes(csv_bytes(HEADER, ROWS))
    return load_labelled(src)


@pytest.mark.parametrize("variant", READABLE)
def test_every_variant_loads_as_the_plain_csv(tmp_path: Path, variant: str) -> None:
    v = READABLE[variant]
    src = tmp_path / f"in{v.suffix}"
    src.write_bytes(v.write(HEADER, ROWS))
    got = load_labelled(src)
    assert got == _plain(tmp_path)
    assert got[1].topics == ("adverse_event", "pricing") and got[1].lang == "fr"


def test_windows_1252_bytes_are_read_as_such(tmp_path: Path) -> None:
    src = tmp_path / "in.csv"
    src.write_bytes(csv_bytes(["text", "topics"], [["prix élevé", "pricing"]], encoding="cp1252"))
    assert [r.text for r in load_labelled(src)] == ["prix élevé"]


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("in.csv", b"", "needs `text` and `topics` columns"),
        ("in.xlsx", b"PK\x03\x04rest-of-a-workbook", "save the sheet as CSV"),
        ("in.csv", b"text,topics\n", "no examples"),
        ("in.csv", b"text;labels\nhi;pricing\n", "needs `text` and `topics` columns"),
        ("in.csv", b"text,topics\nhi,pricing\n\x1a\n", ":3: 1 fields where the header has 2"),
        (
            "in.jsonl",
            b'{"text": "hi", "topics": ["pricing"]}\n{"text": null}\n',
            ":2: field 'text'",
        ),
        ("in.json", b'[{"text": "hi", "topics": ["pricing"]}, 5]', ":2: expected a JSON object"),
    ],
)
def test_unusable_files_are_refused_with_file_and_line(
    tmp_path: Path, name: str, data: bytes, message: str
) -> None:
    src = tmp_path / name
    src.write_bytes(data)
    with pytest.raises(CorpusError, match=message.replace("(", r"\(")):
        load_labelled(src)


@pytest.mark.parametrize(
    "cell",
    [
        "adverse_event;pricing",
        "adverse_event, pricing",
        "Adverse_Event|Pricing",
        '["adverse_event", "pricing"]',
    ],
)
def test_topics_cell_spellings_of_other_tools(tmp_path: Path, cell: str) -> None:
    src = tmp_path / "in.csv"
    src.write_bytes(csv_bytes(["text", "topics"], [["prix et effets", cell]]))
    assert [r.topics for r in load_labelled(src)] == [("adverse_event", "pricing")]
