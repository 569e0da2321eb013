"""Score ``tocsin pv triage`` output against the labels its input carried.

``tocsin pv triage`` keeps the input's fields, so a labelled JSONL in the blind sets' shape
(``labels``: ``reporter``, ``patient``, ``product``, ``reaction``, ``valid``, ``serious``; ``lang``)
comes out with them as ``input_labels`` / ``input_lang`` beside ``case``. This scores the product
command itself, heads included (``bench/pv_triage_eval.py`` scores the rules alone), with the
same definitions: per criterion precision / recall / F1, valid-case and seriousness P / R, for all
rows and per language.

    tocsin pv triage --input tests/data/pv/independent/blind4/blind4.jsonl --output /tmp/b4.jsonl
    python bench/pv_score_output.py /tmp/b4.jsonl
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

CRITERIA = ("reporter", "patient", "product", "reaction")


def prf(pairs: Iterable[tuple[bool, bool]]) -> tuple[float, float, float]:
    """Precision, recall and F1 of (gold, predicted) pairs (0 where undefined)."""
    tp = fp = fn = 0
    for gold, pred in pairs:
        tp += gold and pred
        fp += pred and not gold
        fn += gold and not pred
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def score(rows: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Per criterion, ``valid`` and ``serious``: P, R, F1 over ``rows``."""
    out: dict[str, dict[str, float]] = {}
    for name in (*CRITERIA, "valid", "serious"):
        pairs = [
            (
                bool(r["input_labels"][name]),
                bool(r["case"]["criteria"][name] if name in CRITERIA else r["case"][name]),
            )
            for r in rows
        ]
        p, r_, f = prf(pairs)
        out[name] = {"precision": round(p, 3), "recall": round(r_, 3), "f1": round(f, 3)}
    return out


def main(path: str) -> None:
    rows = [
        json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line
    ]
    for lang in ("all", "en", "fr"):
        chosen = [r for r in rows if lang == "all" or r.get("input_lang") == lang]
        figures = score(chosen)
        cells = " | ".join(
            f"{k} P {v['precision']:.3f} R {v['recall']:.3f} F1 {v['f1']:.3f}"
            for k, v in figures.items()
        )
        print(f"{lang} n={len(chosen)} | {cells}")


if __name__ == "__main__":
    main(sys.argv[1])
