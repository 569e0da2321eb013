"""Classified mentions -> closed event-time buckets per brand x topic (``count_mentions`` calls this).

Counting is by *event* time (when the mention was posted), not arrival time, so a replay, a lagging
consumer or a restarted worker counts the same buckets. Each brand's open buckets live in a
changelog-backed table keyed by brand (the stream's key, so state and stream share a partition).
A bucket closes once the brand's watermark (latest event time seen) passes its end plus the allowed
lateness, and so has every active ``mentions.raw`` partition feeding the brand's partition
(:mod:`pipeline.counting.watermarks`); it is then emitted for *every* watched topic, zeros included,
because a detector must see quiet buckets to learn what quiet looks like. A mention later than that
is counted as late.

Counting is exactly-once although delivery is at-least-once: a worker killed before it commits
re-sends what it had already passed on (ingest re-sends mentions, classify re-classifies them), and
a count that doubled a burst's tail paged a topic that had no surge. Each brand's state therefore
also keeps, per ``mentions.raw`` partition, the highest position it has counted (see
:func:`already_counted`), in the same table record as the counts, so the two can never disagree.

State is written once per batch, not once per mention: a brand's record is its whole open-bucket
state (kilobytes of JSON on a busy brand), and re-writing it to the changelog for every mention was
a quarter of the worker's event loop at saturation. A batch's mentions are counted into an in-memory
copy (:class:`BatchStates`), closed buckets go out as they close, and each touched brand's state
is written once at the end of the batch, before its offsets are acknowledged, to the changelog
partition of the stream partition it came from (the batch can mix partitions, so the write names
its partition rather than relying on Faust's "current event").

A brand that goes quiet (no mention for ``quiet_close_after_s`` of wall-clock time) still has its
buckets closed: the other brands on its partition carry event time forward (see
:func:`sweep_quiet_brands`). Without that, a crisis that died down stayed
"firing" until the brand was mentioned again, hours later at night.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

from faust.types import EventT

from pipeline import services
from pipeline.counting.cells import bucket_of
from pipeline.counting.judge import Detectors, judge_closed, judge_filling
from pipeline.counting.watermarks import RawWatermarks, closable_through
from pipeline.detection.mentions import count_minute
from pipeline.records import HEALTH_FLAG, HEALTH_TOPIC, Bucket, ClassifiedMention, Mention
from pipeline.tables import open_buckets
from pipeline.topics import buckets

AGENT = "count_mentions"  # the agent whose metrics these counts feed
MAX_GAP_BUCKETS = 7 * 24 * 12  # never fill more than a week of empty buckets in one go
MAX_AUTHORS = 1000  # distinct authors tracked per bucket; beyond that the count is a floor
TOP_N = 3


def bucket_start(ts: datetime, width: int) -> int:
    epoch = int(ts.timestamp())
    return epoch - epoch % width


def already_counted(state: dict[str, Any], mention: Mention) -> bool:
    """True for a copy of a mention this brand's state has counted already.

    A brand's mentions from one raw partition reach this agent in raw order: ingest reads the
    partition in order and sends to the brand's ``mentions`` partition, classify keeps that order
    into the brand's ``mentions.classified`` partition. So a position at or below the highest one
    counted is a copy re-sent after a crash or rebalance. Mentions without a position (written
    to ``mentions`` by something other than ingest) are always counted.
    """
    if mention.raw_partition is None or mention.raw_offset is None:
        return False
    seen = state.get("src", {}).get(str(mention.raw_partition))
    return seen is not None and mention.raw_offset <= int(seen)


def mark_counted(state: dict[str, Any], mention: Mention) -> None:
    if mention.raw_partition is not None and mention.raw_offset is not None:
        state.setdefault("src", {})[str(mention.raw_partition)] = mention.raw_offset


def add_mention(
    state: dict[str, Any], item: ClassifiedMention, topics: tuple[str, ...], width: int
) -> bool:
    """Count ``item`` into its open bucket; False if that bucket has already closed (late)."""
    mention = item.mention
    start = bucket_start(mention.created_at, width)
    closed = state.get("closed")
    if closed is not None and start <= closed:
        return False
    if closed is None:
        state["closed"] = start - width
    state["wm"] = max(int(state.get("wm", 0)), int(mention.created_at.timestamp()))
    slot = state.setdefault("open", {}).setdefault(str(start), {})
    for topic in item.topics:
        if topic not in topics:
            continue
        cell = slot.setdefault(
            topic, {"n": 0, "reach": 0, "authors": [], "stance": {}, "top": [], "first": None}
        )
        cell["n"] += 1
        cell["mn"] = count_minute(cell.get("mn"), width, mention.created_at.timestamp(), start)
        cell["reach"] += mention.reach
        if mention.author.id not in cell["authors"] and len(cell["authors"]) < MAX_AUTHORS:
            cell["authors"].append(mention.author.id)
        cell["stance"][item.stance] = cell["stance"].get(item.stance, 0) + 1
        langs = cell.setdefault("lang", {})
        langs[item.lang] = langs.get(item.lang, 0) + 1
        kinds = cell.setdefault("ak", {})
        kinds[mention.author.kind] = kinds.get(mention.author.kind, 0) + 1
        summary = {
            "id": mention.id,
            "text": mention.text[:280],
            "url": mention.url,
            "platform": mention.platform,
            "reach": mention.reach,
            "author_kind": mention.author.kind,
            "at": mention.created_at.isoformat(),
        }
        if HEALTH_TOPIC in item.topics:
            # health data wherever it is quoted (a pricing surge's top mention too): alerts
            # carry it as a link, not as text, to receivers not cleared for it
            summary[HEALTH_FLAG] = True
        if cell["first"] is None or summary["at"] < cell["first"]["at"]:
            cell["first"] = summary
        top = [t for t in cell["top"] if t["id"] != mention.id] + [summary]
        cell["top"] = sorted(top, key=lambda t: t["reach"], reverse=True)[:TOP_N]
        _count_author(cell.setdefault("ta", []), mention)
    return True


def _count_author(top: list[dict[str, Any]], mention: Any) -> None:
    """Keep the bucket's TOP_N authors by audience (followers), with their mention counts.

    Bounded on purpose (TOP_N entries, not one per author): an author's audience does not depend
    on how often they post, so an author who is not among the largest on their first mention in
    the bucket never becomes one later, and nothing else needs remembering.
    """
    author = mention.author
    for entry in top:
        if entry["id"] == author.id:
            entry["mentions"] += 1
            entry["followers"] = max(entry["followers"], mention.reach)
            break
    else:
        top.append(
            {
                "id": author.id,
                "handle": author.handle,
                "kind": author.kind,
                "verified": author.verified,
                "followers": mention.reach,
                "mentions": 1,
            }
        )
    top.sort(key=lambda a: (-a["followers"], -a["mentions"], a["id"]))
    del top[TOP_N:]


def close_due(
    state: dict[str, Any],
    brand: str,
    topics: tuple[str, ...],
    width: int,
    lateness: int,
    limit: int | None = None,
) -> list[Bucket]:
    """Buckets whose end + lateness is behind the watermark, oldest first, zeros filled in.

    ``limit`` is the event time every active raw partition has reached
    (:meth:`~pipeline.counting.watermarks.RawWatermarks.low`): a bucket waits for it too.
    """
    closed = state.get("closed")
    if closed is None:
        return []
    wm = int(state["wm"]) if limit is None else min(int(state["wm"]), limit)
    last_closable = closable_through(wm, width, lateness)
    out: list[Bucket] = []
    start = int(closed) + width
    if (last_closable - start) // width > MAX_GAP_BUCKETS:
        start = last_closable - MAX_GAP_BUCKETS * width
    open_slots: dict[str, Any] = state.get("open", {})
    while start <= last_closable:
        slot = open_slots.pop(str(start), {})
        begin = datetime.fromtimestamp(start, UTC)
        end = datetime.fromtimestamp(start + width, UTC)
        for topic in topics:
            out.append(bucket_of(brand, topic, begin, end, slot.get(topic)))
        state["closed"] = start
        start += width
    # Slots older than the closed mark can only be leftovers of a capped gap: drop them.
    for key in [k for k in open_slots if int(k) <= int(state["closed"])]:
        del open_slots[key]
    return out


@dataclass
class PartitionClock:
    """Event time on one ``mentions.classified`` partition of this worker, and its brands.

    In memory only: the brands are re-read from the table (each brand's state records its
    partition) the first time the partition is seen after a start, and the watermark catches up
    with the next mention.
    """

    #: brand -> when (monotonic clock) its last mention reached this worker
    last_seen: dict[str, float] = field(default_factory=dict)
    watermark: int = 0
    swept: int | None = None  # the closable bucket index the last sweep ran for
    #: event time per raw partition feeding this partition (what every bucket waits for)
    raw: RawWatermarks = field(default_factory=RawWatermarks)
    #: brands with a bucket their own watermark would close but a lagging raw partition holds
    held: set[str] = field(default_factory=set)
    released: int | None = None  # the last closable bucket held brands were released up to


def partition_clocks() -> dict[int, PartitionClock]:
    """This worker's partition clocks (per-worker state in ``services.extra()``)."""
    clocks: dict[int, PartitionClock] | None = services.extra().get("partition_clocks")
    if clocks is None:
        clocks = services.extra()["partition_clocks"] = {}
    return clocks


