"""Leave-one-writer-out evaluation of PV case triage: the rules, and the rules OR learned heads.

    PYTHONPATH=$PWD .venv/bin/python bench/pv_triage_cv.py [--json]

Every labelled PV set is grouped by who wrote it (:data:`WRITERS`). Each writer in turn is held
out: the learned heads (:mod:`models.pvhead`, logistic models over the classifier encoder's
sentence embedding) are trained on the other writers' rows and the held-out writer's rows are
scored, by the rules alone and by rule OR model (:func:`pipeline.pv.triage.add_learned`). The
rules are the same in every fold (they are not learned here); they were tuned by hand on most of
these sets (docs/pv-triage.md), so their figures on those are optimistic, and the model's
figures in a fold include rules tuned on the held-out writer too.

Choice rule, written before the first run of this script and applied as written:

1. Grid: L2 strength in ``L2_GRID``; reaction and patient thresholds in ``THRESHOLDS``.
   For every (L2, t_reaction, t_patient), score every held-out writer with the heads trained on
   the others (serious head off). Eligible: every held-out writer's valid precision >= 0.85 and
   reaction precision >= 0.80. Chosen: the eligible setting with the highest mean over writers of
   valid recall; ties go to the higher thresholds (fewer model flags), then the larger L2.
   None eligible: the reaction and patient heads stay off.
2. With that L2 and those thresholds, t_serious in ``THRESHOLDS``: eligible when every held-out
   writer's serious precision >= 0.70; chosen: the highest mean serious recall, ties to the
   higher threshold. None eligible: the serious head stays off.
3. Added after the first two runs of 1-2 (which showed reaction precision 0.80-0.82 on the
   second writer), before any run with it: with the settings of 1-2, the gate
   (``pipeline.pv.triage.GATE_NAMED``: the heads add a reaction only to a text that names no
   lexicon reaction and denies no side effects, so the rules' negation, hearsay, fear and
   indication verdicts stand) is on when it raises the mean over held-out writers of reaction
   F1 and lowers no held-out writer's valid recall by more than 0.01.
4. Those settings, trained on every writer's rows, are what ``tocsin model build`` ships
   (models/pvbuild.py). Because the settings are chosen on the same four folds they are scored
   on, the table also gives a **nested** estimate: for each held-out writer, the choice rule is
   run on the other three writers alone (leave one of them out in turn), and the settings it
   picks are trained on those three and scored on the held-out one.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from bench.pv_triage_eval import prf
from models import pvbuild
from models.pvdata import load_rows
from models.pvhead import PvHead, fit_pv_head
from pipeline.pv.triage import CaseAssessment, Triage, add_learned

L2_GRID = (10.0, 100.0, 1000.0)
THRESHOLDS = (0.5, 0.6, 0.7, 0.8, 0.9)
OFF = 1.01  # a threshold no probability reaches: the head is off
MIN_VALID_P = 0.85
MIN_REACTION_P = 0.80
MIN_SERIOUS_P = 0.70


@dataclass(frozen=True)
class Setting:
    l2: float
    reaction: float
    patient: float
    serious: float = OFF
    gate: bool = False

    def thresholds(self) -> dict[str, float]:
        return {"reaction": self.reaction, "patient": self.patient, "serious": self.serious}


def figures(rows: Sequence[dict[str, Any]], preds: Sequence[CaseAssessment]) -> dict[str, float]:
    labels = [r["labels"] for r in rows]
    out: dict[str, float] = {"n": len(rows)}
    for c in ("patient", "product", "reaction"):
        out[f"{c}_f1"] = float(
            prf((lab[c], p.criteria[c]) for lab, p in zip(labels, preds, strict=True))["f1"]
        )
    r = prf((lab["reaction"], p.criteria["reaction"]) for lab, p in zip(labels, preds, strict=True))
    out["reaction_p"] = float(r["precision"])
    for key in ("valid", "serious"):
        s = prf((lab[key], getattr(p, key)) for lab, p in zip(labels, preds, strict=True))
        out[f"{key}_r"], out[f"{key}_p"] = float(s["recall"]), float(s["precision"])
    return out


class Folds:
    """Rules' assessments and embeddings of every row; heads fitted per training group."""

    def __init__(self, rows: list[dict[str, Any]], rules: list[CaseAssessment], emb: Any) -> None:
        self.rows, self.rules, self.emb = rows, rules, np.asarray(emb)
        self.writers = tuple(dict.fromkeys(r["_writer"] for r in rows))
        self._fits: dict[tuple[tuple[str, ...], float], PvHead] = {}

    def idx(self, writers: Iterable[str]) -> npt.NDArray[np.int64]:
        keep = set(writers)
        return np.array([i for i, r in enumerate(self.rows) if r["_writer"] in keep])

    def head(self, train: tuple[str, ...], s: Setting) -> PvHead:
        key = (tuple(sorted(train)), s.l2)
        if key not in self._fits:
            i = self.idx(train)
            labels = [self.rows[j]["labels"] for j in i]
            self._fits[key] = fit_pv_head(self.emb[i], labels, l2=s.l2, thresholds={})
        return self._fits[key].with_thresholds(s.thresholds())

    def score(self, held: str, train: tuple[str, ...], s: Setting | None) -> dict[str, float]:
        i = self.idx([held])
        preds = [self.rules[j] for j in i]
        if s is not None:
            head = self.head(train, s)
            cues = head.cues(self.emb[i])
            preds = [add_learned(p, c, s.gate) for p, c in zip(preds, cues, strict=True)]
        return figures([self.rows[j] for j in i], preds)


