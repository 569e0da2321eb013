"""Retention per topic, as the broker holds it (``describe_configs``), on a real broker.

Topics holding mention text and authors are kept ``TOCSIN_MENTIONS_RETENTION_DAYS``; the audit
log and the delivery dead letters are kept without limit; the rest keep the broker's default. A
changed setting reaches topics that already exist, and only ``retention.ms`` changes on them.
"""

from __future__ import annotations

import pytest
from kafka import KafkaAdminClient

from pipeline.ops.topics import ensure_topics, topic_configs
from pipeline.topology import DAY_MS, owned_topics
from tests.kafka_fixture import FreshNames, KafkaBroker

pytestmark = pytest.mark.integration

PERSONAL = (
    "mentions.raw",
    "mentions.dlq",
    "mentions.classified",
    "mentions.buckets",
    "alerts",
    "privacy.erasures",
)


def held(bootstrap: str, names: list[str]) -> dict[str, dict[str, str]]:
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10_000)
    try:
        return topic_configs(admin, names)
    finally:
        admin.close()


def test_retention_is_set_at_creation_and_follows_the_setting(
    kafka_broker: KafkaBroker, fresh_topics: FreshNames
) -> None:
    week = fresh_topics.specs(owned_topics(7))
    names = [s.name for s in week]
    created = ensure_topics(kafka_broker.bootstrap, week, timeout_s=60)
    assert sorted(created.created) == sorted(names) and created.retention_set == ()

    configs = held(kafka_broker.bootstrap, names)
    topic = fresh_topics.topic
    for name in PERSONAL:
        assert configs[topic(name)]["retention.ms"] == str(7 * DAY_MS), name
    for name in ("responses.audit", "alerts.deliveries.dlq"):
        assert configs[topic(name)]["retention.ms"] == "-1", name
    for name in ("signals", "alerts.deliveries", "responses.decisions"):
        assert "retention.ms" not in configs[topic(name)], name  # the broker's default
    assert configs[topic("tocsin-open_buckets-changelog")]["cleanup.policy"] == "compact"
    raw_bytes = configs[topic("mentions.raw")]["max.message.bytes"]

    # an operator changes TOCSIN_MENTIONS_RETENTION_DAYS and runs `tocsin topics create` again
    month = fresh_topics.specs(owned_topics(30))
    again = ensure_topics(kafka_broker.bootstrap, month, timeout_s=60)
    assert again.created == ()
    assert sorted(again.retention_set) == sorted(topic(n) for n in PERSONAL)
    configs = held(kafka_broker.bootstrap, names)
    for name in PERSONAL:
        assert configs[topic(name)]["retention.ms"] == str(30 * DAY_MS), name
    assert configs[topic("mentions.raw")]["max.message.bytes"] == raw_bytes  # left alone
    assert configs[topic("responses.audit")]["retention.ms"] == "-1"
    # and once aligned, nothing more to set
    assert ensure_topics(kafka_broker.bootstrap, month, timeout_s=60).retention_set == ()
