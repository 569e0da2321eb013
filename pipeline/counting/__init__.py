"""Counting: classified mentions into event-time buckets per brand and topic, with per-partition
watermarks that close filling buckets (the domain code the ``count_mentions`` agent calls)."""