def choose(folds: Folds, writers: tuple[str, ...]) -> Setting | None:
    """The choice rule of the module docstring, over leave-one-out folds of ``writers``."""

    def lowo(s: Setting) -> list[dict[str, float]]:
        return [folds.score(w, tuple(x for x in writers if x != w), s) for w in writers]

    best: tuple[tuple[float, ...], Setting] | None = None
    for l2 in L2_GRID:
        for tr in THRESHOLDS:
            for tp in THRESHOLDS:
                s = Setting(l2, tr, tp)
                got = lowo(s)
                if all(
                    g["valid_p"] >= MIN_VALID_P and g["reaction_p"] >= MIN_REACTION_P for g in got
                ):
                    key = (float(np.mean([g["valid_r"] for g in got])), tr + tp, l2)
                    if best is None or key > best[0]:
                        best = (key, s)
    if best is None:
        return None
    base = best[1]
    chosen = base
    best_r = -1.0
    for ts in THRESHOLDS:
        s = Setting(base.l2, base.reaction, base.patient, ts)
        got = lowo(s)
        if all(g["serious_p"] >= MIN_SERIOUS_P for g in got):
            r = float(np.mean([g["serious_r"] for g in got]))
            if r >= best_r:
                best_r, chosen = r, s
    return gated(chosen, lowo)


def gated(s: Setting, lowo: Callable[[Setting], list[dict[str, float]]]) -> Setting:
    """Step 3 of the choice rule: the gate when it buys reaction F1 at no valid recall."""
    off, on = lowo(s), lowo(replace(s, gate=True))
    better = np.mean([g["reaction_f1"] for g in on]) > np.mean([g["reaction_f1"] for g in off])
    kept = all(b["valid_r"] >= a["valid_r"] - 0.01 for a, b in zip(off, on, strict=True))
    return replace(s, gate=True) if better and kept else s


def table(folds: Folds, chosen: Setting | None) -> list[dict[str, Any]]:
    """Per held-out writer: rules, rule OR model with the chosen setting, nested estimate."""
    out = []
    for w in folds.writers:
        rest = tuple(x for x in folds.writers if x != w)
        inner = choose(folds, rest)
        out.append(
            {
                "writer": w,
                "rules": folds.score(w, rest, None),
                "chosen": folds.score(w, rest, chosen),
                "nested": folds.score(w, rest, inner),
                "nested_setting": None if inner is None else inner.__dict__,
            }
        )
    return out


