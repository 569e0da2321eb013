"""Held-out evaluation: per-topic precision/recall/F1 and macro-F1, per language, plus stance.

Only the ``test`` split is scored: the head, its L2 strengths and its thresholds were all chosen on
``train`` (by cross-validation), so these figures are honest estimates for unseen mentions.
``other`` is scored like any topic (it is predicted when no topic passes its threshold), because
"nothing to see here" being right matters as much to a comms team as the alarms.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from models.calibration import ECE_BINS, reliability
from models.classifier import MentionClassifier
from models.corpus import STANCES, Example


def prf(tp: int, fp: int, fn: int) -> dict[str, float]:
    """Precision, recall, F1 (0 when undefined) for one label."""
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {"precision": round(p, 4), "recall": round(r, 4), "f1": round(f, 4)}


def topic_metrics(
    gold: Sequence[set[str]], pred: Sequence[set[str]], topics: Sequence[str]
) -> dict[str, Any]:
    """Per-topic P/R/F1 with support, and macro-F1 over topics that occur in ``gold``."""
    per: dict[str, dict[str, float]] = {}
    for t in topics:
        tp = sum(1 for g, p in zip(gold, pred, strict=True) if t in g and t in p)
        fp = sum(1 for g, p in zip(gold, pred, strict=True) if t not in g and t in p)
        fn = sum(1 for g, p in zip(gold, pred, strict=True) if t in g and t not in p)
        per[t] = {**prf(tp, fp, fn), "support": tp + fn}
    scored = [m["f1"] for m in per.values() if m["support"] > 0]
    macro = round(sum(scored) / len(scored), 4) if scored else 0.0
    exact = sum(1 for g, p in zip(gold, pred, strict=True) if g == p)
    return {
        "per_topic": per,
        "macro_f1": macro,
        "exact_match": round(exact / len(gold), 4) if gold else 0.0,
    }


def stance_metrics(gold: Sequence[str], pred: Sequence[str]) -> dict[str, Any]:
    """Accuracy, macro-F1 and the confusion matrix (gold -> predicted -> count)."""
    per = {}
    for s in STANCES:
        tp = sum(1 for g, p in zip(gold, pred, strict=True) if g == s and p == s)
        fp = sum(1 for g, p in zip(gold, pred, strict=True) if g != s and p == s)
        fn = sum(1 for g, p in zip(gold, pred, strict=True) if g == s and p != s)
        per[s] = prf(tp, fp, fn)
    confusion = {g: {p: 0 for p in STANCES} for g in STANCES}
    for g, p in zip(gold, pred, strict=True):
        confusion[g][p] += 1
    acc = sum(1 for g, p in zip(gold, pred, strict=True) if g == p) / len(gold) if gold else 0.0
    return {
        "accuracy": round(acc, 4),
        "macro_f1": round(sum(m["f1"] for m in per.values()) / len(per), 4),
        "confusion": confusion,
    }


def topic_confusions(
    gold: Sequence[set[str]], pred: Sequence[set[str]], top: int = 8
) -> list[dict[str, Any]]:
    """The most frequent (missed gold topic -> wrongly predicted topic) pairs."""
    pairs: Counter[tuple[str, str]] = Counter()
    for g, p in zip(gold, pred, strict=True):
        for missed in g - p:
            for wrong in (p - g) or {"(nothing else)"}:
                pairs[(missed, wrong)] += 1
    return [{"gold": a, "predicted": b, "count": n} for (a, b), n in pairs.most_common(top)]


def evaluate(
    classifier: MentionClassifier, examples: Sequence[Example], topics: Sequence[str]
) -> dict[str, Any]:
    """Score ``classifier`` on the ``test`` examples, overall and per language."""
    test = [e for e in examples if e.split == "test"]
    if not test:
        raise ValueError("the corpus has no test split")
    preds = classifier.classify([e.text for e in test])
    report: dict[str, Any] = {"model_version": classifier.version, "n_test": len(test)}
    for lang in ("all", *sorted({e.lang for e in test})):
        idx = [i for i, e in enumerate(test) if lang in ("all", e.lang)]
        gold = [set(test[i].topics) for i in idx]
        pred = [set(preds[i].topics) for i in idx]
        report[lang] = {
            "n": len(idx),
            "topics": topic_metrics(gold, pred, topics),
            "stance": stance_metrics([test[i].stance for i in idx], [preds[i].stance for i in idx]),
            "lang_accuracy": round(
                sum(1 for i in idx if preds[i].lang == test[i].lang) / len(idx), 4
            ),
            "confusions": topic_confusions(gold, pred),
        }
    return report


def format_report(report: dict[str, Any]) -> str:
    """A compact human-readable table of ``evaluate``'s report."""
    lines = [f"model {report['model_version']}  ({report['n_test']} test mentions)"]
    for lang in [k for k in report if isinstance(report[k], dict)]:
        sec = report[lang]
        t = sec["topics"]
        lines.append("")
        lines.append(
            f"[{lang}] n={sec['n']}  topic macro-F1={t['macro_f1']:.3f}  "
            f"exact={t['exact_match']:.3f}  stance acc={sec['stance']['accuracy']:.3f} "
            f"macro-F1={sec['stance']['macro_f1']:.3f}  lang acc={sec['lang_accuracy']:.3f}"
        )
        lines.append(f"  {'topic':<16}{'P':>7}{'R':>7}{'F1':>7}{'n':>6}")
        for name, m in t["per_topic"].items():
            lines.append(
                f"  {name:<16}{m['precision']:>7.3f}{m['recall']:>7.3f}{m['f1']:>7.3f}"
                f"{m['support']:>6}"
            )
        if sec["confusions"]:
            worst = ", ".join(
                f"{c['gold']}->{c['predicted']} x{c['count']}" for c in sec["confusions"][:4]
            )
            lines.append(f"  top misses: {worst}")
    return "\n".join(lines)


