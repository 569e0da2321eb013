#!/usr/bin/python3
"""Build second_writer.jsonl from src_en.txt / src_fr.txt and print stats."""
import json, collections, sys, os
HERE = os.path.dirname(os.path.abspath(__file__))
SER = {"D": "death", "L": "life_threatening", "H": "hospitalisation",
       "X": "disability", "C": "congenital_anomaly", "O": "other_medically_important"}

def load(lang):
    rows = []
    section = None
    for ln, line in enumerate(open(os.path.join(HERE, f"src_{lang}.txt"), encoding="utf-8"), 1):
        line = line.rstrip("\n")
        if not line.strip():
            continue
        if line.startswith("#"):
            if line.startswith("# ----"):
                section = line[6:].strip()
            continue
        parts = [p.strip() for p in line.split(" || ")]
        if len(parts) != 5:
            sys.exit(f"{lang}:{ln}: bad field count {len(parts)}: {line}")
        author, flags, ser, prods, text = parts
        if len(flags) != 4 or set(flags) - {"0", "1"}:
            sys.exit(f"{lang}:{ln}: bad flags {flags}")
        r, p, d, x = (c == "1" for c in flags)
        seriousness = [SER[c] for c in ser.split(",") if c] if ser else []
        valid = r and p and d and x
        if seriousness and not x:
            sys.exit(f"{lang}:{ln}: seriousness without reaction")
        if author != "-" and not author.startswith("@"):
            sys.exit(f"{lang}:{ln}: bad author {author}")
        if author != "-" and not r:
            sys.exit(f"{lang}:{ln}: author present but reporter false")
        prodlist = [q for q in prods.split(";") if q]
        if d and not prodlist:
            sys.exit(f"{lang}:{ln}: product true but no product tagged")
        rows.append(dict(lang=lang, section=section, ln=ln,
                         author=None if author == "-" else author, text=text,
                         labels=dict(reporter=r, patient=p, product=d, reaction=x,
                                     valid=valid, serious=bool(seriousness),
                                     seriousness=seriousness),
                         prods=prodlist))
    return rows

def main():
    en, fr = load("en"), load("fr") if os.path.exists(os.path.join(HERE, "src_fr.txt")) else []
    rows = []
    # interleave deterministically so the file is not sorted by class
    import random
    allrows = en + fr
    random.Random(20261207).shuffle(allrows)
    for i, r in enumerate(allrows, 1):
        r["id"] = f"w2-{i:04d}"
    out = os.path.join(HERE, "second_writer.jsonl")
    with open(out, "w", encoding="utf-8") as f:
        for r in allrows:
            f.write(json.dumps({"id": r["id"], "text": r["text"], "author": r["author"],
                                "lang": r["lang"], "labels": r["labels"]}, ensure_ascii=False) + "\n")
    # stats
    print("rows", len(allrows))
    for lang in ("en", "fr"):
        sub = [r for r in allrows if r["lang"] == lang]
        print(f"\n[{lang}] n={len(sub)}")
        print("  sections:", dict(collections.Counter(r["section"] for r in sub)))
        for k in ("reporter", "patient", "product", "reaction", "valid", "serious"):
            print(f"  {k}: {sum(r['labels'][k] for r in sub)}")
        print("  seriousness:", dict(collections.Counter(s for r in sub for s in r["labels"]["seriousness"])))
        print("  misspelled rows:", sum(any(p.startswith("~") for p in r["prods"]) for r in sub))
    pc = collections.Counter(p.lstrip("~").lower() for r in allrows for p in set(q.lstrip("~").lower() for q in r["prods"]))
    print("\ndistinct products", len(pc))
    print("over 6:", {k: v for k, v in pc.items() if v > 6})
    print("top:", pc.most_common(15))
    print("misspelled total:", sum(any(p.startswith("~") for p in r["prods"]) for r in allrows))
    # id map for README
    with open(os.path.join(HERE, "idmap.tsv"), "w") as f:
        for r in allrows:
            f.write(f"{r['id']}\t{r['lang']}\t{r['ln']}\t{r['author']}\t{r['text'][:60]}\n")

if __name__ == "__main__":
    main()
