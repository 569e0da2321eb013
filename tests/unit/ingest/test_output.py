"""Classified records encoded directly are the bytes the record itself gives (pipeline/ingest/output.py)."""

from __future__ import annotations

import gc
import weakref
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest

from models.batching import classified_record
from models.classifier import Prediction
from models.pvhead import CaseCues
from pipeline.ingest.output import ClassifiedEncoder, brand_key
from pipeline.records import Author, ClassifiedMention, Engagement, Mention
from pipeline.topics import classified

PREDICTION = Prediction(
    topics=("pricing", "boycott"),
    scores={"pricing": 0.912345678, "boycott": 0.5, "scandal": 1e-07},
    stance="critical",
    stance_scores={"critical": 0.8, "neutral": 0.1, "supportive": 0.1},
    lang="fr",
)


def mention(**extra: Any) -> Mention:
    fields: dict[str, Any] = {
        "id": "x:1",
        "platform": "x",
        "text": 'Brenmoor "prix" \u00e9t\u00e9 \U0001f621',
        "created_at": datetime(2026, 11, 20, 8, 1, tzinfo=UTC),
        "brand": "brenmoor",
        "author": Author(id="p_1", followers=12, key_id="k1"),
        "brands": ["brenmoor", "valmoreau"],
        "raw_partition": 3,
        "raw_offset": 41,
        "received_at": datetime(2026, 11, 20, 8, 1, 2, 123456, tzinfo=UTC),
    }
    return Mention(**{**fields, **extra})


@pytest.mark.parametrize(
    "m",
    [
        mention(),
        mention(lang="en", url="https://x.example/1", kind="repost", repost_of="x:0"),
        mention(engagement=Engagement(likes=1, shares=2, replies=3), received_at=None),
    ],
)
def test_encoded_value_is_the_records_own_bytes(m: Mention) -> None:
    value = ClassifiedEncoder().value(m, PREDICTION, "v7")
    assert value == classified_record(m, PREDICTION, "v7").dumps()
    back = ClassifiedMention.loads(value)
    assert back.mention.raw_offset == 41 and back.lang == (m.lang or "fr")


def test_the_pv_heads_cues_travel_in_the_encoded_bytes() -> None:
    """The safety intake reads ``case_cues`` from the classified record: the direct encoding
    must carry them like the record does."""
    cued = replace(PREDICTION, case_cues=CaseCues(True, True, True, "hospitalisation"))
    value = ClassifiedEncoder().value(mention(), cued, "v7")
    assert value == classified_record(mention(), cued, "v7").dumps()
    assert ClassifiedMention.loads(value).case_cues == {
        "reaction": True,
        "patient": True,
        "serious": True,
        "category": "hospitalisation",
    }


def test_a_predictions_part_is_reused_per_language_and_version() -> None:
    encoder = ClassifiedEncoder(maxsize=2)
    first = encoder.value(mention(id="x:1"), PREDICTION, "v7")
    second = encoder.value(mention(id="x:2"), PREDICTION, "v7")
    assert first.replace(b'"x:1"', b'"x:2"') == second
    english = encoder.value(mention(lang="en"), PREDICTION, "v7")
    assert b'"lang":"en","model_version"' in english
    newer = encoder.value(mention(), PREDICTION, "v8")
    assert newer.endswith(
        b'"model_version":"v8","case_cues":null,"__faust":{"ns":"pipeline.records.ClassifiedMention"}}'
    )
    assert len(encoder._tails) == 2  # bounded: the oldest entry went


def test_the_encoder_does_not_keep_a_prediction_alive() -> None:
    """The repost cache decides how long a prediction lives: once it is gone, the encoder's entry
    holds only a dead weak reference and its bytes, bounded by ``maxsize``."""
    encoder = ClassifiedEncoder(maxsize=3)
    gone = replace(PREDICTION, stance="neutral")
    alive = weakref.ref(gone)
    encoder.value(mention(), gone, "v7")
    del gone
    gc.collect()
    assert alive() is None
    for i in range(5):
        encoder.value(mention(), replace(PREDICTION, lang=f"l{i}"), "v7")
    assert len(encoder) == 3


def test_a_new_prediction_at_a_reused_id_gets_its_own_bytes() -> None:
    encoder = ClassifiedEncoder()
    encoder.value(mention(lang=None), PREDICTION, "v7")
    other = replace(PREDICTION, stance="supportive")
    # what a dead prediction's entry looks like when a new object takes its id
    encoder._tails[(id(other), "fr", "v7")] = encoder._tails.popitem()[1]
    assert b'"stance":"supportive"' in encoder.value(mention(lang=None), other, "v7")


@pytest.mark.parametrize("brand", ["brenmoor", "nov\u00e9a"])
def test_the_key_is_the_brand_as_the_topic_itself_encodes_it(brand: str) -> None:
    """The producer partitions by these bytes: a brand's mentions stay on its counting partition."""
    assert brand_key(brand) == classified.prepare_key(brand, None)[0]