# --- `tocsin model eval --input FILE`: any labelled CSV/JSONL (text, topics, optional lang) ---


def calibration_section(
    gold: Sequence[set[str]], scores: Sequence[Mapping[str, float]]
) -> dict[str, Any]:
    """ECE and reliability table per scored topic (models/calibration.py: 15 equal-width bins),
    and the largest per-topic ECE. ``other`` has no score (it is the absence of one), so it is
    not in the table."""
    names = list(scores[0]) if scores else []
    per = {t: reliability([float(t in g) for g in gold], [s[t] for s in scores]) for t in names}
    return {
        "bins": ECE_BINS,
        "binning": "equal-width",
        "per_topic": per,
        "max_ece": max((m["ece"] for m in per.values()), default=0.0),
    }


def _lang_section(
    gold: Sequence[set[str]],
    pred: Sequence[set[str]],
    topics: Sequence[str],
    gold_stance: Sequence[str | None],
    pred_stance: Sequence[str],
    scores: Sequence[Mapping[str, float]],
) -> dict[str, Any]:
    t = topic_metrics(gold, pred, topics)
    ae = t["per_topic"].get("adverse_event")
    sec: dict[str, Any] = {
        "n": len(gold),
        "macro_f1": t["macro_f1"],
        "exact_match": t["exact_match"],
        "per_topic": t["per_topic"],
        "adverse_event": (
            {"precision": ae["precision"], "recall": ae["recall"], "support": ae["support"]}
            if ae
            else None
        ),
        "confusions": topic_confusions(gold, pred),
        "calibration": calibration_section(gold, scores),
    }
    pairs = [(g, p) for g, p in zip(gold_stance, pred_stance, strict=True) if g is not None]
    if pairs:
        sec["stance"] = stance_metrics([g for g, _ in pairs], [p for _, p in pairs])
    return sec