COLS = ("n", "patient_f1", "product_f1", "reaction_f1", "valid_r", "valid_p", "serious_r")


def render(rows: list[dict[str, Any]], chosen: Setting | None) -> str:
    lines = [f"chosen setting (all four folds): {None if chosen is None else chosen.__dict__}"]
    lines.append(f"{'held out':9s} {'version':8s} " + " ".join(f"{c:>11s}" for c in COLS))
    for r in rows:
        for version in ("rules", "chosen", "nested"):
            f = r[version]
            cells = " ".join(f"{int(f[c]):>11d}" if c == "n" else f"{f[c]:>11.3f}" for c in COLS)
            lines.append(f"{r['writer']:9s} {version:8s} {cells}")
        lines.append(f"{'':9s} nested setting: {r['nested_setting']}")
    return "\n".join(lines)


def embed(rows: Sequence[dict[str, Any]]) -> Any:
    """The classifier encoder's sentence embeddings of the rows' texts (built artefacts)."""
    from models.classifier import OnnxMentionClassifier, load_classifier

    clf = load_classifier()
    assert isinstance(clf, OnnxMentionClassifier)
    return clf.encoder.encode([r["text"] for r in rows])


def old_rules(paths: Sequence[Path]) -> dict[tuple[str, str | None], CaseAssessment]:
    """Older rules' verdicts (bench/pv_rules_dump.py output), by text and author."""
    out = {}
    for path in paths:
        with path.open(encoding="utf-8") as f:
            for line in f:
                d = json.loads(line)
                c = d["case"]
                out[(d["text"], d["author"])] = CaseAssessment(
                    reporter=c["criteria"]["reporter"],
                    patient=c["criteria"]["patient"],
                    product=c["product"],
                    reactions=tuple(c["reactions"]),
                    seriousness=tuple(c["seriousness"]),
                )
    return out


def first_looks(folds: Folds, covered: set[str]) -> str:
    """The shipped setting (models/pvbuild.py), each covered writer held out, on older rules."""
    t = pvbuild.THRESHOLDS
    shipped = Setting(pvbuild.L2, t["reaction"], t["patient"], t["serious"])
    lines = [f"older rules, shipped setting {shipped.__dict__}"]
    for w in folds.writers:
        if w in covered:
            rest = tuple(x for x in folds.writers if x != w)
            for version, s in (("rules", None), ("+heads", shipped)):
                f = folds.score(w, rest, s)
                cells = " ".join(f"{c} {f[c]:.3f}" for c in COLS if c != "n")
                lines.append(f"{w:9s} {version:7s} n={int(f['n'])} {cells}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true")
    ap.add_argument(
        "--rules-cases",
        type=Path,
        action="append",
        default=[],
        help="Older rules' cases (bench/pv_rules_dump.py) for the rows they cover: scores those "
        "writers, held out, by those rules and by them OR the shipped heads; no choice is run.",
    )
    args = ap.parse_args(argv)
    rows = load_rows()
    triage = Triage.default()
    older = old_rules(args.rules_cases)
    rules = [
        older.get((r["text"], r.get("author"))) or triage.assess_rules(r["text"], r.get("author"))
        for r in rows
    ]
    folds = Folds(rows, rules, embed(rows))
    if older:
        covered = {r["_writer"] for r in rows if (r["text"], r.get("author")) in older}
        print(first_looks(folds, covered))
        return 0
    chosen = choose(folds, folds.writers)
    result = table(folds, chosen)
    if args.json:
        json.dump({"chosen": chosen and chosen.__dict__, "writers": result}, sys.stdout, indent=2)
        print()
    else:
        print(render(result, chosen))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
