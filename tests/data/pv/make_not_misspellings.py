"""Regenerate ``not_misspellings`` in pipeline/pv/data/medicines.yaml from word lists.

    apt-get install wamerican wbritish wfrench
    PYTHONPATH=$PWD .venv/bin/python tests/data/pv/make_not_misspellings.py [--check]

A word of 6+ letters that is one edit from a single-word medicine name of 6+ letters ("ability" /
Abilify, "lyrics" / Lyrica) would be read as a misspelt medicine; every such word of the EN and FR
word lists is written to the file's ``not_misspellings`` (replacing the block at its end). Names
that are themselves ordinary words are printed for review (they match exactly, whatever this list
says). ``--check`` only prints.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pipeline.pv.lexicon import MEDICINES_FILE, MIN_FUZZY_WORD, load_medicines, normalise

WORD_LISTS = (
    Path("/usr/share/dict/american-english"),
    Path("/usr/share/dict/british-english"),
    Path("/usr/share/dict/french"),
)
MARK = "not_misspellings:"


def words() -> set[str]:
    out: set[str] = set()
    for path in WORD_LISTS:
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            w = normalise(line.strip())
            if w.isalpha() and w.isascii():
                out.add(w)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="Print only; do not rewrite the file.")
    args = ap.parse_args(argv)
    missing = [str(p) for p in WORD_LISTS if not p.exists()]
    if missing:
        print(f"missing word lists: {missing}", file=sys.stderr)
        return 2
    index = load_medicines()
    vocab = words()
    names = set(index.single) | set(index.exact.label_of)
    print("names that are ordinary words:", sorted(n for n in names if n in vocab))
    close = sorted(
        w
        for w in vocab
        if len(w) >= MIN_FUZZY_WORD and w not in names and index.near(w) is not None
    )
    pairs = [f"{w}/{index.near(w)}" for w in close]
    print(f"{len(close)} words one edit from a name:", " ".join(pairs))
    if args.check:
        return 0
    text = MEDICINES_FILE.read_text(encoding="utf-8")
    head = text.split("\n" + MARK, 1)[0].rstrip("\n")
    block = f"{MARK} [{', '.join(close)}]\n"
    MEDICINES_FILE.write_text(f"{head}\n{block}", encoding="utf-8")
    print(f"wrote {len(close)} words to {MEDICINES_FILE}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
