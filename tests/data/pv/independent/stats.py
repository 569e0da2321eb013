#!/usr/bin/python3
"""Counts and sanity checks for second_writer.jsonl (reads only the jsonl)."""
import json, collections, os, sys
HERE = os.path.dirname(os.path.abspath(__file__))
rows = [json.loads(l) for l in open(os.path.join(HERE, "second_writer.jsonl"), encoding="utf-8")]
KEYS = ("reporter", "patient", "product", "reaction", "valid", "serious")
CATS = {"death", "life_threatening", "hospitalisation", "disability", "congenital_anomaly", "other_medically_important"}
errs = []
ids = [r["id"] for r in rows]
if len(set(ids)) != len(ids): errs.append("duplicate ids")
for r in rows:
    L = r["labels"]
    if L["valid"] != all(L[k] for k in ("reporter", "patient", "product", "reaction")): errs.append(r["id"] + " valid")
    if L["serious"] != bool(L["seriousness"]): errs.append(r["id"] + " serious")
    if L["seriousness"] and not L["reaction"]: errs.append(r["id"] + " seriousness w/o reaction")
    if set(L["seriousness"]) - CATS: errs.append(r["id"] + " bad category")
    if r["author"] is not None and not L["reporter"]: errs.append(r["id"] + " author but no reporter")
    if r["lang"] not in ("en", "fr"): errs.append(r["id"] + " lang")
print("rows:", len(rows), "| errors:", errs or "none")
def table(sub, name):
    n = len(sub)
    print(f"\n## {name} (n={n})")
    print("| label | true | false |")
    print("|---|---|---|")
    for k in KEYS:
        t = sum(r["labels"][k] for r in sub)
        print(f"| {k} | {t} | {n - t} |")
    c = collections.Counter(s for r in sub for s in r["labels"]["seriousness"])
    print("| " + " | ".join(f"{k}={c.get(k, 0)}" for k in sorted(CATS)) + " |")
    shape = collections.Counter("".join("1" if r["labels"][k] else "0" for k in ("reporter", "patient", "product", "reaction")) for r in sub)
    print("pattern (reporter,patient,product,reaction):", dict(sorted(shape.items())))
    print("author null:", sum(r["author"] is None for r in sub))
table(rows, "all")
for lang in ("en", "fr"):
    table([r for r in rows if r["lang"] == lang], lang)
sys.exit(1 if errs else 0)
