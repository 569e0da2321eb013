"""Finding and removing one author's data in plain JSON values (``pipeline.ingest.erasure``)."""

from __future__ import annotations

from pipeline.ingest.erasure import Erasure, mentions, scrub

PSEUDONYM = "9f" * 16
ERASURE = Erasure(
    frozenset({"u_1", PSEUDONYM}),
    frozenset({"@jane"}),
    frozenset({"x:1"}),
    frozenset({"Glytera made me dizzy"}),
)


def bucket_state() -> dict[str, object]:
    """An ``open_buckets`` value as counting writes it (one open cell)."""
    mine = {"id": "x:1", "text": "Glytera made me dizzy", "url": "https://x.example/1"}
    theirs = {"id": "x:10", "text": "Glytera price", "url": "https://x.example/10"}
    return {
        "open": {
            "1700000000": {
                "pricing": {
                    "n": 2,
                    "authors": [PSEUDONYM, "ab" * 16],
                    "top": [mine, theirs],
                    "first": mine,
                    "ta": [
                        {"id": PSEUDONYM, "handle": "@jane", "mentions": 1},
                        {"id": "ab" * 16, "handle": None, "mentions": 1},
                    ],
                }
            }
        },
        "wm": 1700000100,
    }


def test_scrub_removes_the_author_and_keeps_the_rest() -> None:
    state = bucket_state()
    assert mentions(state, ERASURE)
    clean, removed = scrub(state, ERASURE)
    cell = clean["open"]["1700000000"]["pricing"]
    assert removed == 4  # their pseudonym, their top mention, the first source, their top author
    assert cell["authors"] == ["ab" * 16] and [t["id"] for t in cell["top"]] == ["x:10"]
    assert cell["first"] is None and [a["id"] for a in cell["ta"]] == ["ab" * 16]
    assert cell["n"] == 2 and clean["wm"] == 1700000100  # counts are about nobody
    assert not mentions(clean, ERASURE)
    assert state["open"]["1700000000"]["pricing"]["n"] == 2  # type: ignore[index]


def test_ids_match_whole_values_only() -> None:
    other = {"top": [{"id": "x:10", "text": "x:1 is not x:10"}], "author": "u_10"}
    assert not mentions(other, ERASURE)
    assert scrub(other, ERASURE) == (other, 0)
    by_handle = [{"handle": "@jane", "followers": 3}, {"handle": "@janet"}]
    assert scrub(by_handle, ERASURE) == ([{"handle": "@janet"}], 1)
    nested_author = [{"id": "m", "author": {"id": "u_1"}}, {"id": "n", "author": PSEUDONYM}]
    assert scrub(nested_author, ERASURE) == ([], 2)