def evaluate_rows(
    classifier: MentionClassifier,
    rows: Sequence[Any],
    topics: Sequence[str],
    pool: str | None,
) -> dict[str, Any]:
    """Score ``rows`` (models.corpus.LabelledRow) with placeholders filled from ``pool``
    (``None``: texts as they are), overall and per language (gold ``lang``, else detected)."""
    from models.corpus import filled_text

    texts = [r.text if pool is None else filled_text(r, pool) for r in rows]
    preds = classifier.classify(texts)
    langs = [r.lang or p.lang for r, p in zip(rows, preds, strict=True)]
    out: dict[str, Any] = {"fill": pool or "as_is", "n": len(rows)}
    for lang in ("all", *sorted(set(langs))):
        idx = [i for i, lg in enumerate(langs) if lang in ("all", lg)]
        out[lang] = _lang_section(
            [set(rows[i].topics) for i in idx],
            [set(preds[i].topics) for i in idx],
            topics,
            [rows[i].stance for i in idx],
            [preds[i].stance for i in idx],
            [preds[i].scores for i in idx],
        )
    return out


def evaluate_file_rows(
    classifier: MentionClassifier,
    rows: Sequence[Any],
    topics: Sequence[str],
    fills: Sequence[str],
) -> dict[str, Any]:
    """One report per fill pool when any row has §9 placeholders, else one for the text as is."""
    from models.fill import has_placeholders

    unknown = sorted({t for r in rows for t in r.topics} - set(topics))
    if unknown:
        raise ValueError(f"labels not in the model's topics: {unknown}")
    placeholders = any(has_placeholders(r.text) for r in rows)
    pools: Sequence[str | None] = list(fills) if placeholders else [None]
    return {
        "model_version": classifier.version,
        "n": len(rows),
        "placeholders": placeholders,
        "fills": {p or "as_is": evaluate_rows(classifier, rows, topics, p) for p in pools},
    }


def format_file_report(report: dict[str, Any]) -> str:
    """Human-readable form of ``evaluate_file_rows``'s report."""
    lines = [f"model {report['model_version']}  ({report['n']} labelled mentions)"]
    for fill_name, rep in report["fills"].items():
        for lang in [k for k in rep if isinstance(rep[k], dict)]:
            sec = rep[lang]
            ae = sec["adverse_event"]
            ae_txt = (
                f"  adverse_event P={ae['precision']:.3f} R={ae['recall']:.3f} (n={ae['support']})"
                if ae
                else ""
            )
            lines.append("")
            lines.append(
                f"[fill={fill_name} lang={lang}] n={sec['n']}  macro-F1={sec['macro_f1']:.4f}"
                f"  exact={sec['exact_match']:.3f}{ae_txt}"
            )
            lines.append(f"  {'topic':<16}{'P':>7}{'R':>7}{'F1':>7}{'n':>6}")
            for name, m in sec["per_topic"].items():
                lines.append(
                    f"  {name:<16}{m['precision']:>7.3f}{m['recall']:>7.3f}{m['f1']:>7.3f}"
                    f"{m['support']:>6}"
                )
            if sec["confusions"]:
                worst = ", ".join(
                    f"{c['gold']}->{c['predicted']} x{c['count']}" for c in sec["confusions"][:4]
                )
                lines.append(f"  top misses: {worst}")
            cal = sec["calibration"]
            lines.append(
                f"  ECE ({cal['bins']} {cal['binning']} bins): "
                + ", ".join(f"{t} {m['ece']:.3f}" for t, m in cal["per_topic"].items())
            )
            if lang == "all":
                lines.extend(format_reliability(cal))
    return "\n".join(lines)


def format_reliability(cal: Mapping[str, Any]) -> list[str]:
    """Reliability tables, one per topic: per score bin the mentions, mean score and observed
    share carrying the topic (a calibrated bin has the two equal)."""
    lines = ["  reliability (bin: n, mean score -> observed share):"]
    for topic, m in cal["per_topic"].items():
        cells = "  ".join(
            f"[{b['lo']:.2f},{b['hi']:.2f}) {b['n']}: {b['mean_score']:.2f}->{b['observed']:.2f}"
            for b in m["bins"]
        )
        lines.append(f"    {topic:<15} ECE {m['ece']:.3f}  {cells}")
    return lines
