"""What a worker builds before its first adverse-event batch, and what that batch costs.

In process, with the default model (``TOCSIN_MODEL_DIR`` or the cache's v9): the classifier as
``load_model_at_start`` loads it (``services.classifier``), the PV agent's triage as
``triage_cases`` builds it (``pipeline.pv.intake.triage``), then one batch of one adverse-event
text. Process CPU (user + system, every thread) and wall time of each step::

    PYTHONPATH=$PWD .venv/bin/python -m bench.startup_cpu

The steps take only the app's public calls, so the file also runs against an older tree:
``PYTHONPATH=<tree> .venv/bin/python bench/startup_cpu.py``.
"""

from __future__ import annotations

import resource
import time
from collections.abc import Callable
from typing import Any

TEXT = "My mother was hospitalised with a swollen throat after her second dose of Glytera"


def cpu() -> float:
    used = resource.getrusage(resource.RUSAGE_SELF)
    return used.ru_utime + used.ru_stime


def step(name: str, call: Callable[[], Any]) -> Any:
    wall, began = time.perf_counter(), cpu()
    out = call()
    print(f"{name:<18} cpu {cpu() - began:5.2f} s   wall {time.perf_counter() - wall:5.2f} s")
    return out


def main() -> None:
    from pipeline import services
    from pipeline.pv.intake import triage

    model = step("classifier", services.classifier)
    step("pv triage", triage)
    out = step("1st AE batch", lambda: model.classify([TEXT]))
    print(f"model {model.version}; the batch's topics {out[0].topics}")


if __name__ == "__main__":
    main()
