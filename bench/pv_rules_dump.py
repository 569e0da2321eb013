"""Dump the PV triage rules' ``case`` for every row of labelled files, for bench/pv_triage_cv.py
``--rules-cases``: run it against an older checkout's rules to score rules as they were at a
writer's first look (the script imports only ``pipeline.pv.triage``, found on PYTHONPATH).

    git archive 898fbc1 pipeline models | tar -x -C /tmp/old
    PYTHONPATH=/tmp/old .venv/bin/python bench/pv_rules_dump.py tests/data/pv/dev_writer3*.jsonl \\
        > /tmp/rules-898fbc1.jsonl
"""

from __future__ import annotations

import json
import sys

from pipeline.pv.triage import Triage


def main(paths: list[str]) -> int:
    triage = Triage.default()
    for path in paths:
        with open(path, encoding="utf-8") as f:
            for line in f:
                if line.strip():
                    row = json.loads(line)
                    case = triage.assess(row["text"], row.get("author")).as_dict()
                    out = {"text": row["text"], "author": row.get("author"), "case": case}
                    print(json.dumps(out, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
