"""What ``classify_mentions`` writes to ``mentions.classified``: record bytes built directly.

A classified mention on the topic is the JSON ``ClassifiedMention(...).dumps()`` gives, byte for
byte, so every reader decodes it as the ``ClassifiedMention`` record it always was. It is built
here from the admitted ``Mention`` and the model's ``Prediction`` without making the record
object, and sent with the producer's own ``send`` rather than ``Topic.send``: the topic's path
(a future message, its key and value prepared through the schema, the send sensors, a callback
per record) cost more than the encoding. The key is the brand, encoded as the topic's ``raw``
key serializer does, so the producer's partitioner puts a brand's mentions where it did.

The prediction's part (topics, scores, stance, language, model version, the PV heads' case cues)
is encoded once per
prediction and language and reused: every mention answered from the repost cache with that
prediction shares it. Only the mention's own part is encoded per mention.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

import orjson
from faust.types import ProducerT, TopicT
from faust.utils.json import on_default

from pipeline.records import ClassifiedMention, Mention

if TYPE_CHECKING:
    from models.classifier import Prediction

log = logging.getLogger(__name__)

_NS = {"ns": ClassifiedMention._options.namespace}
#: Faust's own JSON options when orjson is installed (faust.utils.json.dumps): the same bytes
_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_UTC_Z


def _dumps(obj: Any) -> bytes:
    return orjson.dumps(obj, default=on_default, option=_OPTIONS)


def scores_of(prediction: Prediction) -> dict[str, float]:
    """The scores as the record carries them: four decimals."""
    return {k: round(float(v), 4) for k, v in prediction.scores.items()}


class ClassifiedEncoder:
    """Bytes of classified mentions; the prediction's part kept for the last ``maxsize`` ones.

    An entry holds its prediction weakly: the repost cache (``models.textcache``) decides how long
    a prediction lives, and an entry whose prediction is gone is never used again and leaves with
    the oldest. The entries themselves (about 700 bytes each) are bounded by ``maxsize``.
    """

    def __init__(self, maxsize: int = 20_000) -> None:
        self.maxsize = maxsize
        # id(prediction), lang, version -> (the prediction, weakly, so its id stays its own while
        # it is alive; its part)
        self._tails: OrderedDict[tuple[int, str, str], tuple[weakref.ref[Prediction], bytes]] = (
            OrderedDict()
        )

    def value(self, mention: Mention, prediction: Prediction, version: str) -> bytes:
        """``ClassifiedMention(mention, ...).dumps()``, as :func:`models.batching.classified_record`
        would build it (the mention's language if it has one, else the model's)."""
        lang = mention.lang or prediction.lang
        return b'{"mention":' + _dumps(mention) + self._tail(prediction, lang, version)

    def _tail(self, prediction: Prediction, lang: str, version: str) -> bytes:
        key = (id(prediction), lang, version)
        found = self._tails.get(key)
        if found is not None and found[0]() is prediction:
            return found[1]
        rest = {
            "topics": list(prediction.topics),
            "scores": scores_of(prediction),
            "stance": prediction.stance,
            "lang": lang,
            "model_version": version,
            "case_cues": None if prediction.case_cues is None else prediction.case_cues._asdict(),
            "__faust": _NS,
        }
        tail = b"," + _dumps(rest)[1:]  # the object's members, after the mention
        self._tails[key] = (weakref.ref(prediction), tail)
        self._tails.move_to_end(key)
        while len(self._tails) > self.maxsize:
            self._tails.popitem(last=False)
        return tail

    def __len__(self) -> int:
        return len(self._tails)


def brand_key(brand: str) -> bytes:
    """The record's key as the topic's ``raw`` key serializer writes a ``str``."""
    return brand.encode("utf-8")


def _failed(future: asyncio.Future[Any]) -> None:
    if not future.cancelled() and future.exception() is not None:
        log.error("a classified mention was not written: %r", future.exception())


class EncodedTopic:
    """``send(key=brand, value=bytes)`` straight to the app's producer, for records encoded here.

    The producer batches and partitions by key as it does for ``Topic.send``; nothing waits for
    the broker: a batch's offsets are committed only after the producer is flushed (Faust's
    commit does that first), so a record handed over here is written before its raw offset is
    committed, as before.
    """

    def __init__(self, topic: TopicT) -> None:
        self.topic = topic
        self._producer: ProducerT | None = None

    async def send(self, *, key: str, value: bytes) -> None:
        producer = self._producer
        if producer is None:
            producer = self.topic.app.producer
            await producer.maybe_start()
            self._producer = producer
        future = await producer.send(
            self.topic.get_topic_name(), brand_key(key), value, None, None, None
        )
        if isinstance(future, asyncio.Future):
            future.add_done_callback(_failed)