def partition_clock(partition: int) -> PartitionClock:
    clocks = partition_clocks()
    clock = clocks.get(partition)
    if clock is None:
        clock = clocks[partition] = PartitionClock()
        now = time.monotonic()  # unknown after a start: count the quiet time from now
        for key, value in open_buckets.items():
            if value.get("p") == partition:
                clock.last_seen[str(key)] = now
                clock.raw.restore(value.get("rt") or {}, now)
                clock.held.add(str(key))  # looked at once: it may have been held when stored
    return clock


def is_held(state: dict[str, Any], limit: int | None, width: int, lateness: int) -> bool:
    """True when the brand's own watermark would close a bucket that ``limit`` keeps open."""
    if limit is None or "wm" not in state or state.get("closed") is None or limit >= state["wm"]:
        return False
    own = closable_through(int(state["wm"]), width, lateness)
    return own > max(int(state["closed"]), closable_through(limit, width, lateness))


def quiet_mark(partition_wm: int, width: int) -> int:
    """The watermark a quiet brand is advanced to: its partition's, less one bucket of grace.

    The grace keeps a brand whose mentions merely trail the others' (they share ingest, so by
    seconds) from being swept when it goes wall-clock quiet just after a burst of mentions.
    """
    return partition_wm - width


class BatchStates:
    """The brands' states touched by one batch, read once from the table and written back once.

    ``store`` writes each to the changelog partition it belongs to: the partition of the
    ``mentions.classified`` partition its mentions came from (the stream's key is the brand, so
    state and stream are co-partitioned and a recovering worker finds the state where the stream
    is). The table is memory-backed (Faust's default store), whose ``data`` is keyed by brand alone.
    """

    def __init__(self) -> None:
        self._states: dict[str, dict[str, Any]] = {}
        self._partitions: dict[str, int] = {}
        self.detectors = Detectors()

    def get(self, brand: str) -> dict[str, Any]:
        state = self._states.get(brand)
        if state is None:
            state = self._states[brand] = dict(open_buckets.get(brand) or {})
        return state

    def put(self, brand: str, partition: int, state: dict[str, Any]) -> None:
        self._states[brand] = state
        self._partitions[brand] = partition

    def store(self) -> None:
        """Write every state put since the last store, then start the next batch empty."""
        clocks = partition_clocks()
        for brand, partition in self._partitions.items():
            state = self._states[brand]
            self.detectors.save_into(brand, state)
            clock = clocks.get(partition)
            if clock is not None and clock.raw.times:
                state["rt"] = clock.raw.stored()  # what a restarted worker waits for
            open_buckets.send_changelog(partition, brand, state)
            open_buckets.data[brand] = state
        self._states.clear()
        self._partitions.clear()
        self.detectors.clear()


