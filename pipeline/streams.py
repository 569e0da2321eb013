"""Batches of Faust events, for agents that need each record's position as well as its value."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import TypeVar, cast

import faust
from faust.types import EventT, StreamT

T = TypeVar("T")


def take_events(stream: StreamT[T], size: int, within: float) -> AsyncIterator[Sequence[EventT[T]]]:
    """Batches of up to ``size`` events, a partial one after ``within`` seconds of waiting.

    ``stream.take_events`` is on Faust's ``Stream``, not declared by its ``StreamT`` interface. It
    acknowledges a batch's offsets only when the next batch is asked for, so everything the caller
    sends while handling a batch is handed to the producer before its offsets can be committed.
    """
    if not isinstance(stream, faust.Stream):
        raise TypeError(f"take_events needs a faust.Stream, got {type(stream).__name__}")
    return cast(AsyncIterator[Sequence[EventT[T]]], stream.take_events(size, within))
