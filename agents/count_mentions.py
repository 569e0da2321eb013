"""count_mentions: classified mentions -> event-time buckets (``pipeline.counting.buckets``)."""

from __future__ import annotations

from faust.types import StreamT

from pipeline import services
from pipeline.app import app
from pipeline.counting.buckets import AGENT, BatchStates, count_event
from pipeline.records import ClassifiedMention
from pipeline.streams import take_events
from pipeline.topics import classified


@app.agent(classified, name=AGENT)
async def count_mentions(stream: StreamT[ClassifiedMention]) -> None:
    metrics = services.metrics()
    cfg = services.settings()
    topics = tuple(cfg.topics_track)
    states = BatchStates()
    # take_events acknowledges a batch's offsets only when the next batch is asked for, i.e.
    # after ``store`` below has handed every state of this one to the producer.
    async for events in take_events(stream, cfg.count_batch_size, cfg.count_within_s):
        metrics.messages_in.labels(AGENT).inc(len(events))
        for event in events:
            await count_event(event, topics, states)
        states.store()