async def close_and_send(
    state: dict[str, Any],
    brand: str,
    topics: tuple[str, ...],
    detectors: Detectors,
    limit: int | None = None,
) -> int:
    """Close the brand's due buckets, send them and judge each; the number closed.

    The caller stores the state afterwards (:meth:`BatchStates.store`): closed buckets, signals
    and alert steps go out before the state that marks them closed, so if the worker dies in
    between a bucket comes out twice (its detector, stored with it, replays the same decision),
    never zero times.
    """
    cfg = services.settings()
    due = close_due(state, brand, topics, cfg.bucket_seconds, cfg.allowed_lateness_s, limit)
    for bucket in due:
        await buckets.send(key=bucket.series_key, value=bucket)
        await judge_closed(state, bucket, detectors)
    if due:
        metrics = services.metrics()
        metrics.buckets_closed.inc(len(due))
        metrics.messages_out.labels(AGENT).inc(len(due))
    return len(due)


async def sweep_quiet_brands(
    partition: int, topics: tuple[str, ...], states: BatchStates, limit: int | None = None
) -> int:
    """Advance the partition's quiet brands to its event time and close their due buckets.

    A bucket used to close only on the brand's own next mention, so a brand whose crisis died
    down kept its last buckets open and its alert firing until someone mentioned it again. A
    brand is *quiet* when no mention of it reached this worker for ``quiet_close_after_s`` of
    wall-clock time while the brands sharing its partition carried event time on: in live
    traffic event time follows the wall clock, so its empty buckets are then as final as
    anyone's. The wall-clock condition is what keeps a replay or backfill safe: there one
    brand's mentions can trail another's by hours of event time while both arrive every second,
    and sweeping on event time alone would count the trailing brand's mentions as late.
    Runs once per closable bucket of partition event time, and writes only brands of the
    current partition (their changelog partition is the current event's). A partition where no
    brand speaks still waits. A lagging raw partition (``limit``) holds a quiet brand's buckets
    as it holds everyone's.
    """
    clock = partition_clocks()[partition]
    cfg = services.settings()
    width = cfg.bucket_seconds
    mark = quiet_mark(clock.watermark, width)
    closable = (mark - cfg.allowed_lateness_s) // width  # what a sweep at ``mark`` can close
    if clock.swept is not None and closable <= clock.swept:
        return 0
    clock.swept = closable
    closed = 0
    now = time.monotonic()
    for brand, seen in sorted(clock.last_seen.items()):
        if now - seen < cfg.quiet_close_after_s:
            continue
        state = states.get(brand)
        if "wm" not in state or int(state["wm"]) >= mark:
            continue
        state["wm"] = mark
        closed += await close_and_send(state, brand, topics, states.detectors, limit)
        if is_held(state, limit, width, cfg.allowed_lateness_s):
            clock.held.add(brand)
        states.put(brand, partition, state)
    return closed


