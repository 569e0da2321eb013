"""Where the classify side's Python time goes per mention, step by step, in process.

``tocsin model bench --broker`` measures the whole worker on the cached segment (every mention a
repost answered from the cache) but not how that splits. This runs the steps the worker's event
loop takes for such a mention, in process and without Kafka, on the same mentions (the broker
pass's cached segment, built by :func:`bench.classify_pass.build_segments`), and prints CPU µs
per mention for each (the best of ``--rounds``):

- admission (decode and validate, brands, pseudonymise, the ``Mention`` record, the id rule; its
  changelog writes are queued for a producer that is not started), and its brand matching alone;
- the classified record's bytes: the record and Faust's ``dumps`` (as before) and
  :class:`pipeline.ingest.output.ClassifiedEncoder` (as ``classify_mentions`` does now);
- what the readers of ``mentions.classified`` do with each record: decode it into the record
  and check its shape (``pipeline.topics.CheckedTopic``), once for ``count_mentions`` and
  ``triage_cases`` together;
- the PV triage of a mention the model tags ``adverse_event`` (``Triage.assess``), paid by that
  share of mentions only.

Faust's stream machinery, the producer and consumer, and the broker are not in it: the broker
pass's worker CPU per mention minus these is what they cost.

    PYTHONPATH=$PWD .venv/bin/python -m bench.plumbing_cost
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

from prometheus_client import CollectorRegistry


def cpu_us(fn: Callable[[], object], n: int, rounds: int) -> float:
    """Best process CPU µs per item of ``rounds`` calls of ``fn`` over ``n`` items."""
    best = float("inf")
    for _ in range(rounds):
        started = time.process_time()
        fn()
        best = min(best, time.process_time() - started)
    return round(best * 1e6 / n, 1)


def measure(texts: int, rounds: int) -> dict[str, float]:
    from bench.classify_pass import build_segments
    from models.batching import classified_record
    from models.classifier import Prediction
    from models.corpus import load_corpus
    from models.pipeline_bench import branded
    from pipeline import records, services
    from pipeline.app import app
    from pipeline.ingest.admission import Admission
    from pipeline.ingest.output import ClassifiedEncoder
    from pipeline.metrics import TocsinMetrics
    from pipeline.pv.intake import triage
    from pipeline.settings import make_settings
    from pipeline.tables import mention_ids

    app.finalize()
    services.override(metrics=TocsinMetrics(CollectorRegistry()), settings=make_settings())
    corpus = branded([e.text for e in load_corpus()])[: 2 * texts]
    cached = build_segments(corpus[:texts], corpus[texts:], 0.4, 2)[-1]
    n = len(cached.values)
    events: list[Any] = [
        SimpleNamespace(
            value=v,
            message=SimpleNamespace(
                topic="mentions.raw", partition=i % 4, offset=i, timestamp=1.795e9
            ),
        )
        for i, v in enumerate(cached.values)
    ]
    admission = Admission.configured(mention_ids)

    def admit() -> list[records.Mention]:
        mention_ids.data.clear()  # every round's ids are new, as in the broker pass
        admission.memory._queues.clear()
        return admission.admit(events).mentions

    mentions = admit()
    prediction = Prediction(
        topics=("pricing",),
        scores={"pricing": 0.91, "scandal": 0.1, "boycott": 0.05, "adverse_event": 0.01},
        stance="critical",
        stance_scores={"critical": 0.8, "neutral": 0.1, "supportive": 0.1},
        lang="en",
    )
    encoder = ClassifiedEncoder()
    values = [encoder.value(m, prediction, "v1") for m in mentions]
    matcher = services.matcher()
    rules = triage()
    out = {
        "mentions": float(n),
        "admission_us": cpu_us(admit, n, rounds),
        "of_which_brand_matching_us": cpu_us(
            lambda: [matcher.match(m.text) for m in mentions], n, rounds
        ),
        "classified_record_and_dumps_us": cpu_us(
            lambda: [classified_record(m, prediction, "v1").dumps() for m in mentions], n, rounds
        ),
        "classified_encoder_us": cpu_us(
            lambda: [encoder.value(m, prediction, "v1") for m in mentions], n, rounds
        ),
        "readers_decode_and_check_us": cpu_us(
            lambda: [
                records.shape_problem(
                    records.ClassifiedMention.from_data(json.loads(v)), records.ClassifiedMention
                )
                for v in values
            ],
            n,
            rounds,
        ),
        "pv_triage_per_adverse_event_mention_us": cpu_us(
            lambda: [rules.assess(m.text, m.author.id) for m in mentions], n, 1
        ),
    }
    mention_ids.data.clear()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=800, help="plain texts (two copies each)")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    print(json.dumps(measure(args.texts, args.rounds), indent=2))


if __name__ == "__main__":
    main()