async def release_held(
    clock: PartitionClock,
    partition: int,
    topics: tuple[str, ...],
    states: BatchStates,
    limit: int | None,
) -> int:
    """Close what the partition's held brands may close now that its raw partitions moved on.

    A held brand's bucket would otherwise wait for the brand's own next mention. Runs once per
    closable bucket of ``limit`` (and whenever every raw partition is idle).
    """
    if not clock.held:
        return 0
    cfg = services.settings()
    width, lateness = cfg.bucket_seconds, cfg.allowed_lateness_s
    mark = None if limit is None else closable_through(limit, width, lateness)
    if mark is not None and clock.released is not None and mark <= clock.released:
        return 0
    clock.released = mark
    closed = 0
    for brand in sorted(clock.held):
        state = states.get(brand)
        done = await close_and_send(state, brand, topics, states.detectors, limit)
        if done:
            closed += done
            states.put(brand, partition, state)
        if not is_held(state, limit, width, lateness):
            clock.held.discard(brand)
    return closed


async def count_event(
    event: EventT[ClassifiedMention], topics: tuple[str, ...], states: BatchStates
) -> None:
    """Count one classified mention into its brand's state (in ``states``; stored by the caller)."""
    metrics = services.metrics()
    cfg = services.settings()
    item = cast(ClassifiedMention, event.value)
    partition = event.message.partition
    brand = item.mention.brand
    state = states.get(brand)
    clock = partition_clock(partition)
    now = time.monotonic()
    if item.mention.raw_partition is not None:  # None: not written by classify, nothing to wait for
        clock.raw.saw(item.mention.raw_partition, int(item.mention.created_at.timestamp()), now)
    limit = clock.raw.low(now, cfg.raw_idle_after_s)  # None: every raw partition is idle
    if already_counted(state, item.mention):
        metrics.recounts_skipped.inc()
        await release_held(clock, partition, topics, states, limit)
        return
    mark_counted(state, item.mention)
    counted = add_mention(state, item, topics, cfg.bucket_seconds)
    if not counted:
        metrics.late_mentions.inc()
    state["p"] = partition
    clock.last_seen[brand] = now
    clock.watermark = max(clock.watermark, int(state.get("wm", 0)))
    await close_and_send(state, brand, topics, states.detectors, limit)
    if is_held(state, limit, cfg.bucket_seconds, cfg.allowed_lateness_s):
        clock.held.add(brand)
    if counted:
        await judge_filling(state, item, topics, cfg.bucket_seconds, states.detectors)
    states.put(brand, partition, state)
    await release_held(clock, partition, topics, states, limit)
    await sweep_quiet_brands(partition, topics, states, limit)
